package payments_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/payments"
)

// TestAnotherCardAfterADecline: the booking's card is declined (payment.failed, the booking
// stays pending); the renter names another card, reservation.payment_requested (attempt 2)
// authorizes on it: payment.authorized, exactly one authorization at the provider, under
// the key of attempt 2. Redeliveries, a copy and a late attempt change nothing.
func TestAnotherCardAfterADecline(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenDecline)
	res.PaymentAttempt = 1
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	p := a.paymentOf(res.ReservationID)
	require.Equal(t, payments.StatusFailed, p.Status)
	assert.Equal(t, "card_declined", p.FailureReason)
	assert.Equal(t, 1, p.Attempt)

	declined := res.PaymentMethodID
	res.PaymentMethodID, res.PaymentAttempt, res.Version = a.method(payments.TokenSuccess), 2, 2
	a.deliverTwice(events.ReservationPaymentRequested, res)
	p = a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusAuthorized, p.Status)
	assert.Empty(t, p.FailureReason)
	assert.Equal(t, int64(20000), p.AuthorizedCents)
	assert.Equal(t, 2, p.Attempt)
	assert.Equal(t, res.PaymentMethodID, p.PaymentMethodID)
	assert.Equal(t, []string{events.PaymentFailed, events.PaymentAuthorized}, a.outbox())
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.sandbox_authorizations`), "exactly one authorization")
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.sandbox_operations WHERE idempotency_key = $1`,
		fmt.Sprintf("authorize:%s:2:%s", res.ReservationID, res.PaymentMethodID)))

	// The first card's attempt again (reservation.created redelivered late, or an older
	// request): nothing changes.
	before := a.snapshot()
	stale := res
	stale.PaymentMethodID, stale.PaymentAttempt = declined, 1
	assert.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, stale).status)
	assert.Equal(t, before, a.snapshot())
}

// TestDeclinedAgainThenAuthorized: attempt 2 is declined too (recorded, payment.failed
// again), attempt 3 authorizes; attempt 2 arriving after 3 changes nothing.
func TestDeclinedAgainThenAuthorized(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(14276, payments.TokenDecline)
	res.PaymentAttempt = 1
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)

	second := res
	second.PaymentMethodID, second.PaymentAttempt, second.Version = a.method(payments.TokenInsufficientFunds), 2, 2
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationPaymentRequested, second).status)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusFailed, p.Status)
	assert.Equal(t, "insufficient_funds", p.FailureReason)
	assert.Equal(t, 2, p.Attempt)

	third := res
	third.PaymentMethodID, third.PaymentAttempt, third.Version = a.method(payments.TokenSuccess), 3, 3
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationPaymentRequested, third).status)
	before := a.snapshot()
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationPaymentRequested, second).status)
	assert.Equal(t, before, a.snapshot(), "an older attempt after a newer one")
	p = a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusAuthorized, p.Status)
	assert.Equal(t, 3, p.Attempt)
	assert.Equal(t, []string{events.PaymentFailed, events.PaymentFailed, events.PaymentAuthorized}, a.outbox())
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.sandbox_authorizations`))
}

// TestBadPaymentRequestsAreRefused: a request that can never be applied is a 400 (dead
// letter) and writes nothing.
func TestBadPaymentRequestsAreRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenDecline)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	good := res
	good.PaymentMethodID, good.PaymentAttempt = a.method(payments.TokenSuccess), 2
	bad := map[string]any{
		"attempt 1":        func() events.Reservation { r := good; r.PaymentAttempt = 1; return r }(),
		"no attempt":       func() events.Reservation { r := good; r.PaymentAttempt = 0; return r }(),
		"no total":         func() events.Reservation { r := good; r.TotalGross = 0; return r }(),
		"no reservationId": func() events.Reservation { r := good; r.ReservationID = "x"; return r }(),
		"not an object":    "nope",
	}
	before := a.snapshot()
	for name, data := range bad {
		r := a.deliver(uuid.NewString(), events.ReservationPaymentRequested, data)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", name, r.body)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), name)
	}
	assert.Equal(t, before, a.snapshot())
}

// TestAChangeOvertakingAnotherCard (found in review): after a decline the renter names
// another card (version 2, attempt 2, 200.00 €) and at once extends the booking (version 3,
// 260.00 €); each event has its own Trigger, so the change may arrive first. It is retried
// (5xx) rather than acknowledged while attempt 2 is on its way, and applied once that card
// is authorized: the authorization ends at 260.00 €.
func TestAChangeOvertakingAnotherCard(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenDecline)
	res.PaymentAttempt = 1
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)

	named := res
	named.PaymentMethodID, named.PaymentAttempt, named.Version = a.method(payments.TokenSuccess), 2, 2
	changed := named
	changed.Version, changed.TotalGross = 3, 26000

	before := a.snapshot()
	r := a.deliver(uuid.NewString(), events.ReservationChanged, changed)
	assert.GreaterOrEqual(t, r.status, 500, "retried while attempt 2 is on its way: %s", r.body)
	assert.Equal(t, before, a.snapshot())

	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationPaymentRequested, named).status)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationChanged, changed).status)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusAuthorized, p.Status)
	assert.Equal(t, int64(26000), p.AuthorizedCents)
	assert.Equal(t, int64(3), p.ReservationVersion)

	// A change of a booking whose current card was declined (no newer attempt) needs nothing.
	other := a.booking(20000, payments.TokenDecline)
	other.PaymentAttempt = 1
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, other).status)
	longer := other
	longer.Version, longer.TotalGross = 2, 26000
	assert.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationChanged, longer).status)
}
