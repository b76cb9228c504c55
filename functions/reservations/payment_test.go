package reservations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations"
)

// secondCard is the payment method a renter names after the first was declined.
const secondCard = "pm_5e7e0000a11ce0000000000000000002"

// eventSeq numbers the events tests deliver, so each has an id of its own.
var eventSeq atomic.Int64

// decline delivers payment.failed for reservation id.
func (a *api) decline(id string) {
	a.t.Helper()
	p := payment(id, "failed")
	p.Reason = "card_declined"
	require.Equal(a.t, http.StatusAccepted, a.event(fmt.Sprintf("fail-%s-%d", id, eventSeq.Add(1)), events.PaymentFailed, p).status)
}

// TestAnotherPaymentMethod (issue 13): after a decline the renter (or an agent) names
// another payment method for the pending booking: reservation.payment_requested carries it
// with the next payment attempt, the decline is cleared, and payments' authorization then
// confirms the booking.
func TestAnotherPaymentMethod(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	res := a.book(vehicle1, p, ret)
	path := "/api/reservations/" + res.ID + "/payment-method"
	body := fmt.Sprintf(`{"paymentMethodId":%q}`, secondCard)

	r := a.do("alice", http.MethodPost, path, body)
	require.Equal(t, http.StatusConflict, r.status, "no decline yet: the first card is being authorized: %s", r)
	a.decline(res.ID)
	assert.Equal(t, http.StatusNotFound, a.do("bob", http.MethodPost, path, body).status, "another customer's")
	assert.Equal(t, http.StatusPreconditionFailed, a.do("alice", http.MethodPost, path, body, "If-Match", `"1"`).status)

	r = a.do("alice", http.MethodPost, path, body, "If-Match", `"2"`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	got := decode[reservations.Reservation](t, r)
	assert.Equal(t, reservations.StatusPending, got.Status)
	assert.Equal(t, 2, got.PaymentAttempt)
	assert.Empty(t, got.PaymentDeclinedReason)
	assert.Equal(t, `"3"`, r.header.Get("ETag"))
	assert.NotContains(t, string(r.body), secondCard, "the payment method is not shown")

	typ, ev := a.lastEvent(res.ID)
	assert.Equal(t, events.ReservationPaymentRequested, typ)
	assert.Equal(t, secondCard, ev.PaymentMethodID)
	assert.Equal(t, 2, ev.PaymentAttempt)
	assert.Equal(t, int64(3), ev.Version)
	assert.Equal(t, quoteGross, ev.TotalGross)

	// A late copy of the first card's decline (attempt 1) does not mark the second card,
	// still being authorized, as declined.
	late := payment(res.ID, "failed")
	late.Reason, late.Attempt = "card_declined", 1
	require.Equal(t, http.StatusAccepted, a.event("fail-late-attempt-1", events.PaymentFailed, late).status)
	got = decode[reservations.Reservation](t, a.do("alice", http.MethodGet, "/api/reservations/"+res.ID, ""))
	assert.Empty(t, got.PaymentDeclinedReason, "an earlier attempt's decline changes nothing")
	assert.Equal(t, 3, got.Version)

	// Declined again (attempt 2): an agent names a third card for the customer.
	second := payment(res.ID, "failed")
	second.Reason, second.Attempt = "card_declined", 2
	require.Equal(t, http.StatusAccepted, a.event("fail-attempt-2", events.PaymentFailed, second).status)
	r = a.do("carla", http.MethodPost, path, `{"paymentMethodId":"pm_5e7e0000a11ce0000000000000000003"}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, 3, decode[reservations.Reservation](t, r).PaymentAttempt)

	// An agent's authorization through payments-api (attempt 4, unknown here) is declined:
	// adopted, so the renter's next card is attempt 5, a number payments has not used.
	agents := payment(res.ID, "failed")
	agents.Reason, agents.Attempt = "card_declined", 4
	require.Equal(t, http.StatusAccepted, a.event("fail-attempt-4", events.PaymentFailed, agents).status)
	r = a.do("alice", http.MethodPost, path, `{"paymentMethodId":"pm_5e7e0000a11ce0000000000000000005"}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, 5, decode[reservations.Reservation](t, r).PaymentAttempt)

	// The card of attempt 5 is declined too; an agent's authorization through payments-api
	// (attempt 6) confirms the booking, which then shows the attempt that paid.
	fifth := payment(res.ID, "failed")
	fifth.Reason, fifth.Attempt = "card_declined", 5
	require.Equal(t, http.StatusAccepted, a.event("fail-attempt-5", events.PaymentFailed, fifth).status)
	paid := payment(res.ID, "authorized")
	paid.Attempt = 6
	require.Equal(t, http.StatusAccepted, a.event("auth-6", events.PaymentAuthorized, paid).status)
	got = decode[reservations.Reservation](t, a.do("alice", http.MethodGet, "/api/reservations/"+res.ID, ""))
	assert.Equal(t, reservations.StatusConfirmed, got.Status)
	assert.Equal(t, 6, got.PaymentAttempt, "the attempt that paid")
	_, ev = a.lastEvent(res.ID)
	assert.Equal(t, 6, ev.PaymentAttempt)
	assert.Equal(t, []string{"created " + res.ID, "payment_requested " + res.ID, "payment_requested " + res.ID, "payment_requested " + res.ID, "confirmed " + res.ID}, a.recorded())
}

// TestPaymentMethodBadInput: every refused request is a 4xx problem and writes nothing.
func TestPaymentMethodBadInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	declined := a.book(vehicle1, p, ret)
	a.decline(declined.ID)
	confirmed := a.book(vehicle2, p, ret)
	a.setStatus(confirmed.ID, reservations.StatusConfirmed)
	expired := a.book("f1ee0000-0000-4000-8000-000000000005", p, ret)
	a.decline(expired.ID)
	_, err := a.db.Pool.Exec(context.Background(), `UPDATE reservations.reservations SET hold_expires_at = now() - interval '1 second' WHERE id = $1`, expired.ID)
	require.NoError(t, err)
	ok := fmt.Sprintf(`{"paymentMethodId":%q}`, secondCard)
	at := func(id string) string { return "/api/reservations/" + id + "/payment-method" }
	tests := []struct {
		name, user, path, body string
		header                 []string
		want                   int
	}{
		{"no body", "alice", at(declined.ID), ``, nil, 415},
		{"not json", "alice", at(declined.ID), `{"paymentMethodId":`, nil, 400},
		{"unknown field", "alice", at(declined.ID), `{"paymentMethodId":"` + secondCard + `","card":"4242"}`, nil, 400},
		{"no payment method", "alice", at(declined.ID), `{}`, nil, 400},
		{"a card number", "alice", at(declined.ID), `{"paymentMethodId":"4242424242424242"}`, nil, 400},
		{"a provider token", "alice", at(declined.ID), `{"paymentMethodId":"tok_success"}`, nil, 400},
		{"bad If-Match", "alice", at(declined.ID), ok, []string{"If-Match", "yesterday"}, 400},
		{"stale If-Match", "alice", at(declined.ID), ok, []string{"If-Match", `"1"`}, 412},
		{"confirmed", "alice", at(confirmed.ID), ok, nil, 409},
		{"hold expired", "alice", at(expired.ID), ok, nil, 409},
		{"not an id", "alice", at("nope"), ok, nil, 404},
		{"no such reservation", "alice", at(nobody), ok, nil, 404},
		{"another customer's", "bob", at(declined.ID), ok, nil, 404},
		{"anonymous", "", at(declined.ID), ok, nil, 401},
		{"fleet manager", "frank", at(declined.ID), ok, nil, 403},
		{"a function", "service:payments-api", at(declined.ID), ok, nil, 403},
	}
	before := a.snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(tt.user, http.MethodPost, tt.path, tt.body, tt.header...)
			require.Equal(t, tt.want, r.status, r.String())
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			var prob map[string]any
			require.NoError(t, json.Unmarshal(r.body, &prob))
		})
	}
	assert.Equal(t, before, a.snapshot(), "nothing written")
}

// TestErasedCustomerNamesNoCard: a customer's sign-in may outlive their erasure; their
// pending booking whose card was declined took another card afterwards, and was confirmed
// on it. Refused now.
func TestErasedCustomerNamesNoCard(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	res := a.book(vehicle1, p, ret)
	a.decline(res.ID)
	require.Equal(t, http.StatusAccepted, a.erase("erase-"+res.ID, alice).status)
	recorded := a.recorded()
	r := a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/payment-method", fmt.Sprintf(`{"paymentMethodId":%q}`, secondCard))
	require.Equal(t, http.StatusConflict, r.status, r.String())
	assert.Contains(t, r.String(), "erased")
	assert.Equal(t, recorded, a.recorded(), "no reservation.payment_requested")
}
