package events

import (
	"context"
	"embed"
	"encoding/json"
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

// Notification is the PostgreSQL channel a commit with new outbox rows notifies; the payload
// is the schema. The relay listens, but polls too: notifications are a hint, not a promise.
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
	if err := e.Validate(); err != nil {
		return fmt.Errorf("record %s: %w", e.Type(), err)
	}
	outbox := pgx.Identifier{schema, "outbox"}.Sanitize()
	data := e.Data()
	if !json.Valid(data) {
		return fmt.Errorf("record %s: data must be JSON", e.Type())
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+outbox+` (id, type, source, subject, time, data) VALUES ($1, $2, $3, $4, $5, $6)`,
		e.ID(), e.Type(), e.Source(), e.Subject(), e.Time(), data); err != nil {
		return fmt.Errorf("record %s: %w", e.Type(), err)
	}
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Notification, schema)
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
