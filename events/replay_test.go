package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
)

// TestRecordReplayQueuesAnEventOnceUnderItsOwnID: a replayed event keeps its id, source,
// type, subject, time and data; replaying it again while it waits adds nothing, and after
// it was sent makes the same row due again; an id of another event is refused.
func TestRecordReplayQueuesAnEventOnceUnderItsOwnID(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := context.Background()
	e := newChange(t, "car-1", 3)
	e.SetSource("someone-else") // another function's event
	rec := func() error {
		return db.InTx(ctx, func(tx pgx.Tx) error { return events.RecordReplay(ctx, tx, producer, e) })
	}
	require.NoError(t, rec())
	rows := outboxRows(t, ctx, db.Pool)
	require.Len(t, rows, 1)
	assert.Equal(t, e.ID(), rows[0].id)
	assert.Equal(t, "someone-else", rows[0].source)
	assert.Equal(t, e.Type(), rows[0].typ)
	assert.Equal(t, "car-1", rows[0].subject)
	assert.WithinDuration(t, e.Time(), rows[0].at, time.Microsecond, "its own time")
	assert.JSONEq(t, string(e.Data()), string(rows[0].data))

	require.NoError(t, rec(), "a second replay while the first waits")
	require.Len(t, outboxRows(t, ctx, db.Pool), 1, "queued once")

	_, err := db.Pool.Exec(ctx, `UPDATE evtest.outbox SET published_at = now(), attempts = 2`)
	require.NoError(t, err)
	require.NoError(t, rec(), "a replay after the first was sent")
	rows = outboxRows(t, ctx, db.Pool)
	require.Len(t, rows, 1)
	assert.False(t, rows[0].published, "due again")
	assert.Zero(t, rows[0].attempts)

	other := newChange(t, "car-2", 1)
	other.SetID(e.ID())
	other.SetSource("a-third")
	err = db.InTx(ctx, func(tx pgx.Tx) error { return events.RecordReplay(ctx, tx, producer, other) })
	require.ErrorIs(t, err, events.ErrIDTaken)

	bad := newChange(t, "car-3", 1)
	bad.SetID("not-a-uuid")
	err = db.InTx(ctx, func(tx pgx.Tx) error { return events.RecordReplay(ctx, tx, producer, bad) })
	require.ErrorContains(t, err, "not a UUID")
	require.Len(t, outboxRows(t, ctx, db.Pool), 1, "nothing else recorded")
}
