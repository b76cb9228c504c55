package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/database"
)

// woken reports whether sub is woken within d.
func woken(sub *database.Subscription, d time.Duration) bool {
	select {
	case <-sub.C:
		return true
	case <-time.After(d):
		return false
	}
}

// drained empties sub's pending wake-up (the one every connect sends).
func drained(t *testing.T, sub *database.Subscription) {
	t.Helper()
	require.True(t, woken(sub, 10*time.Second), "the wake-up after connecting")
}

func notify(t *testing.T, db *database.DB, channel, payload string) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(), `SELECT pg_notify($1, $2)`, channel, payload)
	require.NoError(t, err)
}

// sessionPID is the backend of db's session connection, once it is connected.
func sessionPID(t *testing.T, db *database.DB) int {
	t.Helper()
	var pid int
	require.Eventually(t, func() bool {
		return db.Pool.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
WHERE application_name = 'orange-session' AND datname = current_database()`).Scan(&pid) == nil
	}, 10*time.Second, 10*time.Millisecond)
	return pid
}

func advisoryLocks(t *testing.T, db *database.DB) int {
	t.Helper()
	return queryInt(t, db, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
}

// waiting reports whether sub holds a wake-up now.
func waiting(sub *database.Subscription) bool {
	select {
	case <-sub.C:
		return true
	default:
		return false
	}
}

func TestSubscribeWakesOnItsChannelAndPayload(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t)
	mine := db.Subscribe("orange_test", "fleet")
	defer mine.Close()
	all := db.Subscribe("orange_test", "")
	defer all.Close()
	other := db.Subscribe("orange_other", "")
	defer other.Close()
	barrier := db.Subscribe("orange_barrier", "")
	defer barrier.Close()
	for _, sub := range []*database.Subscription{mine, all, other, barrier} {
		drained(t, sub)
	}

	tests := []struct {
		channel, payload string
		mine, all, other bool
	}{
		{"orange_test", "fleet", true, true, false},
		{"orange_test", "pricing", false, true, false},
		{"orange_other", "fleet", false, false, true},
		{"orange_nobody", "fleet", false, false, false},
	}
	for _, tc := range tests {
		notify(t, db, tc.channel, tc.payload)
		// Notifications are dispatched in order: once the barrier's came, the one before had.
		notify(t, db, "orange_barrier", "")
		require.True(t, woken(barrier, 10*time.Second))
		assert.Equalf(t, tc.mine, waiting(mine), "%s/%s wakes the payload's subscriber", tc.channel, tc.payload)
		assert.Equalf(t, tc.all, waiting(all), "%s/%s wakes the channel's subscriber", tc.channel, tc.payload)
		assert.Equalf(t, tc.other, waiting(other), "%s/%s wakes the other channel's subscriber", tc.channel, tc.payload)
	}

	// Closed, it hears nothing more; the others still do.
	mine.Close()
	notify(t, db, "orange_test", "fleet")
	notify(t, db, "orange_barrier", "")
	require.True(t, woken(barrier, 10*time.Second))
	assert.True(t, waiting(all))
	assert.False(t, waiting(mine))

	// None of this holds a pool connection.
	assert.Zero(t, db.Pool.Stat().AcquiredConns())
}

func TestTryLockOneHolderAcrossProcessesAndWithinOne(t *testing.T) {
	t.Parallel()
	url := pg.NewDatabaseURL(t)
	open := func() *database.DB {
		db, err := database.Open(context.Background(), database.Config{URL: url, MaxConns: 4})
		require.NoError(t, err)
		t.Cleanup(db.Close)
		return db
	}
	one, two := open(), open()
	ctx := context.Background()

	l1, err := one.TryLock(ctx, "orange.relay.fleet")
	require.NoError(t, err)
	require.NotNil(t, l1)
	assert.Zero(t, one.Pool.Stat().AcquiredConns(), "the lock holds no pool connection")

	again, err := one.TryLock(ctx, "orange.relay.fleet")
	require.NoError(t, err)
	assert.Nil(t, again, "a second holder in the same process (advisory locks are re-entrant per session)")
	l2, err := two.TryLock(ctx, "orange.relay.fleet")
	require.NoError(t, err)
	assert.Nil(t, l2, "another process")
	other, err := two.TryLock(ctx, "orange.relay.pricing")
	require.NoError(t, err)
	require.NotNil(t, other, "another key is free")
	assert.Equal(t, 2, advisoryLocks(t, one))

	l1.Release()
	l1.Release() // twice is harmless
	l2, err = two.TryLock(ctx, "orange.relay.fleet")
	require.NoError(t, err)
	require.NotNil(t, l2, "free once released")
	l2.Release()
	other.Release()
	assert.Zero(t, advisoryLocks(t, one))

	// Closed: no more locks, at once.
	one.Close()
	_, err = one.TryLock(ctx, "orange.relay.fleet")
	assert.ErrorIs(t, err, database.ErrSessionClosed)
}

// TestSessionReconnects: the session's backend is killed (a failover, a restart, a network
// cut). The lock held on it is reported lost; the session reconnects, wakes its subscribers
// for what they may have missed, and notifications and locks work again.
func TestSessionReconnects(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t)
	ctx := context.Background()
	sub := db.Subscribe("orange_test", "")
	defer sub.Close()
	drained(t, sub)
	lock, err := db.TryLock(ctx, "orange.relay.fleet")
	require.NoError(t, err)
	require.NotNil(t, lock)

	first := sessionPID(t, db)
	_, err = db.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, first)
	require.NoError(t, err)

	select {
	case <-lock.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the lock is not reported lost")
	}
	assert.True(t, woken(sub, 10*time.Second), "woken after the reconnect")
	require.Eventually(t, func() bool { return sessionPID(t, db) != first }, 10*time.Second, 10*time.Millisecond)

	notify(t, db, "orange_test", "")
	assert.True(t, woken(sub, 10*time.Second), "notifications reach the new connection")
	again, err := db.TryLock(ctx, "orange.relay.fleet")
	require.NoError(t, err)
	require.NotNil(t, again, "the lost lock can be taken again")
	lock.Release() // a lost lock's Release touches nothing
	assert.Equal(t, 1, advisoryLocks(t, db))
	again.Release()
	assert.Zero(t, advisoryLocks(t, db))
}

// TestTryLockGivenUpReleases: an asker that stops waiting does not leave a lock behind.
func TestTryLockGivenUpReleases(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := db.TryLock(ctx, "orange.relay.fleet")
	require.ErrorIs(t, err, context.Canceled)
	require.Eventually(t, func() bool {
		l, err := db.TryLock(context.Background(), "orange.relay.fleet")
		if err != nil || l == nil {
			return false
		}
		l.Release()
		return true
	}, 10*time.Second, 10*time.Millisecond, "the given-up lock is released")
	assert.Zero(t, advisoryLocks(t, db))
}
