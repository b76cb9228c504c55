package syncworker

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Subscription is a partner's webhook endpoint.
type Subscription struct {
	ID                  string    `json:"id"`
	URL                 string    `json:"url"`
	Types               []string  `json:"types"`
	Description         string    `json:"description"`
	Status              string    `json:"status"`
	DisabledReason      *string   `json:"disabledReason,omitempty"`
	ConsecutiveFailures int       `json:"consecutiveFailures"`
	CreatedAt           time.Time `json:"createdAt"`
	UpdatedAt           time.Time `json:"updatedAt"`
	// Secret is shown once, in the answer to its creation.
	Secret string `json:"secret,omitempty"`
}

// Delivery is one event queued for one subscription, with its attempts.
type Delivery struct {
	ID            string     `json:"id"`
	EventType     string     `json:"eventType"`
	EventSource   string     `json:"eventSource"`
	EventID       string     `json:"eventId"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	DeliveredAt   *time.Time `json:"deliveredAt,omitempty"`
	// Log is the attempts, in GET …/deliveries/{delivery} only: the list leaves it out
	// rather than show an empty log of a delivery that was tried.
	Log *[]Attempt `json:"log,omitempty"`
}

// Attempt is one try of a delivery: never the bodies.
type Attempt struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode *int      `json:"statusCode,omitempty"`
	DurationMs int       `json:"durationMs"`
	Error      string    `json:"error,omitempty"`
}

const subscriptionColumns = `id::text, url, types, description, status, disabled_reason, consecutive_failures, created_at, updated_at`

func scanSubscription(row pgx.Row) (*Subscription, error) {
	var s Subscription
	err := row.Scan(&s.ID, &s.URL, &s.Types, &s.Description, &s.Status, &s.DisabledReason, &s.ConsecutiveFailures, &s.CreatedAt, &s.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotFound
	}
	return &s, err
}

var errNotFound = errors.New("not found")

const insertSubscription = `INSERT INTO sync.subscriptions (id, url, types, description, secret) VALUES ($1, $2, $3, $4, $5)
RETURNING ` + subscriptionColumns

func (s *Service) listSubscriptions(ctx context.Context) ([]Subscription, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM sync.subscriptions ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Subscription{}
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *sub)
	}
	return out, rows.Err()
}

func (s *Service) getSubscription(ctx context.Context, id string) (*Subscription, error) {
	return scanSubscription(s.db.Pool.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM sync.subscriptions WHERE id = $1`, id))
}

// updateSubscription sets what is not nil. Enabling a subscription clears its failures.
const updateSubscription = `UPDATE sync.subscriptions SET
    url = coalesce($2, url), types = coalesce($3, types), description = coalesce($4, description),
    status = coalesce($5, status),
    disabled_reason = CASE WHEN $5::text IS NULL THEN disabled_reason WHEN $5 = 'active' THEN NULL ELSE 'admin' END,
    consecutive_failures = CASE WHEN $5 = 'active' THEN 0 ELSE consecutive_failures END,
    failing_since = CASE WHEN $5 = 'active' THEN NULL ELSE failing_since END,
    updated_at = now()
WHERE id = $1 RETURNING ` + subscriptionColumns

const deliveryColumns = `id::text, event_type, event_source, event_id, status, attempts,
CASE WHEN status = 'pending' THEN next_attempt_at END, created_at, delivered_at`

func scanDelivery(row pgx.Row) (*Delivery, error) {
	var d Delivery
	err := row.Scan(&d.ID, &d.EventType, &d.EventSource, &d.EventID, &d.Status, &d.Attempts, &d.NextAttemptAt, &d.CreatedAt, &d.DeliveredAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotFound
	}
	return &d, err
}

func (s *Service) listDeliveries(ctx context.Context, sub, status string, limit int64) ([]Delivery, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+deliveryColumns+` FROM sync.deliveries
WHERE subscription_id = $1 AND ($2 = '' OR status = $2) ORDER BY created_at DESC, id LIMIT $3`, sub, status, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return out, rows.Err()
}

func (s *Service) getDelivery(ctx context.Context, sub, id string) (*Delivery, error) {
	d, err := scanDelivery(s.db.Pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM sync.deliveries WHERE subscription_id = $1 AND id = $2`, sub, id))
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT attempt, at, status_code, duration_ms, error FROM sync.attempts WHERE delivery_id = $1 ORDER BY attempt`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	log := []Attempt{}
	for rows.Next() {
		var a Attempt
		if err := rows.Scan(&a.Attempt, &a.At, &a.StatusCode, &a.DurationMs, &a.Error); err != nil {
			return nil, err
		}
		log = append(log, a)
	}
	d.Log = &log
	return d, rows.Err()
}

// replayDelivery makes a delivery of an active subscription due now for one try (a failed
// replay is not retried: an admin asked for one); it
// keeps its id (the webhook-id), so a receiver that has it already can tell.
const replayDelivery = `UPDATE sync.deliveries d SET tries_left = CASE WHEN d.status = 'pending' THEN greatest(d.tries_left, 1) ELSE 1 END,
    status = 'pending', next_attempt_at = now()
FROM sync.subscriptions s WHERE s.id = d.subscription_id AND d.subscription_id = $1 AND d.id = $2 AND s.status = 'active'
RETURNING d.id`

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
