package events

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the outbox and inbox tables for the function owning schema. A function
// brings them along with its own: database.Migrations{…, With: []database.Migrations{events.Migrations()}}.
func Migrations() database.Migrations {
	return database.Migrations{FS: migrationFiles, Dir: "migrations", Track: "events_migrations"}
}

// Notification is the channel a commit with new outbox rows notifies, after it committed
// (database.Tx.NotifyAfterCommit: in-process, and through PostgreSQL unless the schema's
// relay leads in this process); the payload is the schema. The relay listens, but polls
// too: notifications are a hint, not a promise.
const Notification = "orange_outbox"

// New builds a CloudEvent of typ about subject from source with data as JSON.
func New(source, typ, subject string, data any) (cloudevents.Event, error) {
	e := cloudevents.NewEvent()
	e.SetID(uuid.NewString())
	e.SetSource(source)
	e.SetType(typ)
	e.SetSubject(subject)
	e.SetTime(time.Now().UTC())
	// Kafka-backed brokers keep events of one partition key in order.
	e.SetExtension("partitionkey", subject)
	if err := e.SetData(cloudevents.ApplicationJSON, data); err != nil {
		return e, fmt.Errorf("encode %s: %w", typ, err)
	}
	return e, nil
}

// Record writes an event into schema's outbox inside tx, the transaction that makes the
// change the event describes: both commit or neither does.
func Record(ctx context.Context, tx pgx.Tx, schema string, e cloudevents.Event) error {
	return insert(ctx, tx, schema, "record", e, "")
}

// ErrIDTaken is RecordReplay's answer for an id the outbox holds for another event.
var ErrIDTaken = errors.New("the outbox holds another event under this id")

// replayConflict makes the row an earlier replay of the same event left due again (data
// refreshed, attempts reset); a row of another source or type keeps its id.
const replayConflict = ` ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, published_at = NULL, attempts = 0,
    last_error = NULL, next_attempt_at = NULL, traceparent = EXCLUDED.traceparent, tracestate = EXCLUDED.tracestate
WHERE o.source = EXCLUDED.source AND o.type = EXCLUDED.type`

// RecordReplay writes e — a whole event, recorded first by another function, with its own
// id, source, type, subject, time and data — into schema's outbox inside tx, to be
// published again: the dead-letter store replays through it. Its id must be a UUID. If the
// outbox holds e's id already (an earlier replay, sent or not), that row is due again
// rather than a second added, so the event is never queued twice; an id held by an event of
// another source or type is ErrIDTaken.
func RecordReplay(ctx context.Context, tx pgx.Tx, schema string, e cloudevents.Event) error {
	if _, err := uuid.Parse(e.ID()); err != nil {
		return fmt.Errorf("replay %s: id %q is not a UUID", e.Type(), e.ID())
	}
	return insert(ctx, tx, schema, "replay", e, replayConflict)
}

// insert is Record and RecordReplay: it validates e, inserts it into schema's outbox (with
// onConflict, "" for none) and has the relay notified once tx commits; verb names the caller in errors. A
// conflict that updates nothing is ErrIDTaken.
func insert(ctx context.Context, tx pgx.Tx, schema, verb string, e cloudevents.Event, onConflict string) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("%s %s: %w", verb, e.Type(), err)
	}
	data := e.Data()
	if !json.Valid(data) {
		return fmt.Errorf("%s %s: data must be JSON", verb, e.Type())
	}
	outbox := pgx.Identifier{schema, "outbox"}.Sanitize()
	// The event keeps the trace it came with (a replay's); a new one joins the work's span.
	tr := TraceOf(ctx, e)
	var seq int64
	err := tx.QueryRow(ctx, `INSERT INTO `+outbox+` AS o (id, type, source, subject, time, data, traceparent, tracestate)
		VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), NULLIF($8, ''))`+
		onConflict+` RETURNING seq`, e.ID(), e.Type(), e.Source(), e.Subject(), e.Time(), data, tr.TraceParent, tr.TraceState).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s %s %s: %w", verb, e.Type(), e.ID(), ErrIDTaken)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, e.Type(), err)
	}
	// The relay is woken after the commit, not by pg_notify in this transaction: a NOTIFY
	// holds PostgreSQL's global notify-queue lock through the commit's WAL flush, serialising
	// every committing writer (issue 19; platform/database/notify.go).
	if after, ok := tx.(interface{ NotifyAfterCommit(channel, payload string) }); ok {
		after.NotifyAfterCommit(Notification, schema)
		return nil
	}
	// A transaction begun elsewhere (not by database.DB) cannot say when it commits.
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Notification, schema)
	return err
}

// Emit is New then Record.
func Emit(ctx context.Context, tx pgx.Tx, schema, source, typ, subject string, data any) error {
	e, err := New(source, typ, subject, data)
	if err != nil {
		return err
	}
	return Record(ctx, tx, schema, e)
}

// HasOutbox reports whether m brings the outbox along, i.e. whether its function records
// events a relay must publish.
func HasOutbox(m *database.Migrations) bool {
	if m == nil {
		return false
	}
	for _, w := range m.With {
		if w.Track == Migrations().Track {
			return true
		}
	}
	return false
}
