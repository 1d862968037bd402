package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// A destination is where a delivery's requests go: the scheme, host and
// port of the URL its action renders, as scheme://host:port. Deliveries to
// one destination share a worker's slots fairly with the others, and one
// circuit, kept in the delivery log (liquidhook_destination), that every
// worker on the database follows. A destination is not sealed: workers,
// the listing and resume read it without keys.

// DestinationState is how a destination stands, as Destinations reports
// it.
type DestinationState string

// The states of a destination.
const (
	// DestinationHealthy answers; its deliveries may use every slot of a
	// worker when nothing else waits.
	DestinationHealthy DestinationState = "healthy"
	// DestinationSlowed failed or timed out lately: workers give it fewer
	// slots, growing back as it answers again.
	DestinationSlowed DestinationState = "slowed"
	// DestinationPaused failed Circuit.Failures times in a row: its
	// deliveries wait, without spending attempts, while one probe delivery
	// at a time is sent after each cool-down. Resume ends the pause.
	DestinationPaused DestinationState = "paused"
	// DestinationDisabled kept failing for Circuit.DisableAfter: its
	// deliveries fail (ClassDisabled) until Resume.
	DestinationDisabled DestinationState = "disabled"
)

// Destination is one destination's circuit and recent attempts, as the
// delivery log holds them.
type Destination struct {
	// Destination is scheme://host:port, such as https://api.example.com:443.
	Destination string `json:"destination"`
	// State is healthy, slowed, paused or disabled.
	State DestinationState `json:"state"`
	// Attempts counts the attempts of the last minute or two (neither
	// waits nor probes left out), and SuccessRate is the share of them
	// that the destination answered without a 5xx, from 0 to 1; 0 when
	// there were none.
	Attempts    int     `json:"attempts"`
	SuccessRate float64 `json:"success_rate"`
	// Latency is their mean duration; 0 when there were none.
	Latency time.Duration `json:"latency"`
	// Failures counts the failures (connection errors, timeouts, 5xx) in a
	// row since the last success.
	Failures int `json:"failures"`
	// FailingSince is when those failures began; zero without failures.
	FailingSince time.Time `json:"failing_since,omitzero"`
	// LastClass and LastStatus describe the last failure.
	LastClass  string `json:"last_class,omitempty"`
	LastStatus int    `json:"last_status,omitempty"`
	// PausedUntil is when the next probe may go, while paused; Cooldown is
	// the pause's current length, which doubles with each failed probe up
	// to Circuit.MaxCooldown.
	PausedUntil time.Time     `json:"paused_until,omitzero"`
	Cooldown    time.Duration `json:"cooldown,omitempty"`
	// Slots is the fewest slots a worker gives it, while slowed.
	Slots int `json:"slots,omitempty"`
	// Waiting counts its deliveries held while it is paused or disabled.
	Waiting int `json:"waiting"`
	// UpdatedAt is when a worker last wrote the destination's row.
	UpdatedAt time.Time `json:"updated_at"`
}

// ErrUnknownDestination is returned by Resume for a destination the log
// does not hold, or that is not scheme://host:port or a URL.
var ErrUnknownDestination = errors.New("delivery: unknown destination")

// destinationOf returns the destination of a request to rawURL, as
// scheme://host:port in lower case with the scheme's port when the URL has
// none, or "" for a URL that names no host.
func destinationOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		default:
			return ""
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// Destinations lists every destination the log holds a row for (each one a
// worker has sent to), in order of name.
func (q *Queue) Destinations(ctx context.Context) ([]Destination, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	rows, err := loadDestinations(ctx, q.s.dialect(), q.s.db(), nil, false)
	if err != nil {
		return nil, fmt.Errorf("delivery: destinations: %w", err)
	}
	waiting, err := q.waitingByDestination(ctx)
	if err != nil {
		return nil, fmt.Errorf("delivery: destinations: %w", err)
	}
	now := q.now()
	out := make([]Destination, 0, len(rows))
	for _, row := range rows {
		d := row.public(now)
		d.Waiting = waiting[row.Name]
		out = append(out, d)
	}
	return out, nil
}

// waitingByDestination counts the deliveries held for each destination,
// through the index of held deliveries. (A delivery is held only while
// its destination has a row.)
func (q *Queue) waitingByDestination(ctx context.Context) (map[string]int, error) {
	rs, err := q.s.db().query(ctx, `SELECT c.destination, (SELECT count(*) FROM liquidhook_delivery AS d
	WHERE d.destination = c.destination AND d.state = 'scheduled' AND d.job_id IS NULL)
FROM liquidhook_destination AS c`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := map[string]int{}
	for rs.Next() {
		var (
			name string
			n    int
		)
		if err := rs.Scan(&name, &n); err != nil {
			return nil, err
		}
		out[name] = n
	}
	return out, rs.Err()
}

// Resume ends a destination's pause (or its being disabled): its circuit
// closes, its failures are forgotten (and that workers slowed it, until
// they say so again), and the deliveries held for it are
// queued again by the workers, a batch at a time, within a poll interval.
// A URL names its destination too. A destination that is not paused is
// left as it is; one the log does not hold returns an error matching
// ErrUnknownDestination. It returns the destination as it then stands.
func (q *Queue) Resume(ctx context.Context, destination string) (*Destination, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	name := destinationOf(destination)
	if name == "" {
		return nil, fmt.Errorf("%w %q: want scheme://host:port", ErrUnknownDestination, destination)
	}
	now := q.now()
	n, err := q.s.db().exec(ctx, `UPDATE liquidhook_destination
SET circuit = 'closed', failures = 0, failing_since = 0, cooldown = 0, paused_until = 0,
	probe_delivery = 0, probe_until = 0, slots = 0, slowed_until = 0, updated_at = ?
WHERE destination = ?`, toMicros(now), name)
	if err != nil {
		return nil, fmt.Errorf("delivery: resume %s: %w", name, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w %s", ErrUnknownDestination, name)
	}
	rows, err := loadDestinations(ctx, q.s.dialect(), q.s.db(), []string{name}, false)
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("delivery: resume %s: %w", name, cmp.Or(err, ErrUnknownDestination))
	}
	d := rows[0].public(now)
	err = q.s.db().queryRow(ctx, `SELECT count(*) FROM liquidhook_delivery
WHERE destination = ? AND state = 'scheduled' AND job_id IS NULL`, name).Scan(&d.Waiting)
	if err != nil {
		return nil, fmt.Errorf("delivery: resume %s: %w", name, err)
	}
	return &d, nil
}
