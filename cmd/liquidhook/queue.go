package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/delivery"
)

const queueUsage = `usage: liquidhook queue SUBCOMMAND [ID] [flags] --db DB

Durable delivery: deliveries are kept in DB, a SQLite file (created if
missing) or a postgres:// URL, and sent by "work", with retries that
outlive a restart. Flags may come before or after the ID. Without --db,
DB is read from LIQUIDHOOK_DB, which is where a database URL with a
password belongs: --db refuses one, since other users can read the
command line.

  add --action A.json --data D.json [--draft] [--lax]
        queue a delivery and print its id; an action whose sending is
        "draft" (the default) is held as a draft too; with --lax, a
        missing variable prints as empty instead of failing, on every
        attempt and re-send of the delivery (the default is strict). With
        --data people.jsonl (a name ending in .jsonl or .ndjson, or a file
        of several lines each a JSON object), queue one delivery per line,
        1,000 lines per transaction, and print one id a line; a bad line
        is named (file, line N, why), nothing of its batch is queued, and
        the command stops there (exit 2), the batches before it queued
  work [--until-idle] [--timeout 4s] [--retries 10] [--backoff 10.5s]
       [--allow-private] [--proxy URL] [--concurrency 100]
        send what is due, with progress on standard error, until
        interrupted; --until-idle stops once every delivery is delivered,
        failed, cancelled or a draft (exit 0 either way), deliveries
        waiting for a paused destination included. The policy and
        timeout apply to each attempt as it finishes. Several work
        processes may share one DB. The signing key is read from
        LIQUIDHOOK_SIGNING_KEY; --proxy (an HTTP proxy, which then checks
        the destinations) from LIQUIDHOOK_PROXY when absent. Progress
        says when a destination is slowed, paused or healthy again.
  list [--state S[,S...]] [--limit N] [--json]
        list deliveries, oldest first
  show ID [--json]
        one delivery with every attempt, oldest first, across re-sends
  release ID
        send a draft
  resend ID --data D.json
        send again with new data, re-rendered, with the same idempotency key
  cancel ID
        stop a draft or a scheduled delivery
  destinations [--json]
        each destination (scheme://host:port) with its state (healthy,
        slowed, paused, disabled), the success rate and mean latency of its
        attempts in the last minute or two, its failures in a row and the
        deliveries waiting for it
  resume DEST
        end a destination's pause (DEST as listed, or a URL): its waiting
        deliveries are queued again by the workers
  rekey
        seal every delivery again under the first key of LIQUIDHOOK_DB_KEY
        (deliveries written without a key, too), in batches, while work
        goes on; print how many changed. Run it again: it changes only
        what is not yet sealed under that key.
  ui [--addr 127.0.0.1:8025] [--read-only]
        serve the Sent tab, a web page over the delivery log, and print
        its URL (http://HOST:PORT/) as the first line of standard output;
        stop with an interrupt. Loopback addresses only, unless
        LIQUIDHOOK_UI_TOKEN holds a token (16 characters or more; put a
        TLS proxy in front): then every address, and a browser logs in
        with the token once (a cookie), a script sends
        "Authorization: Bearer TOKEN". --read-only hides the forms and
        refuses changes.

Sealing: LIQUIDHOOK_DB_KEY holds one or more base64-encoded 32-byte keys,
comma-separated (make one with: head -c 32 /dev/urandom | base64). The
first seals what is written; all of them open what they sealed, so a key
is rotated by putting a new one first, running rekey, then dropping the
old one. With it, what the log keeps that is secret or personal (the
action, with its URL and headers; the data; each response excerpt; the
mapped attributes; error texts) is sealed with AES-256-GCM. States, times,
attempt numbers, statuses, error classes, idempotency keys and metadata
stay readable. Without it nothing is sealed, and the commands say so once
on standard error. A wrong or missing key is an error that names the
delivery and changes nothing; a worker without the right key leaves such
deliveries as they are and says why. A SQLite file that queue creates,
and its -wal and -shm files, are readable by their owner only (0600); an
existing file keeps its mode.

--json prints objects with id, state (draft, scheduled, sending, delivered,
failed, cancelled), idempotency_key, attempts (durations in nanoseconds)
and attributes; list prints an array of them.

Destinations: a destination's deliveries share a worker's slots with
the others': one that fails or times out gets fewer, and while others
wait none holds more than its share. After 10 failures in a row
(connection errors, timeouts, 5xx) a destination is paused for every
worker on the DB: its deliveries wait without spending attempts (show
says so), and after 30 seconds, doubling up to 10 minutes, one probe
delivery is sent; its success ends the pause.

Exit status: 0 success (ui: stopped by an interrupt); 1 work or ui
stopped by an error, such as a database that fails; 2 bad input, or an
impossible operation (an unknown id or destination, cancelling a
delivered delivery), which changes nothing.
`

// envQueueDB names the variable that may hold --db.
const envQueueDB = "LIQUIDHOOK_DB"

// envDBKey names the variable that holds the keys that seal the log.
const envDBKey = "LIQUIDHOOK_DB_KEY"

type queueCommand struct {
	name string
	// arg is the subcommand's argument: none, a delivery id or a
	// destination.
	arg queueArg
	// check refuses a wrong command line and reads the files it names
	// before the database is opened, so that bad input creates no SQLite
	// file and contacts no server; nil when there is nothing to check.
	check func(c *queueCall) error
	run   func(ctx context.Context, e *env, q *delivery.Queue, c *queueCall) error
}

// queueArg is what a queue subcommand takes as its argument.
type queueArg int

const (
	argNone queueArg = iota
	argID
	argDestination
)

// queueCall is one parsed queue command line, with what its check read.
type queueCall struct {
	id     int64
	dest   string // resume: the destination
	f      *queueFlags
	action *webhook.Action  // add: the compiled action file
	data   map[string]any   // add, resend: the data file
	lines  bool             // add: the data file holds a JSON object a line
	states []delivery.State // list: the states asked for, if any
	getenv func(string) string
}

var queueCommands = []queueCommand{
	{"add", argNone, queueCheckAdd, queueAdd},
	{"work", argNone, queueCheckWork, queueWork},
	{"list", argNone, queueCheckList, queueList},
	{"show", argID, nil, queueShow},
	{"release", argID, nil, queueRelease},
	{"resend", argID, queueCheckResend, queueResend},
	{"cancel", argID, nil, queueCancel},
	{"destinations", argNone, nil, queueDestinations},
	{"resume", argDestination, nil, queueResume},
	{"rekey", argNone, nil, queueRekey},
	{"ui", argNone, queueCheckUI, queueUI},
}

// queueNames lists the queue subcommands, in the order of queueCommands.
func queueNames() []string {
	names := make([]string, len(queueCommands))
	for i, c := range queueCommands {
		names[i] = c.name
	}
	return names
}

// queueFlags are the flags of every queue subcommand, registered on one
// set per call; each subcommand refuses those that are not its own.
type queueFlags struct {
	db           string
	action, data string
	draft        bool
	lax          bool
	untilIdle    bool
	senderFlags
	concurrency int
	state       string
	limit       int
	json        bool
	addr        string
	readOnly    bool
}

// queueOwnFlags lists the flags each subcommand accepts besides --db.
var queueOwnFlags = map[string][]string{
	"add":          {"action", "data", "draft", "lax"},
	"work":         {"until-idle", "timeout", "retries", "backoff", "allow-private", "proxy", "concurrency"},
	"list":         {"state", "limit", "json"},
	"show":         {"json"},
	"release":      nil,
	"resend":       {"data"},
	"cancel":       nil,
	"destinations": {"json"},
	"resume":       nil,
	"rekey":        nil,
	"ui":           {"addr", "read-only"},
}

// runQueue implements `liquidhook queue`.
func runQueue(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stderr, queueUsage)
		if len(args) == 0 {
			return silent(exitBadInput)
		}
		return silent(exitOK)
	}
	var cmd *queueCommand
	for i := range queueCommands {
		if queueCommands[i].name == args[0] {
			cmd = &queueCommands[i]
		}
	}
	if cmd == nil {
		names := queueNames()
		return badInput("unknown subcommand %s: want %s or %s (see liquidhook queue --help)", quoted(args[0]),
			strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
	}
	call, err := parseQueueArgs(cmd, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stderr, queueUsage)
			return silent(exitOK)
		}
		return err
	}
	if dbPassword(call.f.db) {
		return badInput("--db: a password does not belong on the command line, where other users can see it: set %s instead", envQueueDB)
	}
	if call.f.db == "" {
		call.f.db = e.getenv(envQueueDB)
	}
	if call.f.db == "" {
		return badInput("--db is required (or %s): a SQLite file or a postgres:// URL", envQueueDB)
	}
	call.getenv = e.getenv
	if cmd.check != nil {
		if err := cmd.check(call); err != nil {
			return err
		}
	}
	keys, err := queueKeys(e, cmd.name)
	if err != nil {
		return err
	}
	q, err := delivery.Open(ctx, call.f.db)
	if err != nil {
		return badInput("--db: %v", err)
	}
	defer q.Close()
	if keys == nil {
		fmt.Fprintf(e.stderr, "liquidhook queue: the delivery log is not sealed: set %s to seal secrets and personal data at rest (see liquidhook queue --help)\n", envDBKey)
	}
	q.Keys = keys
	return cmd.run(ctx, e, q, call)
}

// dbPassword reports whether db is a database URL that holds a password,
// in its userinfo or its query.
func dbPassword(db string) bool {
	if !strings.Contains(db, "://") {
		return false
	}
	u, err := url.Parse(db)
	if err != nil {
		return false // refused when opened, without being quoted
	}
	_, inUserinfo := u.User.Password()
	return inUserinfo || u.Query().Has("password")
}

// queueKeys reads the sealing keys from LIQUIDHOOK_DB_KEY, or returns none
// when it is unset; rekey needs them.
func queueKeys(e *env, cmd string) ([][]byte, error) {
	v := e.getenv(envDBKey)
	if v == "" {
		if cmd == "rekey" {
			return nil, badInput("%s is not set: rekey seals under its first key", envDBKey)
		}
		return nil, nil
	}
	keys, err := delivery.ParseKeys(v)
	if err != nil {
		return nil, badInput("%s: %v", envDBKey, err)
	}
	return keys, nil
}

func queueRekey(ctx context.Context, e *env, q *delivery.Queue, _ *queueCall) error {
	n, err := q.Rekey(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d deliveries sealed again under the first key\n", n)
	return nil
}

// parseQueueArgs parses flags before and after the ID.
func parseQueueArgs(cmd *queueCommand, args []string) (*queueCall, error) {
	f := &queueFlags{}
	fs := flag.NewFlagSet("queue "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.db, "db", "", "a SQLite file or a postgres:// URL")
	fs.StringVar(&f.action, "action", "", "the action file")
	fs.StringVar(&f.data, "data", "", "the data file")
	fs.BoolVar(&f.draft, "draft", false, "hold as a draft")
	fs.BoolVar(&f.lax, "lax", false, "print a missing variable as empty instead of failing")
	fs.BoolVar(&f.untilIdle, "until-idle", false, "stop once idle")
	f.senderFlags.register(fs)
	fs.IntVar(&f.concurrency, "concurrency", 100, "attempts in flight at once")
	fs.StringVar(&f.state, "state", "", "states to list, comma-separated")
	fs.IntVar(&f.limit, "limit", 100, "how many to list")
	fs.BoolVar(&f.json, "json", false, "print JSON")
	fs.StringVar(&f.addr, "addr", uiDefaultAddr, "the address to serve the Sent tab on")
	fs.BoolVar(&f.readOnly, "read-only", false, "hide the forms and refuse changes")

	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, badInput("%v (see liquidhook queue --help)", err)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	own := map[string]bool{"db": true}
	for _, name := range queueOwnFlags[cmd.name] {
		own[name] = true
	}
	var foreign []string
	fs.Visit(func(fl *flag.Flag) {
		if !own[fl.Name] {
			foreign = append(foreign, "--"+fl.Name)
		}
	})
	if len(foreign) > 0 {
		return nil, badInput("%s does not take %s (see liquidhook queue --help)", cmd.name, strings.Join(foreign, ", "))
	}

	call := &queueCall{f: f}
	switch {
	case cmd.arg == argID && len(positional) == 0:
		return nil, badInput("%s needs a delivery ID (see liquidhook queue --help)", cmd.name)
	case cmd.arg == argDestination && len(positional) == 0:
		return nil, badInput("%s needs a destination, such as https://api.example.com:443 (see liquidhook queue --help)", cmd.name)
	case cmd.arg == argNone && len(positional) > 0, len(positional) > 1:
		return nil, badInput("unexpected argument %s (see liquidhook queue --help)", quoted(positional[len(positional)-1]))
	case cmd.arg == argID:
		id, err := strconv.ParseInt(positional[0], 10, 64)
		if err != nil || id <= 0 {
			return nil, badInput("delivery ID %s: want a positive integer", quoted(positional[0]))
		}
		call.id = id
	case cmd.arg == argDestination:
		call.dest = positional[0]
	}
	return call, nil
}

// queueImpossible turns the errors of an operation the delivery's state does
// not allow, or an unknown id, into bad input (exit 2).
func queueImpossible(err error) error {
	if errors.Is(err, delivery.ErrNotFound) || errors.Is(err, delivery.ErrWrongState) {
		return badInput("%v", err)
	}
	return err
}

func queueCheckWork(c *queueCall) error {
	c.f.proxyFromEnv(c.getenv)
	if err := c.f.check(); err != nil {
		return err
	}
	if c.f.concurrency <= 0 || c.f.concurrency > maxConcurrency {
		return badInput("--concurrency %d: want 1 to %d", c.f.concurrency, maxConcurrency)
	}
	return nil
}

// maxConcurrency is the most --concurrency a worker can run with: it runs
// up to twice as many jobs as it has slots, and River runs at most 10,000
// jobs of a queue at once in one process.
const maxConcurrency = 5000

func queueWork(ctx context.Context, e *env, q *delivery.Queue, c *queueCall) error {
	f := c.f
	w := &delivery.Worker{
		Sender:        f.sender(e.getenv(envSigningKey)),
		Concurrency:   f.concurrency,
		OnAttempt:     queueProgress(e.stderr),
		OnDestination: destinationProgress(e.stderr),
		// Warnings and errors (a delivery sealed with a key this worker
		// lacks, a database that fails) go to standard error too; failed
		// attempts have their progress line already.
		Logger: slog.New(withoutAttempts{slog.NewTextHandler(e.stderr, &slog.HandlerOptions{
			Level: slog.LevelWarn,
			ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if len(groups) == 0 && a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		})}),
	}
	var err error
	if f.untilIdle {
		err = q.WorkUntilIdle(ctx, w)
	} else {
		err = q.Work(ctx, w)
	}
	if err != nil {
		return failed(err)
	}
	return nil
}

// withoutAttempts drops a Worker's records of attempts ("delivery: attempt"
// and "delivery: attempt failed"), which queueProgress shows.
type withoutAttempts struct{ slog.Handler }

func (h withoutAttempts) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "delivery: attempt") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h withoutAttempts) WithAttrs(attrs []slog.Attr) slog.Handler {
	return withoutAttempts{h.Handler.WithAttrs(attrs)}
}

func (h withoutAttempts) WithGroup(name string) slog.Handler {
	return withoutAttempts{h.Handler.WithGroup(name)}
}

// queueProgress prints one line per attempt.
func queueProgress(w io.Writer) func(d *delivery.Delivery, a delivery.Attempt) {
	var mu sync.Mutex // attempts finish concurrently
	return func(d *delivery.Delivery, a delivery.Attempt) {
		var b strings.Builder
		fmt.Fprintf(&b, "delivery %d: attempt %d", d.ID, a.Number)
		if d.Series > 1 {
			fmt.Fprintf(&b, " (re-send %d)", d.Series-1)
		}
		if a.Status != 0 {
			fmt.Fprintf(&b, ": %d", a.Status)
		}
		fmt.Fprintf(&b, " in %s: ", a.Duration.Round(time.Millisecond))
		switch d.State {
		case delivery.StateScheduled:
			fmt.Fprintf(&b, "%s; retry in %s", queueAttemptReason(a), a.Wait.Round(time.Millisecond))
		case delivery.StateFailed:
			fmt.Fprintf(&b, "%s; failed", queueAttemptReason(a))
		default:
			b.WriteString(string(d.State))
		}
		mu.Lock()
		fmt.Fprintln(w, oneLine(b.String()))
		mu.Unlock()
	}
}

// waitingText says why a delivery waits for its destination.
func waitingText(w *delivery.Waiting) string {
	switch w.Reason {
	case delivery.WaitPaused:
		return "its destination is paused until " + w.Until.UTC().Format(time.RFC3339) + ", when a probe is sent"
	case delivery.WaitDisabled:
		return "its destination is disabled: a worker fails it"
	}
	return "its destination was resumed: a worker queues it again"
}

func queueAttemptReason(a delivery.Attempt) string {
	if a.Error != "" {
		return strings.TrimPrefix(a.Error, "webhook: ")
	}
	return string(a.Class)
}

func queueCheckList(c *queueCall) error {
	f := c.f
	if f.limit <= 0 || f.limit > 1000 {
		return badInput("--limit %d: want 1 to 1000", f.limit)
	}
	if f.state == "" {
		return nil
	}
	for _, s := range strings.Split(f.state, ",") {
		st, err := delivery.ParseState(strings.TrimSpace(s))
		if err != nil {
			return badInput("--state: %v", strings.TrimPrefix(err.Error(), "delivery: "))
		}
		c.states = append(c.states, st)
	}
	return nil
}

func queueList(ctx context.Context, e *env, q *delivery.Queue, c *queueCall) error {
	f := c.f
	ds, err := q.List(ctx, &delivery.ListOptions{Limit: f.limit, States: c.states})
	if err != nil {
		return err
	}
	if f.json {
		out := make([]queueJSON, len(ds))
		for i, d := range ds {
			out[i] = newQueueJSON(d)
		}
		return writeJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tATTEMPTS\tUPDATED\tIDEMPOTENCY KEY\tLAST ERROR")
	for _, d := range ds {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.State, len(d.Attempts),
			d.UpdatedAt.Format(time.RFC3339), d.IdempotencyKey, truncate(oneLine(d.LastError), 60))
	}
	return tw.Flush()
}

func queueShow(ctx context.Context, e *env, q *delivery.Queue, c *queueCall) error {
	f := c.f
	d, err := q.Get(ctx, c.id)
	if err != nil {
		return queueImpossible(err)
	}
	if f.json {
		return writeJSON(e.stdout, newQueueJSON(d))
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%d\n", d.ID)
	fmt.Fprintf(tw, "state:\t%s\n", d.State)
	fmt.Fprintf(tw, "idempotency key:\t%s\n", d.IdempotencyKey)
	fmt.Fprintf(tw, "action:\t%s %s\n", strings.ToUpper(cmp.Or(d.Spec.Method, "POST")), queueRedactURL(d.Spec.URL))
	if d.Destination != "" {
		fmt.Fprintf(tw, "destination:\t%s\n", d.Destination)
	}
	fmt.Fprintf(tw, "created:\t%s\n", d.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "updated:\t%s\n", d.UpdatedAt.Format(time.RFC3339))
	if !d.NextAt.IsZero() {
		fmt.Fprintf(tw, "next attempt:\t%s\n", d.NextAt.Format(time.RFC3339))
	}
	if w := d.Waiting; w != nil {
		fmt.Fprintf(tw, "waiting:\t%s\n", waitingText(w))
	}
	if d.Series > 1 {
		fmt.Fprintf(tw, "re-sends:\t%d\n", d.Series-1)
	}
	if d.Conversion {
		fmt.Fprintf(tw, "conversion:\tallowed\n")
	}
	if d.Lax {
		fmt.Fprintf(tw, "missing variables:\tprinted as empty (lax)\n")
	}
	if len(d.Attributes) > 0 {
		b, _ := json.Marshal(d.Attributes)
		fmt.Fprintf(tw, "attributes:\t%s\n", b)
	}
	if d.LastError != "" {
		fmt.Fprintf(tw, "last error:\t%s\n", oneLine(d.LastError))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.Attempts) == 0 {
		fmt.Fprintln(e.stdout, "no attempts")
		return nil
	}
	fmt.Fprintln(e.stdout)
	tw = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIES\tATTEMPT\tSTART\tDURATION\tSTATUS\tOUTCOME\tWAIT")
	for _, a := range d.Attempts {
		status, outcome, wait := "-", "delivered", "-"
		if a.Status != 0 {
			status = strconv.Itoa(a.Status)
		}
		if a.Class != "" {
			outcome = truncate(oneLine(queueAttemptReason(a)), 60)
		}
		if a.Wait > 0 {
			wait = a.Wait.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", a.Series, a.Number, a.Start.Format(time.RFC3339Nano),
			a.Duration.Round(time.Millisecond), status, outcome, wait)
	}
	return tw.Flush()
}

func queueRelease(ctx context.Context, e *env, q *delivery.Queue, c *queueCall) error {
	d, err := q.Release(ctx, c.id)
	return queueChanged(e, d, err)
}

func queueCheckResend(c *queueCall) error {
	if c.f.data == "" {
		return badInput("--data is required: the current data (a JSON object)")
	}
	var err error
	c.data, err = loadData(c.f.data)
	return err
}

func queueResend(ctx context.Context, e *env, q *delivery.Queue, c *queueCall) error {
	f := c.f
	d, err := q.Resend(ctx, c.id, c.data)
	if err != nil {
		var te *webhook.TemplateError
		var be *webhook.BodyError
		if errors.As(err, &te) || errors.As(err, &be) {
			return fileError(f.data, err)
		}
	}
	return queueChanged(e, d, err)
}

func queueCancel(ctx context.Context, e *env, q *delivery.Queue, c *queueCall) error {
	d, err := q.Cancel(ctx, c.id)
	return queueChanged(e, d, err)
}

// queueChanged reports an operation on one delivery: its id and new state,
// or why the operation was impossible.
func queueChanged(e *env, d *delivery.Delivery, err error) error {
	if err != nil {
		return queueImpossible(err)
	}
	fmt.Fprintf(e.stdout, "%d %s\n", d.ID, d.State)
	return nil
}

// queueJSON is a delivery as --json prints it. Attributes is an object
// even before anything was mapped, as in send's result, so that a script
// never meets null there.
type queueJSON struct {
	*delivery.Delivery
	Attributes map[string]any     `json:"attributes"`
	Attempts   []queueAttemptJSON `json:"attempts"`
}

type queueAttemptJSON struct {
	delivery.Attempt
	Response string `json:"response,omitempty"`
}

func newQueueJSON(d *delivery.Delivery) queueJSON {
	out := queueJSON{Delivery: d, Attributes: d.Attributes, Attempts: make([]queueAttemptJSON, len(d.Attempts))}
	if out.Attributes == nil {
		out.Attributes = map[string]any{}
	}
	for i, a := range d.Attempts {
		out.Attempts[i] = queueAttemptJSON{Attempt: a, Response: string(a.Response)}
	}
	return out
}

// queueRedactURL shows an action's URL template without credentials or
// query: the template is not a URL yet, so its query cannot be redacted
// value by value, and it may hold a key (?token=...).
func queueRedactURL(u string) string {
	query := ""
	if q := strings.IndexByte(u, '?'); q >= 0 {
		u, query = u[:q], "?…"
	}
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		authority := rest
		if slash := strings.IndexByte(rest, '/'); slash >= 0 {
			authority = rest[:slash]
		}
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			u = u[:i+3] + "REDACTED@" + rest[at+1:]
		}
	}
	return u + query
}
