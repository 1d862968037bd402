package delivery

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"

	"github.com/liquidhook/webhook"
)

// PageOptions filters and pages Page. The zero value gives the newest 50
// deliveries.
type PageOptions struct {
	// States keeps deliveries in any of these states. Empty keeps all.
	States []State

	// Host keeps deliveries whose request goes to this host or one of its
	// subdomains ("example.com" keeps hooks.example.com): the host of the
	// URL rendered from the delivery's action and current data, compared
	// without regard to case. With a port ("api.example.com:8443") the
	// port must match too; a URL may be given, for its host. The
	// database cannot filter on it (a URL is a template, often filled from
	// data), so Page renders each candidate, and looks at no more than
	// 1,000 of them per call.
	Host string

	// Metadata keeps deliveries whose metadata holds every one of these
	// keys with exactly this value.
	Metadata map[string]string

	// IdempotencyKey keeps the delivery sent under this key.
	IdempotencyKey string

	// Before keeps deliveries whose ID is smaller: pass the Before of the
	// previous Page. Zero starts from the newest.
	Before int64

	// Limit caps how many are returned. Defaults to 50; at most 1,000.
	Limit int
}

// Page is one page of the delivery log, newest first.
type Page struct {
	// Deliveries are the deliveries that matched, newest first, each with
	// its attempts.
	Deliveries []*Delivery

	// Before is the cursor of the next, older page: pass it as
	// PageOptions.Before. It is zero when no older delivery is left to look
	// at. A Host filter that looked at its 1,000 deliveries before the page
	// was full returns fewer (maybe none) and a Before to go on from.
	Before int64
}

// Default size of a Page, and how many deliveries a Host filter looks at.
const (
	pageDefaultLimit = 50
	pageMaxScan      = 1000
)

// Page returns deliveries newest first, filtered, each with its attempts:
// the delivery log as a person browses it. Unlike List, whose cursor moves
// from the oldest on, it starts from the newest and pages back.
func (q *Queue) Page(ctx context.Context, opts *PageOptions) (*Page, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &PageOptions{}
	}
	match, err := hostMatcher(opts.Host)
	if err != nil {
		return nil, err
	}
	where, args, err := q.filterWhere(opts.States, opts.Metadata)
	if err != nil {
		return nil, err
	}
	if opts.IdempotencyKey != "" {
		where = append(where, "idempotency_key = ?")
		args = append(args, opts.IdempotencyKey)
	}
	where = append(where, "id < ?")
	limit := opts.Limit
	if limit <= 0 {
		limit = pageDefaultLimit
	}
	limit = min(limit, listMaxLimit)
	query := `SELECT ` + deliveryColumns + ` FROM liquidhook_delivery
WHERE ` + strings.Join(where, " AND ") + ` ORDER BY id DESC LIMIT ?`

	cursor := opts.Before
	if cursor <= 0 {
		cursor = math.MaxInt64
	}
	page := &Page{}
	var kept []*Delivery
scan:
	for scanned := 0; ; {
		// One more than the page holds tells whether an older one is left.
		rs, err := q.s.db().query(ctx, query, append(args, cursor, limit+1)...)
		if err != nil {
			return nil, fmt.Errorf("delivery: page: %w", err)
		}
		batch, err := scanDeliveries(q.keys(), rs)
		if err != nil {
			if errors.As(err, new(*SealError)) || errors.Is(err, ErrSealKey) {
				return nil, err
			}
			return nil, fmt.Errorf("delivery: page: %w", err)
		}
		seen := 0
		for _, d := range batch {
			seen++
			scanned++
			cursor = d.ID
			if match == nil || match(q.destination(d)) {
				kept = append(kept, d)
			}
			if len(kept) > limit || scanned == pageMaxScan {
				break
			}
		}
		switch {
		case len(kept) > limit:
			kept = kept[:limit]
			page.Before = kept[limit-1].ID
			break scan
		case seen == len(batch) && len(batch) <= limit:
			break scan // every older delivery has been looked at
		case scanned >= pageMaxScan:
			page.Before = cursor
			break scan
		}
	}
	if err := q.complete(ctx, kept); err != nil {
		return nil, err
	}
	page.Deliveries = kept
	if page.Deliveries == nil {
		page.Deliveries = []*Delivery{}
	}
	return page, nil
}

// Counts returns how many deliveries the log holds in each state; a state
// that none is in has no entry.
func (q *Queue) Counts(ctx context.Context) (map[State]int, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	rs, err := q.s.db().query(ctx, `SELECT state, count(*) FROM liquidhook_delivery GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("delivery: counts: %w", err)
	}
	defer rs.Close()
	out := make(map[State]int)
	for rs.Next() {
		var (
			state string
			n     int
		)
		if err := rs.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("delivery: counts: %w", err)
		}
		out[State(state)] = n
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("delivery: counts: %w", err)
	}
	return out, nil
}

// request renders the request that d's next attempt sends, from its stored
// action and data, as a worker renders it (less the signature, which each
// attempt adds afresh).
func (q *Queue) request(d *Delivery) (*webhook.Request, error) {
	spec, err := encodeSpec(d.Spec)
	if err != nil {
		return nil, err
	}
	action, err := q.actions.get(q.Compiler, d.Lax, spec)
	if err != nil {
		return nil, err
	}
	req, err := action.Render(d.Data)
	if err != nil {
		return nil, err
	}
	req.IdempotencyKey = d.IdempotencyKey
	return req, nil
}

// destination returns the URL d's request goes to, or nil when it cannot
// be rendered.
func (q *Queue) destination(d *Delivery) *url.URL {
	req, err := q.request(d)
	if err != nil {
		return nil
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil
	}
	return u
}

// hostMatcher returns a test of PageOptions.Host, or nil for an empty one.
func hostMatcher(filter string) (func(*url.URL) bool, error) {
	filter = strings.TrimSpace(filter)
	if filter == "" {
		return nil, nil
	}
	if strings.Contains(filter, "://") {
		u, err := url.Parse(filter)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%w: %q is not a host or a URL", ErrInvalidHost, webhook.RedactURL(filter))
		}
		filter = u.Host
	}
	host, port := filter, ""
	if h, p, err := net.SplitHostPort(filter); err == nil {
		host, port = h, p
	}
	host = strings.Trim(host, "[]")
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return nil, fmt.Errorf("%w: %q", ErrInvalidHost, filter)
	}
	host = strings.ToLower(host)
	return func(u *url.URL) bool {
		if u == nil {
			return false
		}
		h := strings.ToLower(u.Hostname())
		if h != host && !strings.HasSuffix(h, "."+host) {
			return false
		}
		return port == "" || port == urlPort(u)
	}, nil
}

// urlPort returns u's port, or its scheme's when the URL names none.
func urlPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// ErrInvalidHost is returned by Page for a Host filter that is neither a
// host (with or without a port) nor a URL.
var ErrInvalidHost = errors.New("delivery: invalid host filter")
