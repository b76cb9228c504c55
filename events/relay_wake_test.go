package events_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/database"
)

// notifies is a pgx tracer counting the pg_notify calls a pool sends inside a transaction
// and outside one.
type notifies struct {
	mu              sync.Mutex
	inTx            map[*pgx.Conn]bool
	inside, outside int
}

func (n *notifies) TraceQueryStart(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	n.mu.Lock()
	defer n.mu.Unlock()
	sql := strings.ToLower(strings.TrimSpace(d.SQL))
	switch {
	case strings.HasPrefix(sql, "begin"):
		n.inTx[conn] = true
	case sql == "commit" || sql == "rollback":
		n.inTx[conn] = false
	case strings.Contains(sql, "pg_notify") && n.inTx[conn]:
		n.inside++
	case strings.Contains(sql, "pg_notify"):
		n.outside++
	}
	return ctx
}

func (n *notifies) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (n *notifies) counts() (inside, outside int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.inside, n.outside
}

// tracedDB opens a pool on url whose pg_notify calls are counted.
func tracedDB(t *testing.T, url string) (*database.DB, *notifies) {
	t.Helper()
	n := &notifies{inTx: map[*pgx.Conn]bool{}}
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.ConnConfig.Tracer = n
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	db := &database.DB{Pool: pool, Logger: quiet()}
	t.Cleanup(db.Close)
	return db, n
}

// TestCommitWakesTheRelayInProcess: with Poll far away, an event committed in the process
// whose relay leads goes out promptly, woken after the commit in-process — no pg_notify in
// the writer's transaction (it would serialise every writer's commit: issue 19), none
// outside it either (nobody else needs to hear).
func TestCommitWakesTheRelayInProcess(t *testing.T) {
	t.Parallel()
	db, n := tracedDB(t, pg.NewDatabaseURL(t, producerMigrations(), consumerMigrations()))
	pub := &recorder{}
	r := relay(db, pub)
	r.Poll = 30 * time.Second
	runRelay(t, r)
	waitFor(t, 10*time.Second, "the relay to lead", func() bool { return advisoryLocks(t, db) == 1 })
	time.Sleep(50 * time.Millisecond) // past its first pass: now it waits for a wake-up
	for i, subject := range []string{"v-1", "v-2", "v-1"} {
		change(t, db, subject, int64(i+1))
		waitFor(t, 10*time.Second, "the woken relay to publish (Poll is 30 s)", func() bool { return len(pub.accepted()) == i+1 })
	}
	inside, outside := n.counts()
	assert.Zero(t, inside, "pg_notify in a writer's transaction")
	assert.Zero(t, outside, "pg_notify while the relay leads in this process")
}

// TestCommitInAnotherProcessWakesTheRelay: an event committed through another pool — another
// replica, a process without the relay — reaches the relay leading elsewhere through one
// notification sent after the commit, outside the writer's transaction.
func TestCommitInAnotherProcessWakesTheRelay(t *testing.T) {
	t.Parallel()
	url := pg.NewDatabaseURL(t, producerMigrations(), consumerMigrations())
	relayDB := openDB(t, url)
	pub := &recorder{}
	r := relay(relayDB, pub)
	r.Poll = 30 * time.Second
	runRelay(t, r)
	waitFor(t, 10*time.Second, "the relay to lead", func() bool { return advisoryLocks(t, relayDB) == 1 })
	time.Sleep(50 * time.Millisecond)
	writer, n := tracedDB(t, url)
	for i := range 3 {
		change(t, writer, "v-1", int64(i+1))
		waitFor(t, 10*time.Second, "the notified relay to publish (Poll is 30 s)", func() bool { return len(pub.accepted()) == i+1 })
	}
	assert.Equal(t, upTo(3), versionsBySubject(t, pub.accepted())["v-1"])
	inside, outside := n.counts()
	assert.Zero(t, inside, "pg_notify in a writer's transaction")
	assert.Positive(t, outside, "the notification sent after the commit")
	assert.LessOrEqual(t, outside, 3, "at most one per commit")
}

// TestNotifyCoalesces: a burst of commits in a process that does not relay sends a handful
// of notifications, the last one after the last commit, and the relay elsewhere publishes
// every event.
func TestNotifyCoalesces(t *testing.T) {
	t.Parallel()
	url := pg.NewDatabaseURL(t, producerMigrations(), consumerMigrations())
	relayDB := openDB(t, url)
	pub := &recorder{}
	r := relay(relayDB, pub)
	r.Poll = 30 * time.Second
	runRelay(t, r)
	waitFor(t, 10*time.Second, "the relay to lead", func() bool { return advisoryLocks(t, relayDB) == 1 })
	writer, n := tracedDB(t, url)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for v := range int64(each) {
				change(t, writer, "w-"+string(rune('a'+w)), v+1)
			}
		})
	}
	wg.Wait()
	waitFor(t, 10*time.Second, "every event published (Poll is 30 s)", func() bool { return len(pub.accepted()) == writers*each })
	_, outside := n.counts()
	t.Logf("%d notifications for %d commits", outside, writers*each)
	assert.Less(t, outside, writers*each, "notifications coalesce")
	for subject, versions := range versionsBySubject(t, pub.accepted()) {
		assert.Equalf(t, upTo(each), versions, "order of %s", subject)
	}
}
