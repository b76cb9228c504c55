package deadletter

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the deadletter schema: the letters (migrations/0001_deadletter.sql), the
// outbox replays leave through, the inbox of customer.erased, idempotency keys.
var Migrations = database.Migrations{Schema: "deadletter", FS: migrationFiles, Dir: "migrations",
	With: []database.Migrations{events.Migrations(), idempotency.Migrations()}}

// The states of a letter.
const (
	StatusStored    = "stored"
	StatusReplayed  = "replayed"
	StatusDiscarded = "discarded"
)

// Letter is one stored dead letter: the event as it was delivered, where and why it failed,
// and what an admin did with it.
type Letter struct {
	ID          string
	Trigger     string
	EventID     string
	Source      string
	Type        string
	Subject     string
	Time        *time.Time
	ContentType string
	Extensions  map[string]any
	// Data is the event's data when it is JSON; DataBytes when it is anything else.
	Data      json.RawMessage
	DataBytes []byte
	ErrorDest string
	ErrorCode *int
	// ErrorData is knativeerrordata as received: base64 of the subscriber's answer.
	ErrorData    *string
	ReceivedAt   time.Time
	Failures     int
	LastFailedAt time.Time
	Status       string
	ReplayCount  int
	ReplayedAt   *time.Time
	ReplayedBy   *string
	DiscardedAt  *time.Time
	DiscardedBy  *string
}

// Store keeps the letters in PostgreSQL.
type Store struct {
	db *database.DB
}

const letterColumns = `id::text, trigger, event_id, source, type, subject, time, content_type, extensions, data, data_bytes,
error_dest, error_code, error_data, received_at, failures, last_failed_at, status, replay_count, replayed_at, replayed_by,
discarded_at, discarded_by`

func scanLetter(row pgx.Row) (*Letter, error) {
	var l Letter
	var ext []byte
	var data []byte
	if err := row.Scan(&l.ID, &l.Trigger, &l.EventID, &l.Source, &l.Type, &l.Subject, &l.Time, &l.ContentType, &ext, &data, &l.DataBytes,
		&l.ErrorDest, &l.ErrorCode, &l.ErrorData, &l.ReceivedAt, &l.Failures, &l.LastFailedAt, &l.Status, &l.ReplayCount, &l.ReplayedAt,
		&l.ReplayedBy, &l.DiscardedAt, &l.DiscardedBy); err != nil {
		return nil, err
	}
	if data != nil {
		l.Data = data
	}
	if err := json.Unmarshal(ext, &l.Extensions); err != nil {
		return nil, fmt.Errorf("extensions of letter %s: %w", l.ID, err)
	}
	return &l, nil
}

// insertSQL stores a dead letter once per (source, event id, Trigger). The same letter again
// while it is stored (a redelivery) changes nothing; after a replay it means the replay
// failed at the Trigger too: the letter is stored again with the new error, counting the
// failure. A discarded letter stays discarded.
const insertSQL = `INSERT INTO deadletter.letters AS l (id, trigger, event_id, source, type, subject, time, content_type,
    extensions, data, data_bytes, error_dest, error_code, error_data)
VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (source, event_id, trigger) DO UPDATE SET status = 'stored', failures = l.failures + 1, last_failed_at = now(),
    error_dest = EXCLUDED.error_dest, error_code = EXCLUDED.error_code, error_data = EXCLUDED.error_data
WHERE l.status = 'replayed'
RETURNING id::text`

// Insert stores l and reports whether it did — a new letter, or one replayed and failed
// again — or found it stored (or discarded) already: a redelivery, which changes nothing.
// A letter about a customer erased before it arrived is stored scrubbed
// (scrubLetterSQL) in the same transaction.
func (s *Store) Insert(ctx context.Context, l *Letter) (stored bool, id string, err error) {
	ext, err := json.Marshal(l.Extensions)
	if err != nil {
		return false, "", err
	}
	var data any
	if l.Data != nil {
		data = string(l.Data)
	}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		// Shared with other letters, exclusive with an erasure (Erase): a letter committed
		// while an erasure runs is either scrubbed by it or sees it.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtext('deadletter.erasure'))`); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, insertSQL, l.Trigger, l.EventID, l.Source, l.Type, l.Subject, l.Time, l.ContentType,
			string(ext), data, l.DataBytes, l.ErrorDest, l.ErrorCode, l.ErrorData).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			// Already stored (or discarded): a redelivery.
			return tx.QueryRow(ctx, `SELECT id::text FROM deadletter.letters WHERE source = $1 AND event_id = $2 AND trigger = $3`,
				l.Source, l.EventID, l.Trigger).Scan(&id)
		}
		if err != nil {
			return err
		}
		stored = true
		_, err = tx.Exec(ctx, scrubLetterSQL, placeholders(), id)
		return err
	})
	return stored, id, err
}

// scrubSQL removes an erased customer's personal data from the letters about them — their
// own events (subject) and any other naming them (data.customerId) — that %s selects:
// personal fields of the data get the erasure placeholders $1 ({id} the customer's id),
// the subscriber's answer (which may quote anything) and non-JSON data are dropped.
// Repeating it changes nothing.
const scrubSQL = `UPDATE deadletter.letters l SET
    data = CASE WHEN jsonb_typeof(l.data) = 'object' THEN l.data || (SELECT coalesce(jsonb_object_agg(p.key, to_jsonb(replace(p.value #>> '{}', '{id}', c.customer_id))), '{}')
        FROM jsonb_each($1::jsonb) p WHERE l.data ? p.key) ELSE l.data END,
    data_bytes = NULL, error_data = NULL
FROM deadletter.erased_customers c
WHERE %s`

var (
	// scrubCustomerSQL scrubs every letter about erased customer $2 (Erase).
	scrubCustomerSQL = fmt.Sprintf(scrubSQL, `(l.subject = $2 OR l.data->>'customerId' = $2) AND c.customer_id = $2`)
	// scrubLetterSQL scrubs letter $2 if it is about a customer erased before it arrived.
	scrubLetterSQL = fmt.Sprintf(scrubSQL, `l.id = $2 AND c.customer_id IN (l.subject, l.data->>'customerId')`)
)

// placeholders are the erasure's placeholders of every personal field, {id} standing for the
// customer's id.
func placeholders() string {
	m := make(map[string]string, len(events.PersonalFields))
	for _, k := range events.PersonalFields {
		m[k] = events.ErasedValue(k, "{id}")
	}
	raw, _ := json.Marshal(m)
	return string(raw)
}

// Erase scrubs customerID from every letter about them and from the outbox (replays), and
// remembers the erasure for letters still to come, inside tx: the inbox's transaction.
func (s *Store) Erase(ctx context.Context, tx pgx.Tx, customerID string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('deadletter.erasure'))`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO deadletter.erased_customers (customer_id) VALUES ($1) ON CONFLICT DO NOTHING`, customerID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, scrubCustomerSQL, placeholders(), customerID); err != nil {
		return err
	}
	_, err := events.ScrubOutbox(ctx, tx, Migrations.Schema, customerID)
	return err
}

// Filter narrows a list or a replay; empty fields match everything.
type Filter struct {
	Type, Trigger, Status, Source string
	From, To                      time.Time // received in [From, To)
	Page, PageSize                int
}

func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.Type != "" {
		add("type = $%d", f.Type)
	}
	if f.Trigger != "" {
		add("trigger = $%d", f.Trigger)
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if f.Source != "" {
		add("source = $%d", f.Source)
	}
	if !f.From.IsZero() {
		add("received_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("received_at < $%d", f.To)
	}
	if len(conds) == 0 {
		return "TRUE", nil
	}
	return strings.Join(conds, " AND "), args
}

// List returns a page of the letters f matches, newest first, and how many match.
func (s *Store) List(ctx context.Context, f Filter) ([]*Letter, int, error) {
	where, args := f.where()
	var total int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM deadletter.letters WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	n := len(args)
	rows, err := s.db.Pool.Query(ctx, fmt.Sprintf(`SELECT %s FROM deadletter.letters WHERE %s ORDER BY received_at DESC, id LIMIT $%d OFFSET $%d`,
		letterColumns, where, n+1, n+2), append(args, f.PageSize, (f.Page-1)*f.PageSize)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*Letter
	for rows.Next() {
		l, err := scanLetter(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, l)
	}
	return out, total, rows.Err()
}

// Get returns letter id, or a not-found error.
func (s *Store) Get(ctx context.Context, id string) (*Letter, error) {
	l, err := scanLetter(s.db.Pool.QueryRow(ctx, `SELECT `+letterColumns+` FROM deadletter.letters WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, platform.NotFound("no dead letter with id %s", id)
	}
	return l, err
}

// Discard marks letter id discarded by whom; a letter discarded already stays as it was.
func (s *Store) Discard(ctx context.Context, id, by string) (*Letter, error) {
	l, err := scanLetter(s.db.Pool.QueryRow(ctx, `UPDATE deadletter.letters SET status = 'discarded', discarded_at = now(), discarded_by = $2
WHERE id = $1 AND status <> 'discarded' RETURNING `+letterColumns, id, by))
	if errors.Is(err, pgx.ErrNoRows) {
		return s.Get(ctx, id)
	}
	return l, err
}
