package notifier

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// The SQL of notifications-api, over the tables of migrations 0001 and 0002: the history
// reads notifier.notifications, a resend or a message writes a pending row through queue,
// and PUT …/preferences writes notifier.preferences (read by both process types through
// getPreferences, store.go).

// record is one notification as the history shows it, before the caller's view is applied
// (view.go decides what of it a customer or an agent sees).
type record struct {
	ID            string
	Type          string
	Channel       string
	Status        string // as stored: pending, sent, failed
	Attempts      int
	LastError     string
	CustomerID    string
	ReservationID string
	Recipient     string
	RecipientName string
	Language      string
	Subject       string
	Body          string
	CreatedAt     time.Time
	SentAt        *time.Time
	ResendOf      string
	RequestedBy   string
	Erased        bool // the customer was erased: address, name and body are gone
}

const recordColumns = `n.id::text, n.type, n.channel, n.status, n.attempts, coalesce(n.last_error, ''), n.customer_id::text,
	coalesce(n.reservation_id::text, ''), n.recipient, n.recipient_name, n.language, n.subject, n.body, n.created_at, n.sent_at,
	coalesce(n.resend_of::text, ''), coalesce(n.requested_by, ''), coalesce(r.erased_at IS NOT NULL, false)`

const recordFrom = ` FROM notifier.notifications n LEFT JOIN notifier.recipients r USING (customer_id)`

func scanRecord(row pgx.Row) (record, error) {
	var n record
	err := row.Scan(&n.ID, &n.Type, &n.Channel, &n.Status, &n.Attempts, &n.LastError, &n.CustomerID, &n.ReservationID,
		&n.Recipient, &n.RecipientName, &n.Language, &n.Subject, &n.Body, &n.CreatedAt, &n.SentAt, &n.ResendOf,
		&n.RequestedBy, &n.Erased)
	return n, err
}

// historyFilter selects notifications; empty fields select all. Status is the stored one.
type historyFilter struct {
	CustomerID, ReservationID, Channel, Status string
	From, To                                   time.Time // created at From or later, before To
	Page, PageSize                             int
	// HideReports leaves out the admins' report mails (reportRecipient): for all but admins.
	HideReports bool
}

// historyWhere selects the notifications of a historyFilter. Every filter is
// "$n = ” OR …" so that one statement serves every combination; the indexes on customer,
// reservation and created_at carry the selective ones.
const historyWhere = recordFrom + `
WHERE ($1 = '' OR n.customer_id = nullif($1, '')::uuid)
  AND ($2 = '' OR n.reservation_id = nullif($2, '')::uuid)
  AND ($3 = '' OR n.channel = $3)
  AND ($4 = '' OR n.status = $4)
  AND ($5::timestamptz IS NULL OR n.created_at >= $5)
  AND ($6::timestamptz IS NULL OR n.created_at < $6)
  AND NOT ($7::boolean AND n.customer_id = '` + reportRecipient + `'::uuid)`

// history returns a page of the notifications f selects, newest first, and how many it
// selects in all.
func (a *APIService) history(ctx context.Context, f historyFilter) ([]record, int, error) {
	args := []any{f.CustomerID, f.ReservationID, f.Channel, f.Status, nullTime(f.From), nullTime(f.To), f.HideReports}
	var total int
	if err := a.db.Pool.QueryRow(ctx, `SELECT count(*)`+historyWhere, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := a.db.Pool.Query(ctx, `SELECT `+recordColumns+historyWhere+` ORDER BY n.created_at DESC, n.id LIMIT $8 OFFSET $9`,
		append(args, f.PageSize, (f.Page-1)*f.PageSize)...)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record, error) { return scanRecord(row) })
	return out, total, err
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// errNoNotification: no notification has the id.
var errNoNotification = errors.New("no such notification")

// getRecord reads notification id.
func getRecord(ctx context.Context, q querier, id string) (record, error) {
	n, err := scanRecord(q.QueryRow(ctx, `SELECT `+recordColumns+recordFrom+` WHERE n.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return n, errNoNotification
	}
	return n, err
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const putPreferencesSQL = `INSERT INTO notifier.preferences AS p (customer_id, email, sms) VALUES ($1, $2, $3)
ON CONFLICT (customer_id) DO UPDATE SET email = EXCLUDED.email, sms = EXCLUDED.sms, updated_at = now()
WHERE (p.email, p.sms) IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.sms)`

// forgetAnswers deletes the answers notifications-api stored for Idempotency-Key replays
// that show customer id's notifications (their address and text): an erasure must not leave
// them until the keys expire. A retry of such a request afterwards runs again, and is
// refused: the customer is erased.
func forgetAnswers(ctx context.Context, tx pgx.Tx, customerID string) error {
	_, err := tx.Exec(ctx, `DELETE FROM notifier.idempotency_keys
		WHERE body IS NOT NULL AND position(convert_to($1, 'UTF8') IN body) > 0`, `"customerId":"`+customerID+`"`)
	return err
}
