package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
)

func TestSchemasAreFoundNotListed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	out, err := events.OutboxSchemas(ctx, db)
	require.NoError(t, err)
	assert.Equal(t, []string{consumer, producer}, out)
	in, err := events.InboxSchemas(ctx, db)
	require.NoError(t, err)
	assert.Equal(t, []string{consumer, producer}, in)
}

// TestPruneOutboxBoundaries: a row published one second before the cutoff goes, one
// published exactly at it and one a second after stay, and an unpublished row stays however
// old it is. Many rows go in batches of the given size.
func TestPruneOutboxBoundaries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	cutoff := time.Date(2026, 11, 1, 3, 30, 0, 0, time.UTC)
	insert := func(subject string, published *time.Time) {
		t.Helper()
		_, err := db.Pool.Exec(ctx, `INSERT INTO evtest.outbox (id, type, source, subject, time, data, published_at)
			VALUES (gen_random_uuid(), 't', 's', $1, $2, '{}', $3)`, subject, cutoff.Add(-365*24*time.Hour), published)
		require.NoError(t, err)
	}
	at := func(d time.Duration) *time.Time { v := cutoff.Add(d); return &v }
	insert("outside", at(-time.Second))
	insert("at", at(0))
	insert("inside", at(time.Second))
	insert("unpublished", nil)
	for i := range 12 {
		insert(fmt.Sprintf("old-%d", i), at(-time.Duration(i+2)*time.Hour))
	}

	n, err := events.PruneOutbox(ctx, db, producer, cutoff, 5)
	require.NoError(t, err)
	assert.EqualValues(t, 13, n)
	rows, err := db.Pool.Query(ctx, `SELECT subject FROM evtest.outbox ORDER BY seq`)
	require.NoError(t, err)
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"at", "inside", "unpublished"}, left)

	n, err = events.PruneOutbox(ctx, db, producer, cutoff, 5)
	require.NoError(t, err)
	assert.Zero(t, n, "a second prune finds nothing")
}

func TestPruneInboxBoundaries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	cutoff := time.Date(2026, 11, 1, 3, 30, 0, 0, time.UTC)
	for id, d := range map[string]time.Duration{"outside": -time.Second, "at": 0, "inside": time.Second, "old": -48 * time.Hour} {
		_, err := db.Pool.Exec(ctx, `INSERT INTO evsink.inbox (source, id, type, received_at) VALUES ('s', $1, 't', $2)`, id, cutoff.Add(d))
		require.NoError(t, err)
	}
	n, err := events.PruneInbox(ctx, db, consumer, cutoff, 0)
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
	rows, err := db.Pool.Query(ctx, `SELECT id FROM evsink.inbox ORDER BY id`)
	require.NoError(t, err)
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"at", "inside"}, left)
}

// TestPruneSkipsLockedRows: a row another transaction holds (the relay marking it
// published) is skipped, not waited for; the next prune takes it.
func TestPruneSkipsLockedRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	cutoff := time.Now()
	for range 3 {
		_, err := db.Pool.Exec(ctx, `INSERT INTO evtest.outbox (id, type, source, subject, time, data, published_at)
			VALUES (gen_random_uuid(), 't', 's', 'x', now(), '{}', now() - interval '1 day')`)
		require.NoError(t, err)
	}
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SELECT seq FROM evtest.outbox ORDER BY seq LIMIT 1 FOR UPDATE`)
	require.NoError(t, err)

	done := make(chan int64, 1)
	go func() {
		n, err := events.PruneOutbox(ctx, db, producer, cutoff, 0)
		assert.NoError(t, err)
		done <- n
	}()
	select {
	case n := <-done:
		assert.EqualValues(t, 2, n)
	case <-time.After(10 * time.Second):
		t.Fatal("the prune waited for a locked row")
	}
	require.NoError(t, tx.Rollback(ctx))
	n, err := events.PruneOutbox(ctx, db, producer, cutoff, 0)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}
