package syncworker

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
)

// Payload is a webhook's body (the Standard Webhooks payload structure): the event's type,
// its time, and its data without the personal fields (events.PersonalFieldsOf) — a partner
// learns that booking X of customer Y was confirmed, never the customer's name, e-mail or
// phone. Stored as sent, so nothing personal is kept either.
type Payload struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Subject   string          `json:"subject,omitempty"`
	Data      json.RawMessage `json:"data"`
}

// unsubscribed reports whether no active subscription takes e's type, so the event is
// acknowledged without a transaction (events.Unwanted): the usual case, and before, every
// event cost sync-worker a writing commit — three per booking. No inbox row is needed for
// that: handleEvent would have queued nothing, and a redelivery after a subscription
// appeared queues the event for it once (sync.deliveries is unique per subscription and
// event). A type sync-worker never takes goes on to handleEvent, which refuses it.
func (s *Service) unsubscribed(ctx context.Context, e cloudevents.Event) (bool, error) {
	if !subscribable(e.Type()) {
		return false, nil
	}
	var wanted bool
	err := s.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sync.subscriptions WHERE status = 'active' AND $1 = ANY (types))`,
		e.Type()).Scan(&wanted)
	return !wanted, err
}

// handleEvent queues e for every active subscription to its type, in the transaction that
// records it in the inbox: a redelivered event is queued no second time.
func (s *Service) handleEvent(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
	if !subscribable(e.Type()) {
		return nil, events.Permanentf("sync-worker takes no %s", e.Type())
	}
	var data map[string]any
	dec := json.NewDecoder(bytes.NewReader(e.Data()))
	dec.UseNumber() // amounts and ids pass as sent, not through a float64
	if err := dec.Decode(&data); err != nil || data == nil {
		return nil, events.Permanentf("%s data is not a JSON object", e.Type())
	}
	events.EachPersonal(data, func(obj map[string]any, key string) { delete(obj, key) }) // at any depth
	stripped, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(Payload{Type: e.Type(), Timestamp: e.Time().UTC(), Subject: e.Subject(), Data: stripped})
	if err != nil {
		return nil, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO sync.deliveries (id, subscription_id, event_source, event_id, event_type, payload, tries_left)
SELECT gen_random_uuid(), id, $1, $2, $3, $4, $5 FROM sync.subscriptions WHERE status = 'active' AND $3 = ANY (types)
ON CONFLICT DO NOTHING`, e.Source(), e.ID(), e.Type(), body, s.cfg.MaxAttempts)
	return nil, err
}
