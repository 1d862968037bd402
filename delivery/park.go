package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/riverqueue/river"
)

// A delivery whose destination is paused waits in the log without a River
// job: it stays scheduled, its job ends, and its row's job_id is cleared
// (the log's "held" deliveries, which a partial index finds by
// destination). Nothing runs for it while the pause lasts, so a hundred
// thousand deliveries can wait for a broken endpoint without a worker
// reading them again and again. Workers tend the held deliveries every
// poll interval: when the destination's cool-down has passed, one of them
// is queued again as the probe; when its circuit has closed (a probe
// succeeded, or Resume), they are queued again a batch at a time, as fast
// as the workers' slots for it allow; when it is disabled, they are queued
// again to fail.

// parkOp asks to hold one delivery, for the job that found its
// destination paused.
type parkOp struct {
	id, jobID int64
	// Set by the batch: the delivery was scheduled under that job, and is
	// held now.
	parked bool
}

const parkSQLite = `
UPDATE liquidhook_delivery SET job_id = NULL, updated_at = ?1
FROM (SELECT value ->> 0 AS id, value ->> 1 AS job_id FROM json_each(?2)) AS p
WHERE liquidhook_delivery.id = p.id AND liquidhook_delivery.job_id = p.job_id
	AND +liquidhook_delivery.state = 'scheduled'
RETURNING liquidhook_delivery.id`

const parkPostgres = `
UPDATE liquidhook_delivery AS d SET job_id = NULL, updated_at = $1
FROM unnest($2::bigint[], $3::bigint[]) AS p(id, job_id)
WHERE d.id = p.id AND d.job_id = p.job_id AND d.state = 'scheduled'
RETURNING d.id`

// parkBatch holds a batch of deliveries in one statement.
func (r *runner) parkBatch(ctx context.Context, ops []*parkOp) error {
	now := toMicros(r.q.now())
	for _, group := range byDelivery(ops, func(op *parkOp) int64 { return op.id }) {
		var (
			q    string
			args []any
		)
		if r.q.s.dialect() == dialectPostgres {
			ids, jobs := make([]int64, len(group)), make([]int64, len(group))
			for i, op := range group {
				ids[i], jobs[i] = op.id, op.jobID
			}
			q, args = parkPostgres, []any{now, ids, jobs}
		} else {
			pairs := make([][2]int64, len(group))
			for i, op := range group {
				pairs[i] = [2]int64{op.id, op.jobID}
			}
			b, err := json.Marshal(pairs)
			if err != nil {
				return err
			}
			q, args = parkSQLite, []any{now, string(b)}
		}
		parked, err := queryIDs(ctx, r.q.s.db(), q, args...)
		if err != nil {
			return err
		}
		for _, op := range group {
			op.parked = parked[op.id]
		}
	}
	return nil
}

// queryIDs runs a statement that returns ids, and returns them as a set.
func queryIDs(ctx context.Context, ex execer, q string, args ...any) (map[int64]bool, error) {
	rs, err := ex.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	ids := map[int64]bool{}
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rs.Err()
}

// hold makes the job's delivery wait for its paused destination. A
// delivery that is not scheduled under this job is either superseded, or
// still sending after a worker stopped mid-request: the lost attempt is
// then recorded, and its retry waits in turn.
func (r *runner) hold(ctx context.Context, job *river.Job[sendArgs]) error {
	op := &parkOp{id: job.Args.DeliveryID, jobID: job.ID}
	if err := r.parks.do(op); err != nil {
		return fmt.Errorf("delivery: hold delivery %d: %w", op.id, err)
	}
	if op.parked {
		return nil
	}
	return r.record(ctx, job, nil)
}

// takeProbe tries to make delivery id its paused destination's probe,
// and reports whether it is: the cool-down has passed and no other probe
// is out (or its lease ran out, its worker gone). The lease lasts as long
// as a worker may take to send and record an attempt.
func (r *runner) takeProbe(ctx context.Context, dest string, id int64) (bool, error) {
	now := r.q.now()
	n, err := r.q.s.db().exec(ctx, `UPDATE liquidhook_destination SET probe_delivery = ?, probe_until = ?
WHERE destination = ? AND circuit = 'open' AND paused_until <= ? AND (probe_until < ? OR probe_delivery = ?)`,
		id, toMicros(now.Add(r.rescueAfter)), dest, toMicros(now), toMicros(now), id)
	return n == 1, err
}

// dropProbe gives up the probe lease that delivery id took without
// sending (its job was superseded, or found no slot), so that another
// delivery may probe without waiting for the lease to run out.
func (r *runner) dropProbe(dest string, id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	_, err := r.q.s.db().exec(ctx, `UPDATE liquidhook_destination SET probe_delivery = 0, probe_until = 0
WHERE destination = ? AND probe_delivery = ?`, dest, id)
	if err != nil {
		r.logger.WarnContext(ctx, "delivery: giving up a probe", "destination", dest, "error", err)
	}
}

// disabledOutcome is the failure of a delivery to a disabled destination:
// final, and nothing sent.
func (r *runner) disabledOutcome(dest string) outcome {
	now := r.q.now()
	return outcome{
		attempt: Attempt{
			Start: now,
			Class: ClassDisabled,
			Error: fmt.Sprintf("delivery: destination %s is disabled: it kept failing; resume it to send again", dest),
		},
		final:       true,
		destination: dest,
		waitFrom:    now,
	}
}

// How held deliveries are queued again: at most unparkMax per destination
// per poll interval by each worker, and how often the counts of attempts
// are written.
const (
	unparkMax   = 5000
	countsEvery = 5 * time.Second
)

// tend brings this worker's view of the circuits up to date and tends the
// held deliveries. It logs what fails: the next poll tries again.
func (r *runner) tend(ctx context.Context, every time.Duration) {
	if err := r.refreshCircuits(ctx); err != nil && ctx.Err() == nil {
		r.logger.WarnContext(ctx, "delivery: reading the destinations' circuits", "error", err)
	}
	if err := r.tendHeld(ctx, every); err != nil && ctx.Err() == nil {
		r.logger.WarnContext(ctx, "delivery: queueing held deliveries", "error", err)
	}
}

// refreshCircuits reads the circuits that are not closed, or failing.
func (r *runner) refreshCircuits(ctx context.Context) error {
	rows, err := loadTroubled(ctx, r.q.s.db())
	if err != nil {
		return err
	}
	r.learn(r.slots.setCircuits(rows, true))
	return nil
}

// writeCounts adds the attempts this worker counted to the destinations'
// recent ones, and says which it has slowed.
func (r *runner) writeCounts(ctx context.Context) error {
	cs := r.slots.takeCounts()
	delete(cs, "") // deliveries queued before destinations were kept
	if len(cs) == 0 {
		return nil
	}
	now := r.q.now()
	return r.q.s.inTx(ctx, func(tx txn) error {
		_, err := updateDestinations(ctx, r.q.s.dialect(), tx, slices.Sorted(maps.Keys(cs)), now, func(row *destRow) {
			c := cs[row.Name]
			row.count(c.ok, c.failed, c.spent, now)
			if c.slots > 0 {
				if row.SlowedUntil <= toMicros(now) || c.slots < row.Slots {
					row.Slots = c.slots
				}
				row.SlowedUntil = toMicros(now.Add(3 * countsEvery))
			}
		})
		return err
	})
}

// heldSQL finds the destinations that have held deliveries, with their
// circuits.
const heldSQL = `SELECT ` + "destination, circuit, paused_until, probe_until" + ` FROM liquidhook_destination AS c
WHERE EXISTS (SELECT 1 FROM liquidhook_delivery AS d
	WHERE d.destination = c.destination AND d.state = 'scheduled' AND d.job_id IS NULL)`

// tendHeld queues held deliveries again: a batch of each destination
// whose circuit closed or that is disabled, and a probe for each whose
// cool-down has passed.
func (r *runner) tendHeld(ctx context.Context, every time.Duration) error {
	rs, err := r.q.s.db().query(ctx, heldSQL)
	if err != nil {
		return err
	}
	type heldDest struct {
		name, circuit           string
		pausedUntil, probeUntil int64
	}
	var dests []heldDest
	for rs.Next() {
		var h heldDest
		if err := rs.Scan(&h.name, &h.circuit, &h.pausedUntil, &h.probeUntil); err != nil {
			rs.Close()
			return err
		}
		dests = append(dests, h)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	now := toMicros(r.q.now())
	for _, h := range dests {
		switch {
		case h.circuit == circuitClosed:
			_, err = r.unpark(ctx, h.name, r.slots.intake(h.name, every), false)
		case h.circuit == circuitDisabled:
			_, err = r.unpark(ctx, h.name, unparkMax, false)
		case h.pausedUntil <= now && h.probeUntil < now:
			_, err = r.unpark(ctx, h.name, 1, true)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", h.name, err)
		}
	}
	return nil
}

// unpark queues again up to n deliveries held for dest, oldest first, in
// one transaction, and returns how many. With probe, it queues the oldest
// as the destination's probe, if no probe is out.
func (r *runner) unpark(ctx context.Context, dest string, n int, probe bool) (int, error) {
	pg := r.q.s.dialect() == dialectPostgres
	var queued int
	err := r.q.s.inTx(ctx, func(tx txn) error {
		q := `SELECT id, coalesce(next_at, 0) FROM liquidhook_delivery
WHERE destination = ? AND state = 'scheduled' AND job_id IS NULL ORDER BY id LIMIT ?`
		if pg {
			// Another worker's batch is its own.
			q += ` FOR UPDATE SKIP LOCKED`
		}
		rs, err := tx.query(ctx, q, dest, n)
		if err != nil {
			return err
		}
		type heldRow struct{ id, nextAt int64 }
		var rows []heldRow
		for rs.Next() {
			var h heldRow
			if err := rs.Scan(&h.id, &h.nextAt); err != nil {
				rs.Close()
				return err
			}
			rows = append(rows, h)
		}
		rs.Close()
		if err := rs.Err(); err != nil || len(rows) == 0 {
			return err
		}
		now := r.q.now()
		if probe {
			lease, err := tx.exec(ctx, `UPDATE liquidhook_destination SET probe_delivery = ?, probe_until = ?
WHERE destination = ? AND circuit = 'open' AND paused_until <= ? AND probe_until < ?`,
				rows[0].id, toMicros(now.Add(r.rescueAfter)), dest, toMicros(now), toMicros(now))
			if err != nil || lease == 0 {
				return err
			}
		}
		params := make([]river.InsertManyParams, len(rows))
		for i, h := range rows {
			params[i] = river.InsertManyParams{
				Args:       sendArgs{DeliveryID: h.id, Destination: dest},
				InsertOpts: scheduleOpts(fromMicros(h.nextAt), now),
			}
		}
		jobs, err := tx.insertJobs(ctx, params)
		if err != nil {
			return err
		}
		ids, jobIDs := make([]int64, len(rows)), make([]int64, len(rows))
		for i, h := range rows {
			ids[i], jobIDs[i] = h.id, jobs[h.id]
		}
		if pg {
			_, err = tx.exec(ctx, `UPDATE liquidhook_delivery AS d SET job_id = u.job, updated_at = ?
FROM unnest(?::bigint[], ?::bigint[]) AS u(id, job)
WHERE d.id = u.id AND d.state = 'scheduled' AND d.job_id IS NULL`, toMicros(now), ids, jobIDs)
		} else {
			pairs := make([][2]int64, len(rows))
			for i := range rows {
				pairs[i] = [2]int64{ids[i], jobIDs[i]}
			}
			b, merr := json.Marshal(pairs)
			if merr != nil {
				return merr
			}
			_, err = tx.exec(ctx, `UPDATE liquidhook_delivery SET job_id = u.job, updated_at = ?
FROM (SELECT value ->> 0 AS id, value ->> 1 AS job FROM json_each(?)) AS u
WHERE liquidhook_delivery.id = u.id AND +liquidhook_delivery.state = 'scheduled'
	AND liquidhook_delivery.job_id IS NULL`, toMicros(now), string(b))
		}
		queued = len(rows)
		return err
	})
	return queued, err
}
