// Package delivery sends webhook actions durably: queued in a database, sent
// by workers with retries that outlive restarts, kept in a delivery log.
// It does for a Go service what Customer.io's webhook action does around
// the request itself: drafts held until someone sends them, a "Sent tab"
// with every attempt, re-sends with current data, and a retry schedule of
// hours that a deploy does not cut short.
//
//	q, err := delivery.OpenSQLite(ctx, "deliveries.db") // or OpenPostgres(ctx, url)
//	if err != nil {
//		return err
//	}
//	defer q.Close()
//
//	d, err := q.Enqueue(ctx, action, data, nil) // a draft unless the action sends automatically
//	...
//	err = q.Work(ctx, &delivery.Worker{ // until ctx ends
//		Sender:      &webhook.Sender{Key: key},
//		OnDelivered: func(ctx context.Context, d *delivery.Delivery) error { ... d.Attributes ... },
//	})
//
// # Databases
//
// SQLite (OpenSQLite) is the default: one file, no server, pure Go. The
// file is used in WAL mode through a single connection with a busy
// timeout, so River's maintenance and the delivery log never lock each
// other out, and several processes may share it. PostgreSQL (OpenPostgres)
// has the same API, for many worker processes and machines. Both are
// migrated on open: River's tables and the log's (liquidhook_delivery,
// liquidhook_attempt, liquidhook_destination).
//
// # Guarantees
//
// The delivery log is the truth; River (github.com/riverqueue/river) only
// schedules. A River job carries nothing but a delivery's id, and every
// change to a delivery commits in the same transaction as the River jobs it
// implies: the first attempt's job with the delivery, the next attempt's
// with the record of the last one, a cancelled job with the cancellation.
// No transaction is held across an HTTP request.
//
// Each job run makes one attempt. Before the request goes out, the delivery
// is marked sending (and committed); after it, the attempt is recorded and
// the Worker's retry policy, given the attempt's number within its series,
// decides: delivered, failed, or scheduled for a later attempt, which River
// keeps across restarts. The policy and the attempt timeout are the
// Worker's, applied when each attempt finishes, whatever was in force when
// the delivery was queued.
//
// Delivery is at least once. A worker killed mid-request leaves its
// delivery marked sending; once the job has been running for longer than
// Worker.RescueAfter (by default the attempt timeout plus 40 seconds)
// River's rescuer hands it to another worker, which records the lost
// attempt (ClassInterrupted) and sends again, within a minute or two. Every
// attempt of a delivery, re-sends included, carries its idempotency key, so
// a receiver can recognise a duplicate. A job that runs after its delivery
// moved on (cancelled, re-sent, finished) does nothing.
//
// No delivery waits for a job that will never run. Should River end a
// delivery's job without its outcome recorded (it discards a job after 25
// runs that all failed, say with the database refusing every write, and an
// application may cancel a job through River), a worker fails the
// delivery when it starts or within a minute, saying why in its last
// error, and OnFailed is called as for any failure.
//
// A draft is never sent before Release. An operation the state does not
// allow (cancelling a delivered delivery, releasing a scheduled one) or an
// unknown id returns a *StateError or ErrNotFound and changes nothing.
//
// # Destinations
//
// A delivery's destination is the scheme, host and port of the URL its
// action renders (https://api.example.com:443). Destinations share a
// worker's slots (Worker.Concurrency) fairly: each has a limit that starts
// at a quarter of the slots, grows by one with each attempt it answers and
// halves when attempts fail or time out, and while other destinations'
// deliveries wait, none holds more than its share. A delivery held back
// waits, scheduled, and is tried again shortly: it spends no attempt and
// none of the retry policy. So a slow or broken endpoint keeps a few slots
// busy, not all of them, and the others' webhooks keep flowing.
//
// Each destination also has a circuit, kept in the log and followed by
// every worker on the database (Worker.Circuit): after a number of
// failures in a row (connection errors, timeouts, 5xx) it is paused. Its
// deliveries then wait in the log without a job, saying why (Waiting),
// however many there are; after a cool-down one probe delivery is sent;
// its success closes the circuit and the others are queued again, its
// failure pauses the destination again for twice as long, up to a cap.
// Destinations lists each destination's state and its recent attempts;
// Resume ends a pause. Optionally, a destination that keeps failing for a
// given time is disabled, and its deliveries fail (ClassDisabled).
//
// # Throughput
//
// Workers claim deliveries and record outcomes in batches: the attempts in
// flight share one claim statement and one transaction for their outcomes,
// so one SQLite connection, or a PostgreSQL server's commit rate, keeps up
// with many attempts at once. A worker claims deliveries ahead of its
// free slots and gives a slot back as soon as a response is in, so a slot
// does not wait for commits. The SQLite connection also keeps the
// statements it runs prepared: River and the log run the same few dozen
// SQL texts over and over, and parsing them afresh each time would be much
// of a worker's work.
//
// # Sealing
//
// With Queue.Keys set (32-byte keys; ParseKeys reads the form the CLI's
// LIQUIDHOOK_DB_KEY holds), what the log keeps that is secret or personal
// is sealed with AES-256-GCM before it reaches the database: each
// delivery's spec (its URL may hold a password, its headers tokens), data,
// mapped attributes and last error, and each attempt's error and response
// excerpt, every value bound to its delivery and field. Get, List, the
// workers and Resend open them transparently. Ids, states, times, attempt
// numbers, statuses, error classes, idempotency keys and metadata stay
// readable, for workers and filters, and so are destinations
// (scheme://host:port): keep secrets out of metadata. The
// first key seals and every key opens, so rotation is: put the new key
// first, run Rekey, drop the old key. A value that the keys do not open is
// a *SealError that names the delivery and changes nothing; a worker
// leaves such deliveries to one that holds their key. A SQLite file that
// OpenSQLite creates, and its -wal and -shm files, are private to their
// owner (0600).
//
// None of River's types appear in this package's API, so River can be
// upgraded or replaced without breaking its users.
//
// # The Sent tab
//
// NewHandler serves the log as web pages for people: the list, newest
// first (Page, Counts), and each delivery's page with its request, its
// attempts and the forms to release, re-send and cancel. It has no login:
// an application mounts it behind its own.
//
// # Observability
//
// A Worker reports through OpenTelemetry's API, to the global providers
// unless its TracerProvider and MeterProvider say otherwise. Each job run
// is a span named "delivery attempt", with liquidhook.delivery.id,
// liquidhook.idempotency_key, liquidhook.delivery.series and
// liquidhook.delivery.attempt (its number within the series), then
// liquidhook.delivery.state (the state it left the delivery in) and, when
// it failed, error.type and the status Error. The Sender's client span of
// the attempt (see the webhook package) is its child and carries the
// delivery's id, series and attempt number too. Every span of a delivery,
// across retries, workers, restarts and re-sends, is in one trace, whose
// id Delivery.TraceID gives: it is derived from the delivery's id and
// idempotency key, and its root is a remote parent, marked sampled, that
// no process records, so a tracing backend may show the root as
// missing. A ParentBased sampler keeps every delivery; to keep some,
// give it WithRemoteParentSampled(TraceIDRatioBased(fraction)), which
// keeps or drops each delivery's spans together. The worker's context
// does not parent them: a delivery's trace is its own.
//
// Metrics: liquidhook.deliveries, a counter of the deliveries a worker
// brought to a final state, by liquidhook.delivery.state (delivered or
// failed); liquidhook.delivery.lag, a histogram in seconds of how late
// attempts were sent after they fell due; and the Sender's
// liquidhook.attempts and liquidhook.attempt.duration. Worker.Logger hears
// of each attempt, at Debug, and of each failure, at Warn.
package delivery
