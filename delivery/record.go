package delivery

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
)

// The two writes of every attempt, each done for a whole batch of
// attempts in one statement: the claim that marks deliveries sending
// before their requests go out, and the record of their outcomes. SQLite
// reads a batch from a JSON array (json_each), PostgreSQL from arrays
// (unnest); the statements are otherwise the same.

// claimOp asks to mark one delivery sending for one job.
type claimOp struct {
	id, jobID int64
	// Set by the batch.
	found bool
	c     claimed
	now   time.Time
}

// claimed is what an attempt needs from the delivery log.
type claimed struct {
	id             int64
	spec, data     string
	key            string
	series         int
	seriesAttempts int
	interruptedAt  int64
	lax            bool
	nextAt         int64 // when it was due
	// destination is where the delivery's requests went last.
	destination string
	// For OnAttempt's delivery.
	conversion bool
	metadata   string
	createdAt  int64
}

// In the SQLite statements, the unary + keeps the planner from reading the
// state index (every row of a busy queue) instead of probing by id.
var claimSQLite = `
UPDATE liquidhook_delivery
SET state = 'sending', sending_at = ?1, updated_at = ?1,
	interrupted_at = CASE WHEN state = 'sending' THEN sending_at ELSE NULL END
FROM (SELECT value ->> 0 AS id, value ->> 1 AS job_id FROM json_each(?2)) AS c
WHERE liquidhook_delivery.id = c.id AND liquidhook_delivery.job_id = c.job_id
	AND +state IN ('scheduled', 'sending') AND coalesce(next_at, 0) <= ?1
	AND ` + opensSQL(dialectSQLite, "spec", "?3") + ` AND ` + opensSQL(dialectSQLite, "data", "?3") + `
RETURNING liquidhook_delivery.id, spec, data, idempotency_key, series, series_attempts,
	coalesce(interrupted_at, 0), lax, coalesce(next_at, 0), destination, conversion, metadata, created_at`

var claimPostgres = `
UPDATE liquidhook_delivery AS d
SET state = 'sending', sending_at = $1, updated_at = $1,
	interrupted_at = CASE WHEN d.state = 'sending' THEN d.sending_at ELSE NULL END
FROM unnest($2::bigint[], $3::bigint[]) AS c(id, job_id)
WHERE d.id = c.id AND d.job_id = c.job_id
	AND d.state IN ('scheduled', 'sending') AND coalesce(d.next_at, 0) <= $1
	AND ` + opensSQL(dialectPostgres, "d.spec", "$4") + ` AND ` + opensSQL(dialectPostgres, "d.data", "$4") + `
RETURNING d.id, d.spec, d.data, d.idempotency_key, d.series, d.series_attempts,
	coalesce(d.interrupted_at, 0), d.lax, coalesce(d.next_at, 0), d.destination, d.conversion, d.metadata, d.created_at`

// opensSQL returns a condition that holds when col is plain or sealed with
// one of the keys whose ids param holds (a JSON array on SQLite, a text
// array on PostgreSQL): a worker claims only what its keys open, and
// leaves the rest as it is (see runner.unclaimed).
func opensSQL(d dialect, col, param string) string {
	in := `IN (SELECT value FROM json_each(` + param + `))`
	if d == dialectPostgres {
		in = `= ANY(` + param + `::text[])`
	}
	return `(substr(` + col + `, 1, 5) <> '` + sealPrefix + `' OR substr(` + col + `, 6, 1) = ':'
		OR substr(` + col + `, 6, 8) ` + in + `)`
}

// keyIDsArg returns the ids of kr's keys as opensSQL's parameter.
func keyIDsArg(d dialect, kr *keyring) any {
	if d == dialectPostgres {
		return kr.ids()
	}
	b, _ := json.Marshal(kr.ids()) // a []string always encodes
	return string(b)
}

// claimBatch marks the batch's deliveries sending, those whose job it still
// is and that are due, in one statement.
func (r *runner) claimBatch(ctx context.Context, ops []*claimOp) error {
	for _, group := range byDelivery(ops, func(op *claimOp) int64 { return op.id }) {
		if err := r.claimGroup(ctx, group); err != nil {
			return err
		}
	}
	return nil
}

// byDelivery splits a batch into groups in which no delivery appears twice,
// so that each statement's rows can be told apart by delivery. A delivery
// appears twice when a stale job (say, one rescued from a killed worker
// after its delivery moved on) runs beside the delivery's current job.
func byDelivery[T any](ops []T, id func(T) int64) [][]T {
	groups := [][]T{nil}
	seen := make(map[int64]int, len(ops))
	for _, op := range ops {
		g := seen[id(op)]
		seen[id(op)] = g + 1
		if g == len(groups) {
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], op)
	}
	return groups
}

func (r *runner) claimGroup(ctx context.Context, ops []*claimOp) error {
	now := r.q.now()
	byID := make(map[int64]*claimOp, len(ops))
	var (
		q    string
		args []any
	)
	if r.q.s.dialect() == dialectPostgres {
		ids, jobs := make([]int64, len(ops)), make([]int64, len(ops))
		for i, op := range ops {
			ids[i], jobs[i] = op.id, op.jobID
		}
		q, args = claimPostgres, []any{toMicros(now), ids, jobs, keyIDsArg(dialectPostgres, r.q.keys())}
	} else {
		pairs := make([][2]int64, len(ops))
		for i, op := range ops {
			pairs[i] = [2]int64{op.id, op.jobID}
		}
		b, err := json.Marshal(pairs)
		if err != nil {
			return err
		}
		q, args = claimSQLite, []any{toMicros(now), string(b), keyIDsArg(dialectSQLite, r.q.keys())}
	}
	for _, op := range ops {
		op.found, op.now = false, now
		byID[op.id] = op
	}
	rs, err := r.q.s.db().query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var c claimed
		if err := rs.Scan(&c.id, &c.spec, &c.data, &c.key, &c.series, &c.seriesAttempts, &c.interruptedAt,
			&c.lax, &c.nextAt, &c.destination, &c.conversion, &c.metadata, &c.createdAt); err != nil {
			return err
		}
		if op := byID[c.id]; op != nil {
			op.found, op.c = true, c
		}
	}
	return rs.Err()
}

// finishOp records one attempt and the state it leaves its delivery in.
type finishOp struct {
	id, jobID  int64
	state      State
	due        time.Time // when scheduled
	attributes *string   // JSON, when delivered with a mapping
	attempt    Attempt
	hook       bool // queue a hook call
	// destination is where the attempt went, and probe whether it was its
	// circuit's probe; counted is the destination whose slots the attempt
	// was counted against (the job's).
	destination, counted string
	probe                bool
	// Set by the batch: another run had taken the delivery over, so only
	// the attempt was recorded.
	lost bool
	// Set by the batch: the delivery's new updated_at.
	recordedAt time.Time
}

const finishSQLite = `
UPDATE liquidhook_delivery
SET state = f.state, job_id = f.next_job, next_at = f.next_at, sending_at = NULL, interrupted_at = NULL,
	attempts = attempts + 1, series_attempts = series_attempts + 1,
	attributes = f.attributes, last_error = f.last_error, destination = f.destination, updated_at = ?1
FROM (SELECT value ->> 0 AS id, value ->> 1 AS job_id, value ->> 2 AS state, value ->> 3 AS next_job,
	value ->> 4 AS next_at, value ->> 5 AS attributes, value ->> 6 AS last_error, value ->> 7 AS destination
	FROM json_each(?2)) AS f
WHERE liquidhook_delivery.id = f.id AND liquidhook_delivery.job_id = f.job_id
	AND +liquidhook_delivery.state = 'sending'
RETURNING liquidhook_delivery.id`

const finishPostgres = `
UPDATE liquidhook_delivery AS d
SET state = f.state, job_id = f.next_job, next_at = f.next_at, sending_at = NULL, interrupted_at = NULL,
	attempts = d.attempts + 1, series_attempts = d.series_attempts + 1,
	attributes = f.attributes, last_error = f.last_error, destination = f.destination, updated_at = $1
FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[])
	AS f(id, job_id, state, next_job, next_at, attributes, last_error, destination)
WHERE d.id = f.id AND d.job_id = f.job_id AND d.state = 'sending'
RETURNING d.id`

const attemptsSQLite = `
INSERT INTO liquidhook_attempt
	(delivery_id, series, number, started_at, duration, status, class, retry_after, wait, error, response)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6,
	value ->> 7, value ->> 8, value ->> 9, unhex(value ->> 10)
FROM json_each(?)`

const attemptsPostgres = `
INSERT INTO liquidhook_attempt
	(delivery_id, series, number, started_at, duration, status, class, retry_after, wait, error, response)
SELECT * FROM unnest($1::bigint[], $2::int[], $3::int[], $4::bigint[], $5::bigint[], $6::int[], $7::text[],
	$8::bigint[], $9::bigint[], $10::text[], $11::bytea[])`

// finishBatch records a batch of outcomes in one transaction: the next
// attempts' jobs, the deliveries' new states, the attempts, the hook calls
// and what the attempts say of their destinations' circuits commit
// together or not at all.
func (r *runner) finishBatch(ctx context.Context, ops []*finishOp) error {
	now := r.q.now()
	var circuits []*destRow
	err := r.q.s.inTx(ctx, func(tx txn) error {
		for _, group := range byDelivery(ops, func(op *finishOp) int64 { return op.id }) {
			if err := r.finishGroup(ctx, tx, group, now); err != nil {
				return err
			}
		}
		var err error
		circuits, err = r.recordCircuits(ctx, tx, ops, now)
		return err
	})
	if err == nil {
		r.slots.recorded(ops)
		r.learn(r.slots.setCircuits(circuits, false))
	}
	return err
}

// recordCircuits applies the batch's attempts to their destinations'
// circuits, last in the transaction so that PostgreSQL holds the rows'
// locks briefly. A destination is written when an attempt failed, was its
// probe, or answered while the log said it was failing: a healthy
// destination's successes leave its row alone.
func (r *runner) recordCircuits(ctx context.Context, tx txn, ops []*finishOp, now time.Time) ([]*destRow, error) {
	need := map[string]bool{}
	for _, op := range ops {
		if op.destination == "" {
			continue
		}
		switch v := verdictOf(op.attempt); {
		case op.probe, v == failing, v == answered && r.slots.failing(op.destination):
			need[op.destination] = true
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	names := slices.Sorted(maps.Keys(need))
	return updateDestinations(ctx, r.q.s.dialect(), tx, names, now, func(row *destRow) {
		for _, op := range ops {
			if op.destination == row.Name {
				row.record(verdictOf(op.attempt), op.attempt, op.id, op.probe, now, r.circuit)
			}
		}
	})
}

func (r *runner) finishGroup(ctx context.Context, tx txn, ops []*finishOp, now time.Time) error {
	var jobs []river.InsertManyParams
	for _, op := range ops {
		op.lost, op.recordedAt = false, fromMicros(toMicros(now))
		if op.state == StateScheduled {
			jobs = append(jobs, river.InsertManyParams{Args: sendArgs{DeliveryID: op.id, Destination: op.destination}, InsertOpts: scheduleOpts(op.due, now)})
		}
	}
	var next map[int64]int64
	if len(jobs) > 0 {
		var err error
		if next, err = tx.insertJobs(ctx, jobs); err != nil {
			return err
		}
	}

	updated, err := r.updateFinished(ctx, tx, ops, next, now)
	if err != nil {
		return err
	}
	if err := r.insertAttempts(ctx, tx, ops); err != nil {
		return err
	}
	var hooks []river.InsertManyParams
	for _, op := range ops {
		if !updated[op.id] {
			op.lost = true
			continue
		}
		if op.hook {
			ev := hookDelivered
			if op.state == StateFailed {
				ev = hookFailed
			}
			hooks = append(hooks, river.InsertManyParams{Args: hookArgs{DeliveryID: op.id, Event: ev, Series: op.attempt.Series}})
		}
	}
	if len(hooks) > 0 {
		if _, err := tx.insertJobs(ctx, hooks); err != nil {
			return err
		}
	}
	return nil
}

// updateFinished moves each delivery to its new state, if its job still
// holds it, and returns the ids it moved.
func (r *runner) updateFinished(ctx context.Context, tx txn, ops []*finishOp, next map[int64]int64, now time.Time) (map[int64]bool, error) {
	var (
		q    string
		args []any
	)
	// The attributes and the last error, sealed for the log.
	storedAttrs, storedErrs := make([]*string, len(ops)), make([]string, len(ops))
	kr := r.q.keys()
	for i, op := range ops {
		var err error
		if op.attributes != nil {
			a, err := kr.sealString(place{id: op.id, field: "attributes"}, *op.attributes)
			if err != nil {
				return nil, err
			}
			storedAttrs[i] = &a
		}
		if storedErrs[i], err = kr.sealString(place{id: op.id, field: "last_error"}, op.attempt.Error); err != nil {
			return nil, err
		}
	}
	if r.q.s.dialect() == dialectPostgres {
		n := len(ops)
		ids, jobs, nextJobs, nextAts := make([]int64, n), make([]int64, n), make([]*int64, n), make([]*int64, n)
		states, dests := make([]string, n), make([]string, n)
		for i, op := range ops {
			ids[i], jobs[i], states[i], dests[i] = op.id, op.jobID, string(op.state), op.destination
			if op.state == StateScheduled {
				j, at := next[op.id], toMicros(op.due)
				nextJobs[i], nextAts[i] = &j, &at
			}
		}
		q, args = finishPostgres, []any{toMicros(now), ids, jobs, states, nextJobs, nextAts, storedAttrs, storedErrs, dests}
	} else {
		rows := make([][8]any, len(ops))
		for i, op := range ops {
			var nextJob, nextAt any
			if op.state == StateScheduled {
				nextJob, nextAt = next[op.id], toMicros(op.due)
			}
			var attrs any
			if storedAttrs[i] != nil {
				attrs = *storedAttrs[i]
			}
			rows[i] = [8]any{op.id, op.jobID, string(op.state), nextJob, nextAt, attrs, storedErrs[i], op.destination}
		}
		b, err := json.Marshal(rows)
		if err != nil {
			return nil, err
		}
		q, args = finishSQLite, []any{toMicros(now), string(b)}
	}
	rs, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	updated := make(map[int64]bool, len(ops))
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		updated[id] = true
	}
	return updated, rs.Err()
}

// insertAttempts records every attempt of the batch, including those whose
// delivery another run took over: the attempt happened.
func (r *runner) insertAttempts(ctx context.Context, tx txn, ops []*finishOp) error {
	// Each attempt's error and response, sealed for the log.
	storedErrs, storedBodies := make([]string, len(ops)), make([][]byte, len(ops))
	kr := r.q.keys()
	for i, op := range ops {
		a := op.attempt
		var err error
		if storedErrs[i], err = kr.sealString(place{id: op.id, field: "error", series: a.Series, number: a.Number}, a.Error); err != nil {
			return err
		}
		if storedBodies[i], err = kr.seal(place{id: op.id, field: "response", series: a.Series, number: a.Number}, a.Response); err != nil {
			return err
		}
	}
	if r.q.s.dialect() == dialectPostgres {
		n := len(ops)
		ids, series, numbers, starts, durs := make([]int64, n), make([]int32, n), make([]int32, n), make([]int64, n), make([]int64, n)
		statuses, classes, afters, waits, errs, bodies := make([]int32, n), make([]string, n), make([]int64, n), make([]int64, n), make([]string, n), make([][]byte, n)
		for i, op := range ops {
			a := op.attempt
			ids[i], series[i], numbers[i], starts[i], durs[i] = op.id, int32(a.Series), int32(a.Number), toMicros(a.Start), int64(a.Duration)
			statuses[i], classes[i], afters[i], waits[i], errs[i], bodies[i] = int32(a.Status), string(a.Class), int64(a.RetryAfter), int64(a.Wait), storedErrs[i], storedBodies[i]
		}
		_, err := tx.exec(ctx, attemptsPostgres, ids, series, numbers, starts, durs, statuses, classes, afters, waits, errs, bodies)
		return err
	}
	rows := make([][11]any, len(ops))
	for i, op := range ops {
		a := op.attempt
		var body any
		if storedBodies[i] != nil {
			body = hex.EncodeToString(storedBodies[i])
		}
		rows[i] = [11]any{op.id, a.Series, a.Number, toMicros(a.Start), int64(a.Duration), a.Status, string(a.Class),
			int64(a.RetryAfter), int64(a.Wait), storedErrs[i], body}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, attemptsSQLite, string(b))
	return err
}

// scheduleOpts queues a job due at due: for later (River's scheduler makes
// it available when due), or, when due within the scheduler's interval,
// available now, to be snoozed by the worker until due.
func scheduleOpts(due, now time.Time) *river.InsertOpts {
	if due.Sub(now) > scheduleAhead {
		return &river.InsertOpts{ScheduledAt: due}
	}
	return nil
}

// cleanText makes an error message storable as text in both databases:
// valid UTF-8, without NUL bytes, and at most 1 KiB.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) > 1024 {
		s = s[:1024]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}
