package payments_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// adjusted counts the provider's successful adjustments and what they released.
func (a *api) adjusted() (n int, released int64) {
	a.t.Helper()
	return a.count(`SELECT count(*) FROM payments.sandbox_operations WHERE operation = 'adjust' AND outcome = 'succeeded'`),
		a.released("adjust")
}

// TestChangesAdjustTheAuthorization: a booking of 200.00 € is extended to 260.00 € (the
// increase authorized), then shortened to 150.00 € (110.00 € released); each change once,
// however often it is delivered, and an older change after a newer one does nothing. The
// return captures the last total.
func TestChangesAdjustTheAuthorization(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)

	longer := res
	longer.Version, longer.TotalGross = 2, 26000
	a.deliverTwice(events.ReservationChanged, longer)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusAuthorized, p.Status)
	assert.Equal(t, int64(26000), p.AuthorizedCents)
	assert.Zero(t, p.UncoveredCents)
	assert.Equal(t, int64(2), p.ReservationVersion)
	assert.Equal(t, 26000, a.count(`SELECT amount_cents::int FROM payments.sandbox_authorizations`), "the provider holds the new total")

	shorter := res
	shorter.Version, shorter.TotalGross = 3, 15000
	a.deliverTwice(events.ReservationChanged, shorter)
	p = a.paymentOf(res.ReservationID)
	assert.Equal(t, int64(15000), p.AuthorizedCents)
	n, released := a.adjusted()
	assert.Equal(t, 2, n)
	assert.Equal(t, int64(26000-15000), released, "the excess is released")

	before := a.snapshot()
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationChanged, longer).status)
	assert.Equal(t, before, a.snapshot(), "version 2 after version 3 changes nothing")

	// The same total again (a change of car at the same price): no provider call.
	same := res
	same.Version, same.TotalGross = 4, 15000
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationChanged, same).status)
	n, _ = a.adjusted()
	assert.Equal(t, 2, n)
	assert.Equal(t, int64(4), a.paymentOf(res.ReservationID).ReservationVersion)

	done := res
	done.Version, done.TotalGross, done.Status = 6, 15000, "completed"
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCompleted, done).status)
	p = a.paymentOf(res.ReservationID)
	assert.Equal(t, int64(15000), p.CapturedCents)
	assert.Equal(t, []string{events.PaymentAuthorized, events.PaymentCaptured, events.InvoiceIssued}, a.outbox(),
		"an adjustment is no event")
}

// TestADeclinedIncreaseKeepsTheAuthorization: the card of a 200.00 € booking declines the
// increase to 220.00 €: the 200.00 € authorization stays, the decline and the uncovered
// 20.00 € are on the payment for agents, and the return collects the 220.00 € within the
// capture tolerance (200.00 € + 15 % = 230.00 €).
func TestADeclinedIncreaseKeepsTheAuthorization(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenLaterDeclined)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	require.Equal(t, payments.StatusAuthorized, a.paymentOf(res.ReservationID).Status)

	changed := res
	changed.Version, changed.TotalGross = 2, 22000
	a.deliverTwice(events.ReservationChanged, changed)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusAuthorized, p.Status)
	assert.Equal(t, int64(20000), p.AuthorizedCents)
	assert.Equal(t, int64(2000), p.UncoveredCents)
	assert.Equal(t, "card_declined", p.AdjustmentFailureReason)
	assert.Equal(t, 20000, a.count(`SELECT amount_cents::int FROM payments.sandbox_authorizations`))
	assert.Equal(t, []string{events.PaymentAuthorized}, a.outbox(), "the booking stands: no payment.failed")

	// A later decrease the card takes clears it.
	lower := res
	lower.Version, lower.TotalGross = 3, 19000
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationChanged, lower).status)
	p = a.paymentOf(res.ReservationID)
	assert.Equal(t, int64(19000), p.AuthorizedCents)
	assert.Zero(t, p.UncoveredCents)
	assert.Empty(t, p.AdjustmentFailureReason)
}

// TestDeclinedIncreaseIsCollectedAtTheReturn: 200.00 € authorized, the increase to 220.00 €
// declined; the return bills 220.00 € and captures all of it (limit 230.00 €).
func TestDeclinedIncreaseIsCollectedAtTheReturn(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenLaterDeclined)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.Version, res.TotalGross = 2, 22000
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationChanged, res).status)
	res.Version, res.Status = 5, "completed"
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCompleted, res).status)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusCaptured, p.Status)
	assert.Equal(t, int64(22000), p.CapturedCents)
	assert.Zero(t, p.OutstandingCents)
}

// TestChangesOfPaymentsNotAuthorized: a change before the payment exists is retried (5xx,
// nothing kept); of a failed payment it sets the amount the next attempt is to authorize
// (an agent's retry is held to it), and nothing else; a change to no total is refused
// (dead letter).
func TestChangesOfPaymentsNotAuthorized(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	early := a.booking(20000, payments.TokenSuccess)
	early.Version = 2
	before := a.snapshot()
	assert.Equal(t, http.StatusInternalServerError, a.deliver(uuid.NewString(), events.ReservationChanged, early).status)
	assert.Equal(t, before, a.snapshot())

	declined := a.booking(20000, payments.TokenDecline)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, declined).status)
	declined.Version, declined.TotalGross = 2, 30000
	ops, outbox := a.ops("authorize"), a.outbox()
	assert.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationChanged, declined).status)
	p := a.paymentOf(declined.ReservationID)
	assert.Equal(t, payments.StatusFailed, p.Status)
	assert.EqualValues(t, 30000, p.AuthorizedCents, "what the next attempt authorizes")
	assert.Equal(t, ops, a.ops("authorize"))
	assert.Equal(t, outbox, a.outbox())
	// An agent's retry must be for that amount, the booking's customer, the booking.
	for _, body := range []string{
		a.authorizeBody(declined.ReservationID, payments.TokenSuccess, 20000),
		strings.Replace(a.authorizeBody(declined.ReservationID, payments.TokenSuccess, 30000), devissuer.CustomerAlice, devissuer.CustomerBob, 1),
	} {
		r := a.do("carla", http.MethodPost, "/api/payments", body)
		assert.Equal(t, http.StatusBadRequest, r.status, string(r.body))
	}
	r := a.do("carla", http.MethodPost, "/api/payments", fmt.Sprintf(`{"reservationId":%q,"customerId":%q,"amountCents":30000,"paymentMethodId":%q}`,
		uuid.NewString(), devissuer.CustomerAlice, a.method(payments.TokenSuccess)))
	assert.Equal(t, http.StatusNotFound, r.status, "a booking payments-api never heard of: %s", r.body)
	assert.Equal(t, ops, a.ops("authorize"), "nothing reached the provider")
	r = a.do("carla", http.MethodPost, "/api/payments", a.authorizeBody(declined.ReservationID, payments.TokenSuccess, 30000))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, payments.StatusAuthorized, decode[payments.Payment](t, r).Status)
	before = a.snapshot()

	declined.TotalGross = 0
	r2 := a.deliver(uuid.NewString(), events.ReservationChanged, declined)
	assert.Equal(t, http.StatusBadRequest, r2.status, string(r2.body))
	assert.Equal(t, before, a.snapshot())
}
