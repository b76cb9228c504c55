package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/database"
)

// writeXID is the cluster's next transaction id: how many write transactions committed (or
// aborted) since another reading, plus one for the reading itself.
func writeXID(t *testing.T, db *database.DB) int64 {
	t.Helper()
	var x int64
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT txid_current()`).Scan(&x))
	return x
}

// TestDrainMarksAPassInOneTransaction: a pass publishes every due event and marks them all
// with one UPDATE — one write transaction per pass, not one per event. Not parallel: it
// counts the cluster's transaction ids, which parallel tests would move too.
func TestDrainMarksAPassInOneTransaction(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	const aggregates, perAggregate = 10, 10
	for v := int64(1); v <= perAggregate; v++ {
		for a := range aggregates {
			change(t, db, fmt.Sprintf("v-%02d", a), v)
		}
	}
	pub := &recorder{}
	r := relay(db, pub)
	before := writeXID(t, db)
	n, err := r.Drain(ctx)
	require.NoError(t, err)
	writes := writeXID(t, db) - before - 1
	t.Logf("%d write transactions to publish %d events", writes, n)
	require.Equal(t, aggregates*perAggregate, n)
	assert.Len(t, pub.accepted(), n)
	assert.Zero(t, pending(t, db))
	// Autovacuum's ANALYZE may take an id meanwhile; one per event would be 100.
	assert.LessOrEqual(t, writes, int64(3), "write transactions for %d events", n)
	assert.Equal(t, 1, count(t, db, `SELECT count(DISTINCT published_at) FROM evtest.outbox`), "one mark for the pass")
	for subject, versions := range versionsBySubject(t, pub.accepted()) {
		assert.Equalf(t, upTo(perAggregate), versions, "order of %s", subject)
	}
}

// TestRunHoldsNoPoolConnection: a relay waiting for work holds no connection of the pool;
// its lock and its LISTEN live on the process's session connection.
func TestRunHoldsNoPoolConnection(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	pub := &recorder{}
	r := relay(db, pub)
	r.Poll = 30 * time.Second
	runRelay(t, r)
	e := change(t, db, "v-1", 1)
	waitFor(t, 10*time.Second, "the relay to publish and mark", func() bool { return len(pub.accepted()) == 1 && pending(t, db) == 0 })
	assert.Equal(t, []string{e.ID()}, ids(pub.accepted()))
	waitFor(t, 10*time.Second, "no pool connection held", func() bool { return db.Pool.Stat().AcquiredConns() == 0 })
	assert.Equal(t, 1, advisoryLocks(t, db), "still leading")
}

// TestRunLeadsAgainAfterItsSessionDrops: the session connection holding the relay's lock
// and LISTEN is killed; the relay takes the lock again on the new one, and events recorded
// after the drop go out.
func TestRunLeadsAgainAfterItsSessionDrops(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	pub := &recorder{}
	r := relay(db, pub)
	r.Poll = 200 * time.Millisecond // the pause before leading again
	runRelay(t, r)
	e1 := change(t, db, "v-1", 1)
	waitFor(t, 10*time.Second, "the first event", func() bool { return len(pub.accepted()) == 1 && pending(t, db) == 0 })
	require.Equal(t, 1, advisoryLocks(t, db))

	var pid int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT pg_terminate_backend(pid)::int * pid FROM pg_stat_activity
WHERE application_name = 'orange-session' AND datname = current_database()`).Scan(&pid))
	require.NotZero(t, pid, "the session was killed")
	waitFor(t, 10*time.Second, "the lock taken again on a new session", func() bool {
		return count(t, db, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
WHERE l.locktype = 'advisory' AND a.application_name = 'orange-session' AND a.pid <> $1`, pid) == 1
	})
	e2 := change(t, db, "v-1", 2)
	waitFor(t, 10*time.Second, "the event after the drop", func() bool { return len(pub.accepted()) == 2 })
	assert.Equal(t, []string{e1.ID(), e2.ID()}, ids(pub.accepted()))
}
