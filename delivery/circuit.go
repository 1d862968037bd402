package delivery

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/liquidhook/webhook"
)

// Circuit configures the circuit every destination has, shared by the
// workers on a database: after Failures failures in a row the destination
// is paused, and its deliveries wait without spending attempts; after a
// cool-down one probe delivery is sent; its success closes the circuit, its
// failure pauses the destination again for twice as long, up to
// MaxCooldown, and a 429 for as long again. Connection errors, timeouts and 5xx responses are failures;
// any other response but a 429 is a success; a 429 (which slows the
// destination down) and an attempt that was never sent (a render error, a
// refused address, a worker stopping) are neither. The zero
// value uses the defaults. Give every worker on a database the same
// settings: the worker that records an attempt applies its own.
type Circuit struct {
	// Failures is how many failures in a row pause a destination. Defaults
	// to 10.
	Failures int

	// Cooldown is how long a destination stays paused before its first
	// probe. Defaults to 30 seconds.
	Cooldown time.Duration

	// MaxCooldown caps the cool-down, which doubles after each failed
	// probe. Defaults to 10 minutes.
	MaxCooldown time.Duration

	// DisableAfter, if positive, disables a destination that has failed
	// for that long without a success in between: the deliveries waiting
	// for it, and any queued for it later, fail at once with an attempt of
	// class ClassDisabled, and OnFailed is called for each, until Resume.
	// Zero, the default, never disables a destination: its deliveries wait
	// for it however long it fails.
	DisableAfter time.Duration
}

// ClassDisabled marks the attempt with which a delivery to a disabled
// destination fails. Nothing was sent.
const ClassDisabled webhook.ErrorClass = "disabled"

// Defaults of Circuit.
const (
	defaultCircuitFailures    = 10
	defaultCircuitCooldown    = 30 * time.Second
	defaultCircuitMaxCooldown = 10 * time.Minute
)

func (c Circuit) failures() int {
	if c.Failures <= 0 {
		return defaultCircuitFailures
	}
	return c.Failures
}

func (c Circuit) cooldown() time.Duration {
	if c.Cooldown <= 0 {
		return defaultCircuitCooldown
	}
	return c.Cooldown
}

func (c Circuit) maxCooldown() time.Duration {
	if c.MaxCooldown <= 0 {
		return max(defaultCircuitMaxCooldown, c.cooldown())
	}
	return max(c.MaxCooldown, c.cooldown())
}

// verdict is what an attempt says of its destination.
type verdict int8

const (
	// neutral: the attempt says nothing (never sent, or cut short by the
	// worker).
	neutral verdict = iota
	// answered: a response other than 5xx (or 429) arrived.
	answered
	// failing: a connection error, a timeout or a 5xx.
	failing
	// throttled: a 429, which slows the destination down but does not
	// count towards a pause.
	throttled
)

// verdictOf judges an attempt's outcome for its destination.
func verdictOf(a Attempt) verdict {
	switch a.Class {
	case "", webhook.ClassTooLarge, webhook.ClassMapping, webhook.ClassRedirect:
		return answered
	case webhook.ClassTimeout, webhook.ClassConnection:
		return failing
	case webhook.ClassStatus:
		switch {
		case a.Status >= 500:
			return failing
		case a.Status == 429:
			return throttled
		}
		return answered
	}
	return neutral
}

// The states of a circuit, as liquidhook_destination.circuit holds them.
const (
	circuitClosed   = "closed"
	circuitOpen     = "open"
	circuitDisabled = "disabled"
)

// statsWindow is the length of the windows a destination's attempts are
// counted in: the recent ones are those of this window and the last.
const statsWindow = time.Minute

// destRow is one row of liquidhook_destination. Its JSON form, with the
// columns' names, is how rows are written back in one statement.
type destRow struct {
	Name          string `json:"destination"`
	Circuit       string `json:"circuit"`
	Failures      int    `json:"failures"`
	FailingSince  int64  `json:"failing_since"`
	LastClass     string `json:"last_class"`
	LastStatus    int    `json:"last_status"`
	Cooldown      int64  `json:"cooldown"`
	PausedUntil   int64  `json:"paused_until"`
	ProbeDelivery int64  `json:"probe_delivery"`
	ProbeUntil    int64  `json:"probe_until"`
	Slots         int    `json:"slots"`
	SlowedUntil   int64  `json:"slowed_until"`
	WindowStart   int64  `json:"window_start"`
	OK            int64  `json:"ok"`
	Failed        int64  `json:"failed"`
	Latency       int64  `json:"latency"`
	PrevOK        int64  `json:"prev_ok"`
	PrevFailed    int64  `json:"prev_failed"`
	PrevLatency   int64  `json:"prev_latency"`
	UpdatedAt     int64  `json:"updated_at"`
}

// destColumns are liquidhook_destination's columns, in destRow's order,
// and destTypes their PostgreSQL types.
var (
	destColumns = []string{"destination", "circuit", "failures", "failing_since", "last_class", "last_status",
		"cooldown", "paused_until", "probe_delivery", "probe_until", "slots", "slowed_until", "window_start",
		"ok", "failed", "latency", "prev_ok", "prev_failed", "prev_latency", "updated_at"}
	destTypes = []string{"text", "text", "int", "bigint", "text", "int", "bigint", "bigint", "bigint", "bigint",
		"int", "bigint", "bigint", "bigint", "bigint", "bigint", "bigint", "bigint", "bigint", "bigint"}
)

func (row *destRow) scan(s scanner) error {
	return s.Scan(&row.Name, &row.Circuit, &row.Failures, &row.FailingSince, &row.LastClass, &row.LastStatus,
		&row.Cooldown, &row.PausedUntil, &row.ProbeDelivery, &row.ProbeUntil, &row.Slots, &row.SlowedUntil,
		&row.WindowStart, &row.OK, &row.Failed, &row.Latency, &row.PrevOK, &row.PrevFailed, &row.PrevLatency,
		&row.UpdatedAt)
}

// record applies one attempt's verdict to the circuit: a success closes
// it, failures in a row open it, a probe's failure opens it again for
// longer, and a probe answered with a 429 for as long again, so that the
// next probe waits as this one did. Attempts that finish while the circuit is open, having started
// before it opened, count but change nothing else; a success among them
// closes it. probe says whether the attempt was the destination's probe.
func (row *destRow) record(v verdict, a Attempt, id int64, probe bool, now time.Time, c Circuit) {
	us := toMicros(now)
	probe = probe && row.ProbeDelivery == id
	if probe {
		row.ProbeDelivery, row.ProbeUntil = 0, 0
	}
	switch v {
	case answered:
		row.Failures, row.FailingSince = 0, 0
		if row.Circuit == circuitOpen {
			row.Circuit, row.Cooldown, row.PausedUntil = circuitClosed, 0, 0
			row.ProbeDelivery, row.ProbeUntil = 0, 0
		}
	case throttled:
		if probe && row.Circuit == circuitOpen {
			row.PausedUntil = us + time.Duration(row.Cooldown).Microseconds()
		}
	case failing:
		row.Failures++
		if row.FailingSince == 0 {
			row.FailingSince = toMicros(a.Start)
		}
		row.LastClass, row.LastStatus = string(a.Class), a.Status
		switch {
		case row.Circuit == circuitDisabled:
		case c.DisableAfter > 0 && us-row.FailingSince >= c.DisableAfter.Microseconds():
			row.Circuit, row.PausedUntil = circuitDisabled, 0
			row.ProbeDelivery, row.ProbeUntil = 0, 0
		case probe:
			row.Cooldown = int64(min(2*time.Duration(row.Cooldown), c.maxCooldown()))
			if row.Cooldown <= 0 {
				row.Cooldown = int64(c.cooldown())
			}
			row.PausedUntil = us + time.Duration(row.Cooldown).Microseconds()
		case row.Circuit == circuitClosed && row.Failures >= c.failures():
			row.Circuit, row.Cooldown = circuitOpen, int64(c.cooldown())
			row.PausedUntil = us + c.cooldown().Microseconds()
		}
	}
}

// count adds attempts to the recent ones: ok answered, failed did not,
// latency is their total duration.
func (row *destRow) count(ok, failed int64, latency time.Duration, now time.Time) {
	row.rotate(now)
	row.OK += ok
	row.Failed += failed
	row.Latency += int64(latency)
}

// rotate starts a new window when the current one has ended.
func (row *destRow) rotate(now time.Time) {
	us, w := toMicros(now), statsWindow.Microseconds()
	switch {
	case row.WindowStart == 0 || us-row.WindowStart >= 2*w:
		row.PrevOK, row.PrevFailed, row.PrevLatency = 0, 0, 0
	case us-row.WindowStart >= w:
		row.PrevOK, row.PrevFailed, row.PrevLatency = row.OK, row.Failed, row.Latency
	default:
		return
	}
	row.OK, row.Failed, row.Latency, row.WindowStart = 0, 0, 0, us
}

// state is the destination's state at now.
func (row *destRow) state(now time.Time) DestinationState {
	switch {
	case row.Circuit == circuitDisabled:
		return DestinationDisabled
	case row.Circuit == circuitOpen:
		return DestinationPaused
	case row.SlowedUntil > toMicros(now):
		return DestinationSlowed
	}
	return DestinationHealthy
}

// public returns the row as Destinations reports it at now.
func (row *destRow) public(now time.Time) Destination {
	r := *row
	r.rotate(now)
	d := Destination{
		Destination:  r.Name,
		State:        r.state(now),
		Failures:     r.Failures,
		FailingSince: fromMicros(r.FailingSince),
		LastClass:    r.LastClass,
		LastStatus:   r.LastStatus,
		UpdatedAt:    fromMicros(r.UpdatedAt),
	}
	if d.State == DestinationPaused {
		d.PausedUntil, d.Cooldown = fromMicros(r.PausedUntil), time.Duration(r.Cooldown)
	}
	if d.State == DestinationSlowed {
		d.Slots = r.Slots
	}
	ok, all := r.OK+r.PrevOK, r.OK+r.PrevOK+r.Failed+r.PrevFailed
	d.Attempts = int(all)
	if all > 0 {
		d.SuccessRate = float64(ok) / float64(all)
		d.Latency = time.Duration((r.Latency + r.PrevLatency) / all)
	}
	return d
}

// loadDestinations reads the rows of names (every row when names is nil),
// in order of name, locked until the transaction ends when lock is set
// (FOR UPDATE on PostgreSQL; on SQLite a transaction holds the write lock
// from its start).
func loadDestinations(ctx context.Context, d dialect, ex execer, names []string, lock bool) ([]*destRow, error) {
	q := `SELECT ` + strings.Join(destColumns, ", ") + ` FROM liquidhook_destination`
	var args []any
	if names != nil {
		q += ` WHERE destination ` + inList(d, "?")
		args = append(args, namesArg(d, names))
	}
	q += ` ORDER BY destination`
	if lock && d == dialectPostgres {
		q += ` FOR UPDATE`
	}
	return queryDestinations(ctx, ex, q, args...)
}

// loadTroubled reads the rows of destinations whose circuit is not closed
// or that are failing: what a worker must know before sending.
func loadTroubled(ctx context.Context, ex execer) ([]*destRow, error) {
	return queryDestinations(ctx, ex, `SELECT `+strings.Join(destColumns, ", ")+` FROM liquidhook_destination
WHERE circuit <> 'closed' OR failures > 0`)
}

// queryDestinations runs q, which selects destColumns, and reads its rows.
func queryDestinations(ctx context.Context, ex execer, q string, args ...any) ([]*destRow, error) {
	rs, err := ex.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*destRow
	for rs.Next() {
		row := &destRow{}
		if err := row.scan(rs); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rs.Err()
}

// inList returns "IN (...)" over the list that param holds: a JSON array
// on SQLite, a text array on PostgreSQL.
func inList(d dialect, param string) string {
	if d == dialectPostgres {
		return `= ANY(` + param + `::text[])`
	}
	return `IN (SELECT value FROM json_each(` + param + `))`
}

// namesArg returns names as inList's parameter.
func namesArg(d dialect, names []string) any {
	if d == dialectPostgres {
		return names
	}
	b, _ := json.Marshal(names) // a []string always encodes
	return string(b)
}

// updateDestinations applies fn to the rows of names, sorted, created
// when missing, locked, and writes them back, all within tx. It returns
// the rows as written.
func updateDestinations(ctx context.Context, d dialect, tx txn, names []string, now time.Time, fn func(row *destRow)) ([]*destRow, error) {
	if len(names) == 0 {
		return nil, nil
	}
	ensure := `INSERT INTO liquidhook_destination (destination, updated_at)
SELECT value, ? FROM json_each(?) WHERE true ON CONFLICT (destination) DO NOTHING`
	if d == dialectPostgres {
		ensure = `INSERT INTO liquidhook_destination (destination, updated_at)
SELECT unnest(?::text[]), ? ON CONFLICT (destination) DO NOTHING`
	}
	args := []any{toMicros(now), namesArg(d, names)}
	if d == dialectPostgres {
		args[0], args[1] = args[1], args[0]
	}
	if _, err := tx.exec(ctx, ensure, args...); err != nil {
		return nil, err
	}
	rows, err := loadDestinations(ctx, d, tx, names, true)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		fn(row)
		row.UpdatedAt = toMicros(now)
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return nil, err
	}
	_, err = tx.exec(ctx, storeDestinationsSQL(d), string(b))
	return rows, err
}

// storeDestinationsSQL writes back rows given as a JSON array of destRow.
func storeDestinationsSQL(d dialect) string {
	set := make([]string, 0, len(destColumns)-1)
	if d == dialectPostgres {
		defs := make([]string, len(destColumns))
		for i, c := range destColumns {
			defs[i] = c + " " + destTypes[i]
			if i > 0 {
				set = append(set, c+" = r."+c)
			}
		}
		return `UPDATE liquidhook_destination AS t SET ` + strings.Join(set, ", ") + `
FROM json_to_recordset(?::json) AS r(` + strings.Join(defs, ", ") + `)
WHERE t.destination = r.destination`
	}
	for _, c := range destColumns[1:] {
		set = append(set, c+" = r.value ->> '"+c+"'")
	}
	return `UPDATE liquidhook_destination SET ` + strings.Join(set, ", ") + `
FROM json_each(?) AS r WHERE liquidhook_destination.destination = r.value ->> 'destination'`
}
