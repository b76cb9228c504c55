package payments_test

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker/brokertest"
	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/pgtest"
)

// TestRefusedDeliveriesChangeNothing: /cloudevents admits only the event platform's
// deliveries from payments-api's own Triggers and PingSource. A forged reservation.cancelled
// for a captured payment — accepted, it refunds the payment in full — is refused without a
// token (401), with a token of another issuer or signed with another key (401), expired
// (401), addressed to another Service (401), from another function's Trigger (403), and with
// people's and functions' tokens (403); none of them changes a row. Delivered by its
// Trigger, the same event refunds. Pings likewise come only from payments' PingSource.
func TestRefusedDeliveriesChangeNothing(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	p := a.paymentOf(res.ReservationID)
	r := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(20000))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	forged := res
	forged.Status, forged.Version = "cancelled", 2

	typ := events.ReservationCancelled
	tests := brokertest.WithCallers(brokertest.DeliveryCredentials(t, a.id, payments.ServiceName, typ),
		brokertest.Credential{Name: "an agent", Auth: a.tokens["carla"], Status: http.StatusForbidden},
		brokertest.Credential{Name: "an admin", Auth: a.tokens["ada"], Status: http.StatusForbidden},
		brokertest.Credential{Name: "reservations-api's own identity", Auth: a.tokens["service:reservations-api"], Status: http.StatusForbidden},
	)
	// One event id for all: had a refused delivery recorded it in the inbox, the accepted
	// one would be a duplicate and refund nothing.
	id := uuid.NewString()
	for _, tt := range tests {
		before, rowsBefore := pgtest.Snapshot(t, a.db, payments.Migrations.Schema), a.snapshot()
		r := a.deliverAs(tt.Auth, id, typ, forged)
		require.Equal(t, tt.Status, r.status, "%s: %s", tt.Name, r.body)
		if tt.Status >= 300 {
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), tt.Name)
			if tt.Status == http.StatusUnauthorized {
				assert.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer"), "%s: WWW-Authenticate %q", tt.Name, r.header.Get("WWW-Authenticate"))
			}
			assert.Equal(t, before, pgtest.Snapshot(t, a.db, payments.Migrations.Schema), "%s changed the database", tt.Name)
			assert.Equal(t, rowsBefore, a.snapshot(), "%s changed a row", tt.Name)
			assert.Equal(t, payments.StatusCaptured, a.paymentOf(res.ReservationID).Status, tt.Name)
		}
	}
	p = a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusRefunded, p.Status)
	assert.Equal(t, int64(20000), p.RefundedCents)
	assert.Equal(t, 1, a.ops("refund"))

	// The receiver's PingSource alike: another function's PingSource may not purge
	// payments' expired idempotency keys; its own does.
	require.Equal(t, http.StatusCreated, a.do("carla", http.MethodPost, "/api/payments",
		a.authorizeBody(uuid.NewString(), payments.TokenSuccess, 100), "Idempotency-Key", "old").status)
	_, err := a.db.Pool.Exec(context.Background(), `UPDATE payments.idempotency_keys SET expires_at = now() - interval '1 second'`)
	require.NoError(t, err)
	otherPing := brokertest.OtherDelivery(t, payments.ServiceName, events.Ping)
	before := pgtest.Snapshot(t, a.db, payments.Migrations.Schema)
	r = a.deliverAs(a.id.DeliveryBearer(t, otherPing.Sender, payments.ServiceName), uuid.NewString(), events.Ping, map[string]any{})
	assert.Equal(t, http.StatusForbidden, r.status, "a ping of %s: %s", otherPing.Sender, r.body)
	assert.Equal(t, before, pgtest.Snapshot(t, a.db, payments.Migrations.Schema), "a refused ping changed the database")
	assert.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.Ping, map[string]any{}).status)
	assert.Zero(t, a.count(`SELECT count(*) FROM payments.idempotency_keys`))
}

// TestSendersComeFromTheManifests holds the route table's senders to knative/base: the
// receiver admits exactly the Triggers and PingSources that deliver to payments-api.
func TestSendersComeFromTheManifests(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var want []platform.Sender
	for _, typ := range slices.Sorted(maps.Keys(events.Types)) {
		for _, d := range brokertest.DeliveriesOf(t, typ) {
			if d.Service == payments.ServiceName && !slices.Contains(want, d.Sender) {
				want = append(want, d.Sender)
			}
		}
	}
	var got []platform.Sender
	for _, r := range a.svc.Routes() {
		if r.Path == events.ReceivePath {
			got = append(got, r.Access.Senders...)
		}
	}
	assert.ElementsMatch(t, want, got)
}
