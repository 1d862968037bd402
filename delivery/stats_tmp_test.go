package delivery

import (
	"database/sql"
	"testing"

	"github.com/riverqueue/river/riverdriver/riversqlite"
)

func dbStats(b *testing.B, q *Queue) {
	db := q.s.(*riverStore[*riversqlite.Driver, *sql.Tx]).pool.(sqlExecer).c.(*sql.DB)
	st := db.Stats()
	b.Logf("wait count %d wait %v per-op-wait %v", st.WaitCount, st.WaitDuration, st.WaitDuration/(1+0*st.WaitDuration))
}
