package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
)

func TestNewBuildsABinaryReadyEvent(t *testing.T) {
	t.Parallel()
	before := time.Now()
	e, err := events.New(source, events.VehicleMoved, "v-1", events.Vehicle{VehicleID: "v-1", Version: 2})
	require.NoError(t, err)
	require.NoError(t, e.Validate())
	_, err = uuid.Parse(e.ID())
	assert.NoError(t, err, "id is a uuid")
	assert.Equal(t, cloudevents.VersionV1, e.SpecVersion())
	assert.Equal(t, source, e.Source())
	assert.Equal(t, events.VehicleMoved, e.Type())
	assert.Equal(t, "v-1", e.Subject())
	assert.Equal(t, "v-1", e.Extensions()["partitionkey"])
	assert.False(t, e.Time().Before(before.Add(-time.Second)))
	assert.JSONEq(t, `{"vehicleId":"v-1","version":2,"category":"","locationCode":"","status":"","licensePlate":""}`, string(e.Data()))

	other, err := events.New(source, events.VehicleMoved, "v-1", nil)
	require.NoError(t, err)
	assert.NotEqual(t, e.ID(), other.ID(), "every event gets its own id")

	_, err = events.New(source, events.VehicleMoved, "v-1", make(chan int))
	assert.Error(t, err, "data that cannot be JSON")
}

type outboxRow struct {
	id, typ, source, subject string
	at                       time.Time
	data                     []byte
	published                bool
	attempts                 int
}

func outboxRows(t *testing.T, ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) []outboxRow {
	t.Helper()
	rows, err := q.Query(ctx, `SELECT id::text, type, source, subject, time, data, published_at IS NOT NULL, attempts FROM evtest.outbox ORDER BY seq`)
	require.NoError(t, err)
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		require.NoError(t, rows.Scan(&r.id, &r.typ, &r.source, &r.subject, &r.at, &r.data, &r.published, &r.attempts))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestOutboxCommitsWithTheStateChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)

	e := change(t, db, "v-1", 1)

	rows := outboxRows(t, ctx, db.Pool)
	require.Len(t, rows, 1)
	got := rows[0]
	assert.Equal(t, e.ID(), got.id)
	assert.Equal(t, e.Type(), got.typ)
	assert.Equal(t, e.Source(), got.source)
	assert.Equal(t, e.Subject(), got.subject)
	assert.WithinDuration(t, e.Time(), got.at, time.Microsecond)
	assert.JSONEq(t, string(e.Data()), string(got.data))
	assert.False(t, got.published)
	assert.Zero(t, got.attempts)
	assert.Equal(t, 1, count(t, db, `SELECT count(*) FROM evtest.things WHERE id = 'v-1'`))
}

func TestEmitCommitsWithTheStateChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	payload := events.Location{Code: "BER", Version: 4, Name: "Berlin Hbf", City: "Berlin", Status: "active"}

	require.NoError(t, db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO evtest.things (id, version) VALUES ('BER', 4)`); err != nil {
			return err
		}
		return events.Emit(ctx, tx, producer, "/functions/locations", events.LocationUpdated, "BER", payload)
	}))

	rows := outboxRows(t, ctx, db.Pool)
	require.Len(t, rows, 1)
	_, err := uuid.Parse(rows[0].id)
	require.NoError(t, err)
	assert.Equal(t, events.LocationUpdated, rows[0].typ)
	assert.Equal(t, "/functions/locations", rows[0].source)
	assert.Equal(t, "BER", rows[0].subject)
	var got events.Location
	require.NoError(t, json.Unmarshal(rows[0].data, &got))
	assert.Equal(t, payload, got)
}

func TestOutboxRollsBackWithTheStateChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	boom := errors.New("the change failed after the event was recorded")

	err := db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO evtest.things (id, version) VALUES ('v-1', 1)`); err != nil {
			return err
		}
		if err := events.Emit(ctx, tx, producer, source, events.VehicleCreated, "v-1", events.Vehicle{VehicleID: "v-1", Version: 1}); err != nil {
			return err
		}
		require.Len(t, outboxRows(t, ctx, tx), 1, "recorded inside the transaction")
		return boom
	})
	require.ErrorIs(t, err, boom)

	assert.Zero(t, count(t, db, `SELECT count(*) FROM evtest.things`), "no state change")
	assert.Zero(t, count(t, db, `SELECT count(*) FROM evtest.outbox`), "no event")
}

func TestRecordRefusesWhatItCannotPublish(t *testing.T) {
	t.Parallel()
	valid := func(t *testing.T) cloudevents.Event { return newChange(t, "v-1", 1) }
	cases := []struct {
		name  string
		event func(t *testing.T) cloudevents.Event
	}{
		{"missing type", func(t *testing.T) cloudevents.Event { e := valid(t); e.SetType(""); return e }},
		{"missing source", func(t *testing.T) cloudevents.Event { e := valid(t); e.SetSource(""); return e }},
		{"missing id", func(t *testing.T) cloudevents.Event { e := valid(t); e.SetID(""); return e }},
		{"data not JSON", func(t *testing.T) cloudevents.Event {
			e := valid(t)
			require.NoError(t, e.SetData("text/plain", []byte("not json")))
			return e
		}},
		{"JSON content type, broken JSON", func(t *testing.T) cloudevents.Event {
			e := valid(t)
			require.NoError(t, e.SetData("application/json", []byte(`{"vehicleId":`)))
			return e
		}},
		{"no data", func(t *testing.T) cloudevents.Event {
			e := valid(t)
			e.DataEncoded = nil
			return e
		}},
	}
	ctx := context.Background()
	db := newDB(t) // shared: no case may write anything
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var recordErr error
			// The caller ignores the error and commits: Record itself must write nothing.
			require.NoError(t, db.InTx(ctx, func(tx pgx.Tx) error {
				recordErr = events.Record(ctx, tx, producer, tc.event(t))
				return nil
			}))
			require.Error(t, recordErr)
			assert.Zero(t, count(t, db, `SELECT count(*) FROM evtest.outbox`))
		})
	}
}

// TestRecordNotifiesOnCommitOnly: a commit with an outbox row wakes relays (payload: the
// schema); a rollback wakes nobody.
func TestRecordNotifiesOnCommitOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	listener, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer listener.Release()
	_, err = listener.Exec(ctx, `LISTEN `+events.Notification)
	require.NoError(t, err)
	defer func() { _, _ = listener.Exec(context.Background(), `UNLISTEN *`) }()

	next := func() string {
		t.Helper()
		waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := listener.Conn().WaitForNotification(waitCtx)
		require.NoError(t, err)
		return n.Payload
	}

	_ = db.InTx(ctx, func(tx pgx.Tx) error {
		require.NoError(t, events.Record(ctx, tx, producer, newChange(t, "v-1", 1)))
		return errors.New("roll back")
	})
	_, err = db.Pool.Exec(ctx, `SELECT pg_notify($1, 'marker')`, events.Notification)
	require.NoError(t, err)
	assert.Equal(t, "marker", next(), "the rolled-back event notified nobody")

	change(t, db, "v-1", 1)
	assert.Equal(t, producer, next())
}
