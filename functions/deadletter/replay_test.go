package deadletter_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/functions/deadletter"
	"github.com/orangecarrental/orange/knative"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
)

// consumerTrigger is the Trigger the test's consumer gets reservation.created from (a
// Trigger of knative/base, so its dead letters are admitted).
const consumerTrigger = "payments-api-reservation-created"

// consumerMigrations is a consumer's schema: its inbox and one row per effect.
var consumerMigrations = database.Migrations{Schema: "consumer", Dir: "m", With: []database.Migrations{events.Migrations()},
	FS: fstest.MapFS{"m/0001_effects.sql": {Data: []byte(`CREATE TABLE consumer.effects (event_id text NOT NULL, source text NOT NULL);`)}}}

// system is the dead-letter store, a consumer with an inbox, and the in-process broker with
// the Broker's EventPolicies of knative/base between them: the consumer's Trigger
// dead-letters to the store, the store's relay publishes its replays as dead-letter.
type system struct {
	*store
	broken atomic.Bool
	got    atomic.Pointer[cloudevents.Event] // the last event the consumer processed
	broker *broker.Broker
	relay  *events.Relay
}

func newSystem(t *testing.T) *system {
	t.Helper()
	db := pg.NewDB(t, deadletter.Migrations, consumerMigrations)
	sys := &system{store: newStoreOn(t, db, deadletter.Config{ReplayMax: 100})}
	id := sys.id
	consumer := platform.RouteTable{{Name: "receiveEvent", Method: http.MethodPost, Path: events.ReceivePath,
		Access: platform.Deliveries(platform.Trigger(consumerTrigger)),
		Handler: events.Receiver(db, "consumer", func(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
			if sys.broken.Load() {
				return nil, events.Permanentf("cannot process %s yet", e.ID())
			}
			_, err := tx.Exec(ctx, `INSERT INTO consumer.effects (event_id, source) VALUES ($1, $2)`, e.ID(), e.Source())
			sys.got.Store(&e)
			return nil, err
		})}}
	transport := platform.NewTransport(nil, nil)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	transport.Mount("consumer", platform.Observe(quiet, platform.Handler(consumer, id.Authenticator("consumer"))))
	transport.Mount(deadletter.ServiceName, sys.handler)
	sign := func(sender platform.Sender, namespace, audience string) (string, error) {
		return id.Cluster.Token(devissuer.Subject(namespace, sender.ServiceAccount()), audience)
	}
	ns := authtest.Namespace
	tg := broker.Trigger{Name: consumerTrigger, Namespace: ns, Broker: auth.DefaultBroker,
		Filter:     map[string]string{"type": events.ReservationCreated},
		Subscriber: broker.Destination{Namespace: ns, Service: "consumer", Path: events.ReceivePath, Audience: auth.ServiceAudience(ns, "consumer")},
		Delivery: broker.Delivery{DeadLetterSink: &broker.Destination{Namespace: ns, Service: deadletter.ServiceName,
			Audience: auth.ServiceAudience(ns, deadletter.ServiceName)}}}
	policies, err := broker.LoadEventPolicies(knative.Manifests, "base")
	require.NoError(t, err)
	sys.broker = broker.New([]broker.Trigger{tg}, broker.HTTPDeliverer(transport, sign),
		broker.Options{Logger: quiet, Policies: broker.NewPolicies(policies, ns, auth.DefaultBroker)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sys.broker.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	sys.relay = &events.Relay{DB: db, Schema: deadletter.Migrations.Schema, Logger: quiet,
		Publisher: sys.broker.As(devissuer.Subject(ns, deadletter.ServiceName))}
	return sys
}

// publish sends e to the Broker as reservations-api's relay does; the in-memory broker
// returns once it was delivered or dead-lettered.
func (sys *system) publish(e cloudevents.Event) {
	sys.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(sys.t, sys.broker.PublishAs(ctx, devissuer.Subject(authtest.Namespace, "reservations-api"), e))
}

// drain runs the store's relay once: the replays go to the Broker.
func (sys *system) drain() int {
	sys.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := sys.relay.Drain(ctx)
	require.NoError(sys.t, err)
	return n
}

func (sys *system) effects(e cloudevents.Event) int {
	sys.t.Helper()
	var n int
	require.NoError(sys.t, sys.db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM consumer.effects WHERE event_id = $1 AND source = $2`, e.ID(), e.Source()).Scan(&n))
	return n
}

func reservationCreated(t *testing.T) cloudevents.Event {
	t.Helper()
	e, err := events.New("reservations-api", events.ReservationCreated, newCustomer(), map[string]any{"reservationId": "r", "version": 1})
	require.NoError(t, err)
	return e
}

// TestAReplayAfterTheFixHasExactlyOneEffect is the acceptance: a consumer with an
// inbox refuses an event, the Broker dead-letters it here with Knative's error extensions;
// once the consumer works, one replay — the original event, its own id and source, through
// the store's outbox and the Broker's EventPolicies — has its effect once, and a second
// replay changes nothing more (the consumer's inbox knows the id).
func TestAReplayAfterTheFixHasExactlyOneEffect(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	sys.broken.Store(true)
	e := reservationCreated(t)
	sys.publish(e)
	list := sys.letters("")
	require.Equal(t, 1, list.Total, "dead-lettered")
	l := list.Items[0]
	assert.Equal(t, consumerTrigger, l.Trigger)
	assert.Equal(t, e.ID(), l.Event.ID)
	require.NotNil(t, l.Error.Code)
	assert.Equal(t, http.StatusBadRequest, *l.Error.Code)
	assert.Equal(t, "http://consumer.orange.svc.cluster.local/cloudevents", l.Error.Destination)
	require.Zero(t, sys.effects(e))

	sys.broken.Store(false) // the consumer is fixed
	r := sys.do(http.MethodPost, deadletter.Prefix+"/"+l.ID+"/replay", sys.admin, "Idempotency-Key", "replay-1")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var got letter
	r.json(t, &got)
	assert.Equal(t, deadletter.StatusReplayed, got.Status)
	assert.Equal(t, 1, got.ReplayCount)
	assert.Equal(t, "ada", got.ReplayedBy)
	// The same request again (a client's retry) is answered from its key, replays nothing.
	again := sys.do(http.MethodPost, deadletter.Prefix+"/"+l.ID+"/replay", sys.admin, "Idempotency-Key", "replay-1")
	assert.JSONEq(t, string(r.body), string(again.body))

	require.Equal(t, 1, sys.drain(), "one replay in the outbox")
	assert.Equal(t, 1, sys.effects(e), "one effect")
	delivered := sys.got.Load()
	require.NotNil(t, delivered)
	assert.Equal(t, e.Type(), delivered.Type())
	assert.Equal(t, e.Subject(), delivered.Subject())
	assert.WithinDuration(t, e.Time(), delivered.Time(), time.Microsecond, "its own time (PostgreSQL keeps microseconds)")
	assert.JSONEq(t, string(e.Data()), string(delivered.Data()))
	for k := range delivered.Extensions() {
		assert.NotContains(t, k, "knativeerror", "the replay carries Knative's error extensions")
	}
	require.Zero(t, sys.drain(), "sent")

	// A second replay: sent again, the consumer's inbox dedupes it.
	r = sys.do(http.MethodPost, deadletter.Prefix+"/"+l.ID+"/replay", sys.admin)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &got)
	assert.Equal(t, 2, got.ReplayCount)
	require.Equal(t, 1, sys.drain())
	assert.Equal(t, 1, sys.effects(e), "still one effect")
	assert.Equal(t, 1, sys.letters("").Total, "no new letter: the replay was delivered")
	var outbox int
	require.NoError(t, sys.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM deadletter.outbox WHERE id = $1`, e.ID()).Scan(&outbox))
	assert.Equal(t, 1, outbox, "one outbox row for the event")

	// The Broker admits from dead-letter what the producers may send, with their own
	// sources: not a ping, not a type no producer sends, not a producer's type with
	// another's source.
	ping := cloudevents.NewEvent()
	ping.SetID("1c4a3b7e-0a52-4bbd-bf5a-6f1f7f0a0a01")
	ping.SetSource("/apis/v1/namespaces/orange/pingsources/x")
	ping.SetType(events.Ping)
	forged := reservationCreated(t)
	forged.SetSource("payments-api")
	madeUp := reservationCreated(t)
	madeUp.SetType("com.orangecarrental.admin.granted.v1")
	for _, e := range []cloudevents.Event{ping, forged, madeUp} {
		var refused *broker.PolicyError
		require.ErrorAs(t, sys.broker.PublishAs(context.Background(), devissuer.Subject(authtest.Namespace, deadletter.ServiceName), e), &refused,
			"%s from %s", e.Type(), e.Source())
	}
}

// TestAReplayThatFailsAgainIsStoredAgain: a replay the consumer still refuses comes back as
// the same letter, stored again with a second failure counted.
func TestAReplayThatFailsAgainIsStoredAgain(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	sys.broken.Store(true)
	e := reservationCreated(t)
	sys.publish(e)
	id := sys.letters("").Items[0].ID
	require.Equal(t, http.StatusOK, sys.do(http.MethodPost, deadletter.Prefix+"/"+id+"/replay", sys.admin).status)
	require.Equal(t, 1, sys.drain())
	list := sys.letters("")
	require.Equal(t, 1, list.Total)
	assert.Equal(t, deadletter.StatusStored, list.Items[0].Status)
	assert.Equal(t, 2, list.Items[0].Failures)
	assert.Equal(t, 1, list.Items[0].ReplayCount)
	assert.Zero(t, sys.effects(e))
}

// TestAFilteredReplayIsBounded: a filtered replay sends at most limit letters, oldest first,
// and says whether more match; the next request sends the rest, each with one effect.
func TestAFilteredReplayIsBounded(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	sys.broken.Store(true)
	var sent []cloudevents.Event
	for range 3 {
		e := reservationCreated(t)
		sys.publish(e)
		sent = append(sent, e)
	}
	require.Equal(t, 3, sys.letters("").Total)
	sys.broken.Store(false)

	var report struct {
		Replayed, Limit int
		More            bool
	}
	q := "?type=" + events.ReservationCreated + "&trigger=" + consumerTrigger + "&limit=2"
	r := sys.do(http.MethodPost, deadletter.Prefix+"/replay"+q, sys.admin, "Idempotency-Key", "bulk-1")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &report)
	assert.Equal(t, 2, report.Replayed)
	assert.True(t, report.More)
	left := sys.letters("?status=stored")
	require.Equal(t, 1, left.Total)
	assert.Equal(t, sent[2].ID(), left.Items[0].Event.ID, "oldest first: the newest waits")
	r = sys.do(http.MethodPost, deadletter.Prefix+"/replay"+q, sys.admin, "Idempotency-Key", "bulk-2")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &report)
	assert.Equal(t, 1, report.Replayed)
	assert.False(t, report.More)

	require.Equal(t, 3, sys.drain())
	for i, e := range sent {
		assert.Equal(t, 1, sys.effects(e), fmt.Sprintf("event %d", i))
	}
	assert.Equal(t, 3, sys.letters("?status=replayed").Total)
}
