package reservations_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
)

func payment(reservationID, status string) events.Payment {
	return events.Payment{PaymentID: "5a5a5a5a-0000-4000-8000-000000000001", Version: 1, ReservationID: reservationID,
		CustomerID: alice, AmountCents: quoteGross, Currency: "EUR", Status: status}
}

// TestPaymentAuthorizedConfirmsOnce: redeliveries (same id) and new deliveries of the same
// fact (another id) confirm once and record one reservation.confirmed.
func TestPaymentAuthorizedConfirmsOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	res := a.book(vehicle1, p, ret)
	// A payment of another customer (an agent's on someone else's card) confirms nothing.
	other := payment(res.ID, "authorized")
	other.CustomerID = "b0b00000-0000-4000-8000-000000000002"
	assert.Equal(t, 202, a.event("pay-other", events.PaymentAuthorized, other).status)
	assert.Equal(t, reservations.StatusPending, a.status(res.ID))
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "pay-1"
			if i%2 == 1 {
				id = "pay-1-again"
			}
			statuses[i] = a.event(id, events.PaymentAuthorized, payment(res.ID, "authorized")).status
		}()
	}
	wg.Wait()
	for _, s := range statuses {
		assert.Contains(t, []int{200, 202}, s)
	}
	assert.Equal(t, reservations.StatusConfirmed, a.status(res.ID))
	assert.Equal(t, []string{"created " + res.ID, "confirmed " + res.ID}, a.recorded())
	assert.Equal(t, 200, a.event("pay-1", events.PaymentAuthorized, payment(res.ID, "authorized")).status, "a duplicate is 200")

	// Malformed payloads are refused for good (400: dead-lettered, not retried).
	assert.Equal(t, 400, a.event("bad-1", events.PaymentAuthorized, map[string]any{"reservationId": "nope"}).status)
	assert.Equal(t, 400, a.event("bad-2", events.PaymentAuthorized, nil).status)
}

// TestPaymentFailedKeepsTheHold (issue 13): a declined card no longer cancels the booking:
// it stays pending with the decline's reason (shown to the renter), holding the car, no
// event recorded; a late authorization still confirms it. A decline of a booking in any
// other state changes nothing.
func TestPaymentFailedKeepsTheHold(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	res := a.book(vehicle1, p, ret)
	failed := payment(res.ID, "failed")
	failed.Reason = "card_declined"
	assert.Equal(t, 202, a.event("fail-1", events.PaymentFailed, failed).status)
	got := decode[reservations.Reservation](t, a.do("alice", http.MethodGet, "/api/reservations/"+res.ID, ""))
	assert.Equal(t, reservations.StatusPending, got.Status)
	assert.Equal(t, "card_declined", got.PaymentDeclinedReason)
	assert.Equal(t, 2, got.Version)
	assert.Empty(t, got.CancelReason)
	assert.Equal(t, []string{"created " + res.ID}, a.recorded())
	// The car stays held.
	r := a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle1, p, ret, ""))
	assert.Equal(t, http.StatusConflict, r.status, r.String())

	require.Equal(t, 202, a.event("auth-late", events.PaymentAuthorized, payment(res.ID, "authorized")).status)
	got = decode[reservations.Reservation](t, a.do("alice", http.MethodGet, "/api/reservations/"+res.ID, ""))
	assert.Equal(t, reservations.StatusConfirmed, got.Status)
	assert.Empty(t, got.PaymentDeclinedReason, "paid: the decline is history")
	before := a.snapshot()
	assert.Equal(t, 202, a.event("fail-2", events.PaymentFailed, failed).status)
	assert.Equal(t, before, a.snapshot(), "a decline of a confirmed booking changes nothing here")
}

// TestSweepExpiresOnlyPastDueHolds: a ping expires pending holds past their expiry, leaves
// fresh holds and other states alone, and purges expired idempotency keys.
func TestSweepExpiresOnlyPastDueHolds(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ctx := context.Background()
	p, ret := period(3, 48)
	due := a.book(vehicle1, p, ret)
	fresh := a.book(vehicle2, p, ret)
	confirmed := a.book(vehicle1, ret, ret.Add(24*time.Hour))
	a.setStatus(confirmed.ID, reservations.StatusConfirmed)
	_, err := a.db.Pool.Exec(ctx, `UPDATE reservations.reservations SET hold_expires_at = now() - interval '1 second' WHERE id = $1`, due.ID)
	require.NoError(t, err)
	_, err = a.db.Pool.Exec(ctx, `INSERT INTO reservations.idempotency_keys (scope, key, request_hash, locked_until, expires_at)
		VALUES ('sub:x', 'old', '\x00', now(), now() - interval '1 hour'), ('sub:x', 'new', '\x00', now(), now() + interval '1 hour')`)
	require.NoError(t, err)

	assert.Equal(t, 202, a.event("ping-1", events.Ping, map[string]any{}).status)
	assert.Equal(t, reservations.StatusExpired, a.status(due.ID))
	assert.Equal(t, reservations.StatusPending, a.status(fresh.ID))
	assert.Equal(t, reservations.StatusConfirmed, a.status(confirmed.ID))
	assert.Contains(t, a.recorded(), "expired "+due.ID)
	var keys int
	require.NoError(t, a.db.Pool.QueryRow(ctx, `SELECT count(*) FROM reservations.idempotency_keys`).Scan(&keys))
	assert.Equal(t, 1, keys)
	// A ping with no data works too (a PingSource without data), and finds nothing more.
	n := len(a.recorded())
	assert.Equal(t, 202, a.event("ping-2", events.Ping, nil).status)
	assert.Len(t, a.recorded(), n)
	// The expired hold frees the car.
	a.book(vehicle1, p, ret)
}

// TestOnlyReservationsSendersDeliver: a forged payment.authorized — the first defect found
// (design.md §9) — is refused unless the event platform delivers it from reservations' own
// Trigger, and a refused one confirms nothing.
func TestOnlyReservationsSendersDeliver(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	res := a.book(vehicle1, p, ret)
	body, err := json.Marshal(payment(res.ID, "authorized"))
	require.NoError(t, err)
	tests := []struct {
		name          string
		authorization string
		want          int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"an agent", a.tokens["carla"], http.StatusForbidden},
		{"an admin", a.tokens["ada"], http.StatusForbidden},
		{"payments-api calling as itself", a.tokens["service:payments-api"], http.StatusForbidden},
		{"another function's Trigger", a.id.DeliveryBearer(t, platform.Trigger("vehicles-api-reservation-created"), reservations.ServiceName), http.StatusForbidden},
		{"the right Trigger, addressed to another function", a.id.DeliveryBearer(t, senderOf(events.PaymentAuthorized), "payments-api"), http.StatusUnauthorized},
	}
	before := a.snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do("", http.MethodPost, "/cloudevents", string(body),
				"ce-specversion", "1.0", "ce-id", "forged-"+tt.name, "ce-source", "test", "ce-type", events.PaymentAuthorized,
				"Authorization", tt.authorization)
			assert.Equal(t, tt.want, r.status, r.String())
		})
	}
	assert.Equal(t, before, a.snapshot(), "a refused delivery changed the data")
	assert.Equal(t, reservations.StatusPending, a.status(res.ID))
	assert.Equal(t, http.StatusAccepted, a.event("pay-1", events.PaymentAuthorized, payment(res.ID, "authorized")).status)
	assert.Equal(t, reservations.StatusConfirmed, a.status(res.ID))
}
