package notifier

import (
	"context"
	"embed"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the notifier schema: recipients, notifications, and the inbox (with the
// outbox the events package always brings; the worker emits nothing into it), and the
// Idempotency-Keys of notifications-api's sends and resends.
var Migrations = database.Migrations{Schema: "notifier", FS: migrationFiles, Dir: "migrations",
	With: []database.Migrations{events.Migrations(), idempotency.Migrations()}}

// wakeChannel is the PostgreSQL channel a new notification notifies, waking the sender
// before its next poll. Polling is the guarantee; the notification is a hint.
const wakeChannel = "orange_notifier_mail"

// recipient is one row of the read model.
type recipient struct {
	CustomerID string
	Version    int64
	Email      string
	FirstName  string
	LastName   string
	Language   string
	Phone      string // E.164; empty when the customer gave none
	Erased     bool
}

// upsertRecipientSQL applies a customer's data only when its version is newer than the
// stored one, and never to an erased customer.
const upsertRecipientSQL = `INSERT INTO notifier.recipients AS r (customer_id, version, email, first_name, last_name, language, phone)
VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''))
ON CONFLICT (customer_id) DO UPDATE SET
	version = EXCLUDED.version, email = EXCLUDED.email, first_name = EXCLUDED.first_name,
	last_name = EXCLUDED.last_name, language = EXCLUDED.language, phone = EXCLUDED.phone, updated_at = now()
WHERE r.version < EXCLUDED.version AND r.erased_at IS NULL`

// eraseRecipientSQL removes a customer's personal data, whatever the versions, and keeps a
// tombstone so that an older event arriving later cannot bring it back. A tombstone is left
// as it is by a repeated erasure (of no newer version): a repeat changes nothing.
const eraseRecipientSQL = `INSERT INTO notifier.recipients AS r (customer_id, version, email, first_name, last_name, erased_at)
VALUES ($1, $2, NULL, NULL, NULL, now())
ON CONFLICT (customer_id) DO UPDATE SET
	version = greatest(r.version, EXCLUDED.version), email = NULL, first_name = NULL, last_name = NULL, phone = NULL,
	erased_at = coalesce(r.erased_at, now()), updated_at = now()
WHERE r.erased_at IS NULL OR r.version < EXCLUDED.version`

// redactNotificationsSQL removes the personal data from an erased customer's notifications
// and returns their ids (which name their files in folder mode); one still pending is given
// up. A mail server's error may quote the address, so an error is replaced too; and the
// subject, which an agent types freely ("Emma Becker, your licence B123456 expires") and a
// template fills with the booking's facts. The type and the times stay: the log keeps that a
// mail of which kind went out when.
const redactNotificationsSQL = `UPDATE notifier.notifications SET recipient = '', recipient_name = '', body = '', subject = '',
	last_error = CASE WHEN status = 'pending' THEN 'customer erased before the mail was sent'
		WHEN last_error IS NULL OR last_error LIKE 'customer erased%' THEN last_error
		ELSE 'customer erased: error text removed' END,
	status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END
WHERE customer_id = $1
RETURNING id::text`

// erasedNotificationSQL says whether notification $1 belongs to an erased customer.
const erasedNotificationSQL = `SELECT EXISTS (SELECT 1 FROM notifier.notifications n
	JOIN notifier.recipients r USING (customer_id) WHERE n.id = $1 AND r.erased_at IS NOT NULL)`

// getRecipientSQL reads a recipient FOR SHARE: an erasure (which updates the row) waits for
// the transaction that read it and then redacts what that wrote about the customer too, and
// one that committed before is seen.
const getRecipientSQL = `SELECT customer_id::text, version, coalesce(email, ''), coalesce(first_name, ''),
	coalesce(last_name, ''), language, coalesce(phone, ''), erased_at IS NOT NULL
FROM notifier.recipients WHERE customer_id = $1 FOR SHARE`

func applyRecipient(ctx context.Context, tx pgx.Tx, r recipient) error {
	_, err := tx.Exec(ctx, upsertRecipientSQL, r.CustomerID, r.Version, r.Email, r.FirstName, r.LastName, r.Language, r.Phone)
	return err
}

// eraseRecipient leaves a tombstone of the customer and redacts their notifications,
// returning the notifications' ids.
func eraseRecipient(ctx context.Context, tx pgx.Tx, customerID string, version int64) ([]string, error) {
	if _, err := tx.Exec(ctx, eraseRecipientSQL, customerID, version); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM notifier.preferences WHERE customer_id = $1`, customerID); err != nil {
		return nil, err
	}
	if err := forgetAnswers(ctx, tx, customerID); err != nil { // notifications-api's (api_store.go)
		return nil, err
	}
	rows, err := tx.Query(ctx, redactNotificationsSQL, customerID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// errUnknownRecipient: no customer event for the id has arrived yet.
var errUnknownRecipient = errors.New("unknown recipient")

// getRecipient reads the customer's row of the read model in tx, locked against an erasure
// until tx ends (getRecipientSQL): every transaction that writes a notification for a
// customer, in either process type, reads the recipient through it.
func getRecipient(ctx context.Context, tx pgx.Tx, customerID string) (recipient, error) {
	var r recipient
	err := tx.QueryRow(ctx, getRecipientSQL, customerID).Scan(&r.CustomerID, &r.Version, &r.Email,
		&r.FirstName, &r.LastName, &r.Language, &r.Phone, &r.Erased)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, errUnknownRecipient
	}
	return r, err
}

// preferences are a customer's channels for the messages they may choose how to get.
type preferences struct {
	Email bool
	SMS   bool
}

// defaultPreferences hold for a customer who never chose: email only (migration 0002).
var defaultPreferences = preferences{Email: true}

// getPreferences reads the customer's channels (the defaults when they never chose): the
// worker's reminders and notifications-api's SMS requests both decide by them.
func getPreferences(ctx context.Context, q querier, customerID string) (preferences, error) {
	p := defaultPreferences
	err := q.QueryRow(ctx, `SELECT email, sms FROM notifier.preferences WHERE customer_id = $1`, customerID).Scan(&p.Email, &p.SMS)
	if errors.Is(err, pgx.ErrNoRows) {
		return defaultPreferences, nil
	}
	return p, err
}

// notification is one row of notifier.notifications as the sender needs it.
type notification struct {
	ID            string
	Type          string
	Channel       string // ChannelEmail or ChannelSMS: which sender sends it
	Recipient     string
	RecipientName string
	Language      string
	Subject       string
	Body          string
	Attempts      int
	CreatedAt     time.Time
}

// Channels a notification goes out by (notifier.notifications.channel).
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// pending is a notification to queue: the worker's sender sends it.
type pending struct {
	// Source and EventID identify what asked for it: the CloudEvent's (source, id), or
	// notifications-api and the request's id. With Channel they are unique: a redelivered
	// event or a repeated request queues nothing more.
	Source, EventID string
	Type            string // the template key (an event type) or "message" for free text
	Channel         string // ChannelEmail or ChannelSMS (empty: email)
	CustomerID      string
	ReservationID   string // empty when none
	Recipient       string // the address or number
	RecipientName   string
	Language        string
	Subject         string // empty for SMS
	Body            string
	RequestedBy     string // the person's subject when notifications-api asked; empty for events
	ResendOf        string // the notification a resend repeats; empty otherwise
}

const queueSQL = `INSERT INTO notifier.notifications
	(event_source, event_id, type, channel, customer_id, reservation_id, recipient, recipient_name,
	 language, subject, body, requested_by, resend_of)
VALUES ($1, $2, $3, coalesce(nullif($4, ''), 'email'), $5, nullif($6, '')::uuid, $7, $8, $9, $10, $11,
	nullif($12, ''), nullif($13, '')::uuid)
ON CONFLICT (event_source, event_id, channel) DO NOTHING
RETURNING id::text`

// queue writes p as a pending notification in tx and wakes the sender when tx commits. It
// returns the new row's id, or "" when (source, event id, channel) was queued before.
func queue(ctx context.Context, tx pgx.Tx, p pending) (string, error) {
	var id string
	err := tx.QueryRow(ctx, queueSQL, p.Source, p.EventID, p.Type, p.Channel, p.CustomerID, p.ReservationID,
		p.Recipient, p.RecipientName, p.Language, p.Subject, p.Body, p.RequestedBy, p.ResendOf).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, '')`, wakeChannel)
	return id, err
}

// claimSQL leases up to $1 due notifications for $2 seconds, counting the attempt: another
// replica skips them, and if this one dies mid-send they are due again when the lease ends.
const claimSQL = `WITH picked AS MATERIALIZED (
	SELECT id FROM notifier.notifications
	WHERE status = 'pending' AND next_attempt_at <= now()
	ORDER BY next_attempt_at, created_at
	LIMIT $1
	FOR UPDATE SKIP LOCKED)
UPDATE notifier.notifications n
SET attempts = n.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
WHERE n.id IN (SELECT id FROM picked)
RETURNING n.id::text, n.type, n.channel, n.recipient, n.recipient_name, n.language, n.subject, n.body, n.attempts, n.created_at`

// The marks apply only to a row still pending: an erasure may have given it up meanwhile.
const (
	markSentSQL   = `UPDATE notifier.notifications SET status = 'sent', sent_at = now(), last_error = NULL WHERE id = $1 AND status = 'pending'`
	markRetrySQL  = `UPDATE notifier.notifications SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1 AND status = 'pending'`
	markFailedSQL = `UPDATE notifier.notifications SET status = 'failed', last_error = $2 WHERE id = $1 AND status = 'pending'`
	// releaseSQL hands a claimed notification back, uncounted (shutdown).
	releaseSQL = `UPDATE notifier.notifications SET attempts = attempts - 1, next_attempt_at = now() WHERE id = $1 AND status = 'pending'`
)

func (s *Service) claim(ctx context.Context, limit int, lease time.Duration) ([]notification, error) {
	rows, err := s.db.Pool.Query(ctx, claimSQL, limit, lease.Seconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (notification, error) {
		var n notification
		err := row.Scan(&n.ID, &n.Type, &n.Channel, &n.Recipient, &n.RecipientName, &n.Language, &n.Subject, &n.Body, &n.Attempts, &n.CreatedAt)
		return n, err
	})
}

func fullName(r recipient) string {
	switch {
	case r.FirstName == "":
		return r.LastName
	case r.LastName == "":
		return r.FirstName
	default:
		return r.FirstName + " " + r.LastName
	}
}
