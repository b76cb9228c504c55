package payments_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// richter is the seeded business customer Richter Logistik GmbH (VAT id DE287654321).
const richter = "c5000000-0000-4000-8000-000000000012"

// pricedBooking is a booking of customer with the lines pricing-api quotes, worked out by
// hand: KOMPAKT 3 days × 39.99 € = 119.97 €, two child seats for 3 days 6 × 8.00 € =
// 48.00 €, a one-way fee 50.00 €: net 217.97 €; VAT 19 % of the total net, 41.4143 € →
// 41.41 € (half up); gross 259.38 €.
func (a *api) pricedBooking(customer, card string) events.Reservation {
	res := a.booking(25938, card)
	res.CustomerID, res.NetCents, res.VatCents, res.PaymentAttempt = customer, 21797, 4141, 1
	res.Lines = []events.PriceLine{
		{Code: "RENTAL", Description: "Daily rate KOMPAKT (3 days)", Quantity: 3, Per: "day", UnitNetCents: 3999, NetCents: 11997},
		{Code: "CHILD_SEAT", Description: "Child seat (2 × 3 days)", Quantity: 6, Per: "day", UnitNetCents: 800, NetCents: 4800},
		{Code: "ONE_WAY_FEE", Description: "One-way fee (return at another branch)", Quantity: 1, Per: "rental", UnitNetCents: 5000, NetCents: 5000},
	}
	return res
}

// TestRentalInvoiceShowsEveryLine: the booking above returned a day late (one gross daily
// rate: 39.99 € × 1.19 = 47.5881 → 47.59 €) with 3 eighths of fuel missing (REFUEL 3 ×
// 12.00 € = 36.00 € net). The invoice, worked out by hand (docs/payments.md):
//
//	lines (net)     119.97 + 48.00 + 50.00 + late 39.99 (47.59 / 1.19 = 39.9916, half up) + 36.00 = 293.96 €
//	VAT             41.41 (booking) + 7.60 (in the late fee) + 6.84 (19 % of 36.00) = 55.85 €
//	gross           259.38 + 47.59 + 42.84 = 349.81 € = 293.96 + 55.85
//
// The authorization of 259.38 € allows a capture of 298.28 € (+ 15 %, 29828.7 cents rounded
// down); the other 51.53 € are the second charge. Richter Logistik's invoice names the
// company and its VAT id, and keeps them through the customer's erasure.
func TestRentalInvoiceShowsEveryLine(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.pricedBooking(richter, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.Version, res.Status, res.LateFeeCents = 4, "completed", 4759
	res.ReturnCharges = []events.PriceLine{{Code: "REFUEL", Description: "Refuelling (3 eighths missing)", Quantity: 3, Per: "eighth", UnitNetCents: 1200, NetCents: 3600}}
	a.deliverTwice(events.ReservationCompleted, res)

	inv := a.invoiceOf(res.ReservationID)
	assert.Equal(t, payments.KindRental, inv.Kind)
	assert.Equal(t, []payments.InvoiceLine{
		{Code: "RENTAL", Description: "Daily rate KOMPAKT (3 days)", Quantity: 3, Per: "day", UnitNetCents: 3999, NetCents: 11997},
		{Code: "CHILD_SEAT", Description: "Child seat (2 × 3 days)", Quantity: 6, Per: "day", UnitNetCents: 800, NetCents: 4800},
		{Code: "ONE_WAY_FEE", Description: "One-way fee (return at another branch)", Quantity: 1, Per: "rental", UnitNetCents: 5000, NetCents: 5000},
		{Code: "LATE_RETURN", Description: "Late return", Quantity: 1, Per: "rental", UnitNetCents: 3999, NetCents: 3999},
		{Code: "REFUEL", Description: "Refuelling (3 eighths missing)", Quantity: 3, Per: "eighth", UnitNetCents: 1200, NetCents: 3600},
	}, inv.Lines)
	assert.Equal(t, [3]int64{29396, 5585, 34981}, [3]int64{inv.NetCents, inv.VATCents, inv.GrossCents}, "net, VAT, gross")
	assert.Equal(t, 19, inv.VATRatePercent)
	assert.Equal(t, "Richter Logistik GmbH", inv.CompanyName)
	assert.Equal(t, "DE287654321", inv.VATID)

	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, int64(29828), p.CapturedCents)
	assert.Equal(t, int64(5153), p.ChargedCents)
	assert.Zero(t, p.OutstandingCents)
	assert.Equal(t, inv.GrossCents, p.CapturedCents+p.ChargedCents, "the invoice is what was collected")

	// The customer is erased: the invoice, a legal record, keeps the company and VAT id.
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.CustomerErased, events.CustomerErasure{CustomerID: richter, Version: 9}).status)
	assert.Equal(t, inv, a.invoiceOf(res.ReservationID))
}

// TestInvoiceOfAnIndividualAndOfOlderEvents: an individual's invoice names no company; a
// return within the authorization captures it all; a booking event without lines (recorded
// before lines existed) is invoiced as one RENTAL line: 142.76 € gross = 119.97 € net
// (14276 / 1.19 = 11996.6, half up) + 22.79 € VAT.
func TestInvoiceOfAnIndividualAndOfOlderEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.pricedBooking(devissuer.CustomerAlice, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.Status = "completed"
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCompleted, res).status)
	inv := a.invoiceOf(res.ReservationID)
	assert.Empty(t, inv.CompanyName)
	assert.Empty(t, inv.VATID)
	assert.Len(t, inv.Lines, 3)
	assert.Equal(t, [3]int64{21797, 4141, 25938}, [3]int64{inv.NetCents, inv.VATCents, inv.GrossCents})
	assert.Equal(t, int64(25938), a.paymentOf(res.ReservationID).CapturedCents)

	old := a.booking(14276, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, old).status)
	old.Status = "completed"
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCompleted, old).status)
	inv = a.invoiceOf(old.ReservationID)
	require.Len(t, inv.Lines, 1)
	assert.Equal(t, "RENTAL", inv.Lines[0].Code)
	assert.Equal(t, [3]int64{11997, 2279, 14276}, [3]int64{inv.NetCents, inv.VATCents, inv.GrossCents})
}

// TestReturnsThatCannotBeInvoicedAreRefused: lines that do not add up can never be
// invoiced: 400 (dead letter), nothing captured, nothing written.
func TestReturnsThatCannotBeInvoicedAreRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.pricedBooking(devissuer.CustomerAlice, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.Status = "completed"
	bad := map[string]func(r *events.Reservation){
		"lines above the net":      func(r *events.Reservation) { r.Lines[0].NetCents, r.Lines[0].UnitNetCents = 12000, 4000 },
		"line not quantity × unit": func(r *events.Reservation) { r.Lines[1].NetCents = 4801 },
		"net + VAT is not gross":   func(r *events.Reservation) { r.VatCents = 4140 },
		"a negative late fee":      func(r *events.Reservation) { r.LateFeeCents = -1 },
		"a negative return charge": func(r *events.Reservation) {
			r.ReturnCharges = []events.PriceLine{{Code: "REFUEL", Description: "x", Quantity: 1, Per: "eighth", UnitNetCents: -1200, NetCents: -1200}}
		},
		"a return charge with no code": func(r *events.Reservation) {
			r.ReturnCharges = []events.PriceLine{{Description: "x", Quantity: 1, Per: "eighth", UnitNetCents: 1200, NetCents: 1200}}
		},
		"a line of no quantity": func(r *events.Reservation) { r.Lines[2].Quantity, r.Lines[2].NetCents = 0, 0 },
	}
	before := a.snapshot()
	for name, mutate := range bad {
		r := res
		r.Lines = append([]events.PriceLine(nil), res.Lines...)
		mutate(&r)
		resp := a.deliver(uuid.NewString(), events.ReservationCompleted, r)
		assert.Equal(t, http.StatusBadRequest, resp.status, "%s: %s", name, resp.body)
	}
	assert.Equal(t, before, a.snapshot())
}

// TestNoShowCapturesTheFeeAndInvoicesIt: a no-show's fee is the whole gross when the pickup
// time has come (< 24 h: 100 %): 142.76 € captured from the authorization of 142.76 €, and
// invoiced as one line, 119.97 € net + 22.79 € VAT (Kind no_show). A no-show of a booking
// whose increase was declined (authorization 200.00 €, total 220.00 €) captures 220.00 €
// within the tolerance; one whose card failed captures and invoices nothing.
func TestNoShowCapturesTheFeeAndInvoicesIt(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(14276, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.Version, res.Status, res.FeeCents = 3, "no_show", 14276
	a.deliverTwice(events.ReservationNoShow, res)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusCaptured, p.Status)
	assert.Equal(t, int64(14276), p.CapturedCents)
	inv := a.invoiceOf(res.ReservationID)
	assert.Equal(t, payments.KindNoShow, inv.Kind)
	assert.Equal(t, []payments.InvoiceLine{{Code: "NO_SHOW_FEE", Description: "No-show fee", Quantity: 1, Per: "rental", UnitNetCents: 11997, NetCents: 11997}}, inv.Lines)
	assert.Equal(t, [3]int64{11997, 2279, 14276}, [3]int64{inv.NetCents, inv.VATCents, inv.GrossCents})
	assert.Equal(t, []string{events.PaymentAuthorized, events.PaymentCaptured, events.InvoiceIssued}, a.outbox())

	raised := a.booking(20000, payments.TokenLaterDeclined)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, raised).status)
	raised.Version, raised.TotalGross = 2, 22000
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationChanged, raised).status)
	raised.Version, raised.Status, raised.FeeCents = 3, "no_show", 22000
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationNoShow, raised).status)
	assert.Equal(t, int64(22000), a.paymentOf(raised.ReservationID).CapturedCents)
	assert.Equal(t, int64(22000), a.invoiceOf(raised.ReservationID).GrossCents)

	failed := a.booking(14276, payments.TokenDecline)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, failed).status)
	failed.Version, failed.Status, failed.FeeCents = 3, "no_show", 14276
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationNoShow, failed).status)
	assert.Equal(t, payments.StatusFailed, a.paymentOf(failed.ReservationID).Status)
	assert.Zero(t, a.count(`SELECT count(*) FROM payments.invoices WHERE reservation_id = $1`, failed.ReservationID))

	failed.FeeCents = -1
	assert.Equal(t, http.StatusBadRequest, a.deliver(uuid.NewString(), events.ReservationNoShow, failed).status)
}

// TestAFailedSecondChargeIsVisibleToAgents: 200.00 € authorized on a card that declines
// later charges; the return bills 250.00 €: 230.00 € captured, the second charge of
// 20.00 € declined. The payment shows 20.00 € outstanding and why; agents find it with
// outstanding=true, the customer sees their own payment, another customer nothing.
func TestAFailedSecondChargeIsVisibleToAgents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	paid := a.booking(10000, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, paid).status)
	res := a.booking(20000, payments.TokenLaterDeclined)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.Version, res.Status, res.LateFeeCents = 4, "completed", 5000
	a.deliverTwice(events.ReservationCompleted, res)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, int64(23000), p.CapturedCents)
	assert.Equal(t, int64(2000), p.OutstandingCents)
	assert.Zero(t, p.ChargedCents)
	assert.Equal(t, "card_declined", p.ChargeFailureReason)
	assert.Equal(t, int64(25000), a.invoiceOf(res.ReservationID).GrossCents, "the invoice is for the whole bill")
	assert.NotContains(t, a.outbox(), events.PaymentCharged)

	list := func(user, query string) []payments.Payment {
		r := a.do(user, http.MethodGet, "/api/payments"+query, "")
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		return decode[struct {
			Items []payments.Payment `json:"items"`
		}](t, r).Items
	}
	outstanding := list("carla", "?outstanding=true")
	require.Len(t, outstanding, 1)
	assert.Equal(t, p.ID, outstanding[0].ID)
	assert.Len(t, list("carla", "?customer="+devissuer.CustomerAlice), 2)
	assert.Len(t, list("carla", "?status=authorized"), 1)
	assert.Len(t, list("alice", "?outstanding=true"), 1)
	assert.Len(t, list("alice", ""), 2)
	assert.Empty(t, list("bob", "?outstanding=true"))
	assert.Equal(t, http.StatusNotFound, a.do("bob", http.MethodGet, "/api/payments?customer="+devissuer.CustomerAlice, "").status)
}

// TestReturnWaitsForCustomers: customers-api unreachable when a business customer's rental
// returns: the event is retried (5xx) and nothing is captured or invoiced; a booking is
// authorized all the same (an authorization is never held up by customers-api).
func TestReturnWaitsForCustomers(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, false)
	res := a.pricedBooking(richter, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	assert.Equal(t, payments.StatusAuthorized, a.paymentOf(res.ReservationID).Status)
	res.Status = "completed"
	before := a.snapshot()
	r := a.deliver(uuid.NewString(), events.ReservationCompleted, res)
	assert.GreaterOrEqual(t, r.status, 500, string(r.body))
	assert.Equal(t, before, a.snapshot())
	assert.Zero(t, a.ops("capture"))
}
