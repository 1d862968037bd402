package delivery

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// rekeyBatch is how many deliveries one Rekey transaction re-seals, with
// their attempts: small enough that workers recording attempts (SQLite
// has one writer) wait little.
const rekeyBatch = 100

// Rekey seals again, under the first of Keys, every value of the delivery
// log that another key sealed or that is plain (written before the Queue
// had keys), and returns how many deliveries it changed. Run it after
// putting a new key first, then drop the old key once it returns.
//
// It first checks, reading only key ids, that every sealed value names one
// of Keys: one that does not returns a *SealError naming its delivery, and
// nothing is changed. It then works in batches of deliveries, each with
// its attempts in a transaction of its own, so workers go on meanwhile; a
// cancelled ctx stops it between batches, with what it has done so far.
// Running it again changes only what is not yet sealed under the first
// key. Without keys it returns ErrSealKey.
func (q *Queue) Rekey(ctx context.Context) (int64, error) {
	if err := q.check(); err != nil {
		return 0, err
	}
	kr := q.keys()
	if kr.err != nil {
		return 0, kr.err
	}
	if !kr.sealing() {
		return 0, fmt.Errorf("%w: Rekey needs a key to seal with", ErrSealKey)
	}
	if err := q.checkKeyIDs(ctx, kr); err != nil {
		return 0, err
	}
	var total int64
	for after := int64(0); ; {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n, last int64
		var count int
		err := q.s.inTx(ctx, func(tx txn) error {
			var err error
			n, last, count, err = q.rekeyBatch(ctx, tx, kr, after)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("delivery: rekey: %w", err)
		}
		total += n
		if count < rekeyBatch {
			return total, nil
		}
		after = last
	}
}

// checkKeyIDs returns a *SealError for the first value sealed with a key
// that kr does not hold.
func (q *Queue) checkKeyIDs(ctx context.Context, kr *keyring) error {
	rs, err := q.s.db().query(ctx, `
SELECT id, substr(spec, 1, 14), substr(data, 1, 14), coalesce(substr(attributes, 1, 14), ''), substr(last_error, 1, 14)
FROM liquidhook_delivery ORDER BY id`)
	if err != nil {
		return fmt.Errorf("delivery: rekey: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			id                           int64
			spec, data, attrs, lastError string
		)
		if err := rs.Scan(&id, &spec, &data, &attrs, &lastError); err != nil {
			return fmt.Errorf("delivery: rekey: %w", err)
		}
		if err := kr.canOpen(id, map[string]string{"spec": spec, "data": data, "attributes": attrs, "last_error": lastError}); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("delivery: rekey: %w", err)
	}
	rs.Close()

	ra, err := q.s.db().query(ctx, `
SELECT delivery_id, series, number, substr(error, 1, 14), substr(response, 1, 14)
FROM liquidhook_attempt ORDER BY id`)
	if err != nil {
		return fmt.Errorf("delivery: rekey: %w", err)
	}
	defer ra.Close()
	for ra.Next() {
		var (
			id             int64
			series, number int
			errText        string
			response       []byte
		)
		if err := ra.Scan(&id, &series, &number, &errText, &response); err != nil {
			return fmt.Errorf("delivery: rekey: %w", err)
		}
		for field, prefix := range map[string]string{"error": errText, "response": string(response)} {
			kid := sealedWith(prefix)
			if kid == "" || slices.Contains(kr.ids(), kid) {
				continue
			}
			_, err := kr.open(place{id: id, field: field, series: series, number: number}, []byte(sealPrefix+kid+":"))
			return err
		}
	}
	return ra.Err()
}

// rekeyBatch re-seals the deliveries after the given id, rekeyBatch of
// them at most, and their attempts. It returns how many deliveries it
// changed, the last id it read and how many it read.
func (q *Queue) rekeyBatch(ctx context.Context, tx txn, kr *keyring, after int64) (changed, last int64, count int, err error) {
	lock := ""
	if q.s.dialect() == dialectPostgres {
		lock = " FOR UPDATE"
	}
	rs, err := tx.query(ctx, `
SELECT id, spec, data, attributes, last_error FROM liquidhook_delivery
WHERE id > ? ORDER BY id LIMIT ?`+lock, after, rekeyBatch)
	if err != nil {
		return 0, 0, 0, err
	}
	type row struct {
		id                    int64
		spec, data, lastError string
		attrs                 sql.NullString
	}
	var batch []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.id, &r.spec, &r.data, &r.attrs, &r.lastError); err != nil {
			rs.Close()
			return 0, 0, 0, err
		}
		batch = append(batch, r)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return 0, 0, 0, err
	}
	if len(batch) == 0 {
		return 0, after, 0, nil
	}

	first := kr.keys[0].id
	reseal := func(p place, stored string) (string, bool, error) {
		if stored == "" || sealedWith(stored) == first {
			return stored, false, nil
		}
		plain, err := kr.openString(p, stored)
		if err != nil {
			return "", false, err
		}
		sealed, err := kr.sealString(p, plain)
		return sealed, true, err
	}
	touched := make(map[int64]bool)
	for _, r := range batch {
		dirty := false
		for _, f := range []struct {
			name  string
			value *string
		}{{"spec", &r.spec}, {"data", &r.data}, {"attributes", &r.attrs.String}, {"last_error", &r.lastError}} {
			v, ok, err := reseal(place{id: r.id, field: f.name}, *f.value)
			if err != nil {
				return 0, 0, 0, err
			}
			*f.value, dirty = v, dirty || ok
		}
		if !dirty {
			continue
		}
		var attrs any
		if r.attrs.Valid {
			attrs = r.attrs.String
		}
		if _, err := tx.exec(ctx, `UPDATE liquidhook_delivery SET spec = ?, data = ?, attributes = ?, last_error = ? WHERE id = ?`,
			r.spec, r.data, attrs, r.lastError, r.id); err != nil {
			return 0, 0, 0, err
		}
		touched[r.id] = true
	}

	marks := strings.TrimSuffix(strings.Repeat("?, ", len(batch)), ", ")
	args := make([]any, len(batch))
	for i, r := range batch {
		args[i] = r.id
	}
	ra, err := tx.query(ctx, `
SELECT id, delivery_id, series, number, error, response FROM liquidhook_attempt
WHERE delivery_id IN (`+marks+`) ORDER BY id`+lock, args...)
	if err != nil {
		return 0, 0, 0, err
	}
	type attemptRow struct {
		id, delivery   int64
		series, number int
		errText        string
		response       []byte
	}
	var attempts []attemptRow
	for ra.Next() {
		var a attemptRow
		if err := ra.Scan(&a.id, &a.delivery, &a.series, &a.number, &a.errText, &a.response); err != nil {
			ra.Close()
			return 0, 0, 0, err
		}
		attempts = append(attempts, a)
	}
	ra.Close()
	if err := ra.Err(); err != nil {
		return 0, 0, 0, err
	}
	for _, a := range attempts {
		p := place{id: a.delivery, series: a.series, number: a.number}
		p.field = "error"
		errText, okErr, err := reseal(p, a.errText)
		if err != nil {
			return 0, 0, 0, err
		}
		p.field = "response"
		response, okResp, err := reseal(p, string(a.response))
		if err != nil {
			return 0, 0, 0, err
		}
		if !okErr && !okResp {
			continue
		}
		var body any
		if a.response != nil {
			body = []byte(response)
		}
		if _, err := tx.exec(ctx, `UPDATE liquidhook_attempt SET error = ?, response = ? WHERE id = ?`, errText, body, a.id); err != nil {
			return 0, 0, 0, err
		}
		touched[a.delivery] = true
	}
	return int64(len(touched)), batch[len(batch)-1].id, len(batch), nil
}
