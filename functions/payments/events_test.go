package payments_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker/brokertest"
	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// deliver posts a binary-mode CloudEvent to /cloudevents as the event platform does: with
// the token of the Trigger (or PingSource) that delivers typ to payments-api in
// knative/base.
func (a *api) deliver(id, typ string, data any) response {
	a.t.Helper()
	return a.deliverAs(a.id.DeliveryBearer(a.t, brokertest.SenderOf(a.t, payments.ServiceName, typ), payments.ServiceName), id, typ, data)
}

// deliverAs is deliver with the Authorization header auth ("" for none).
func (a *api) deliverAs(auth, id, typ string, data any) response {
	a.t.Helper()
	body, err := json.Marshal(data)
	require.NoError(a.t, err)
	req := httptest.NewRequest(http.MethodPost, events.ReceivePath, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-id", id)
	req.Header.Set("ce-source", "reservations-api")
	req.Header.Set("ce-type", typ)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// deliverTwice delivers an event, then redelivers it (same id) and delivers a copy under a
// new id; both repetitions must change nothing.
func (a *api) deliverTwice(typ string, res events.Reservation) {
	a.t.Helper()
	id := uuid.NewString()
	r := a.deliver(id, typ, res)
	require.Equal(a.t, http.StatusAccepted, r.status, string(r.body))
	after := a.snapshot()
	assert.Equal(a.t, http.StatusOK, a.deliver(id, typ, res).status, "redelivery")
	assert.Equal(a.t, after, a.snapshot(), "a redelivery changed something")
	assert.Equal(a.t, http.StatusAccepted, a.deliver(uuid.NewString(), typ, res).status, "copy under a new id")
	assert.Equal(a.t, after, a.snapshot(), "a second %s changed something", typ)
}

// booking is a reservation.created payload of customer A paying with card (a test card or
// token, tokenized first, or a payment-method id as it is).
func (a *api) booking(total int64, card string) events.Reservation {
	a.t.Helper()
	if !strings.HasPrefix(card, "pm_") {
		card = a.method(card)
	}
	pickup := time.Now().Add(30 * time.Hour).UTC().Truncate(time.Minute)
	return events.Reservation{ReservationID: uuid.NewString(), Version: 1, CustomerID: devissuer.CustomerAlice,
		VehicleID: uuid.NewString(), Category: "KOMPAKT", PickupLocation: "BER-HBF", ReturnLocation: "BER-HBF",
		PickupAt: pickup.Format(time.RFC3339), ReturnAt: pickup.Add(72 * time.Hour).Format(time.RFC3339),
		Status: "pending", TotalGross: total, Currency: "EUR", PaymentMethodID: card}
}

func (a *api) paymentOf(reservationID string) payments.Payment {
	a.t.Helper()
	r := a.do("carla", http.MethodGet, "/api/payments?reservation="+reservationID, "")
	list := decode[struct {
		Items []payments.Payment `json:"items"`
	}](a.t, r)
	require.Len(a.t, list.Items, 1, string(r.body))
	return list.Items[0]
}

// invoiceOf returns the invoice of a reservation, as an agent lists it.
func (a *api) invoiceOf(reservationID string) payments.Invoice {
	a.t.Helper()
	list := decode[struct {
		Items []payments.Invoice `json:"items"`
	}](a.t, a.do("carla", http.MethodGet, "/api/invoices?pageSize=100", ""))
	for _, inv := range list.Items {
		if inv.ReservationID == reservationID {
			return inv
		}
	}
	a.t.Fatalf("no invoice of reservation %s", reservationID)
	return payments.Invoice{}
}

func (a *api) released(op string) int64 {
	a.t.Helper()
	return int64(a.count(`SELECT coalesce(sum(released_cents), 0)::int FROM payments.sandbox_operations WHERE operation = $1 AND outcome = 'succeeded'`, op))
}

func TestBookingAndReturnByEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenSuccess)
	a.deliverTwice(events.ReservationCreated, res)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusAuthorized, p.Status)
	assert.Equal(t, int64(20000), p.AuthorizedCents)
	assert.Equal(t, 1, a.ops("authorize"))

	res.Status, res.Version, res.LateFeeCents = "completed", 4, 1500
	a.deliverTwice(events.ReservationCompleted, res)
	p = a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusCaptured, p.Status)
	assert.Equal(t, int64(21500), p.CapturedCents)
	assert.Equal(t, 1, a.ops("capture"))
	assert.Equal(t, []string{events.PaymentAuthorized, events.PaymentCaptured, events.InvoiceIssued}, a.outbox())

	list := decode[struct {
		Items []payments.Invoice `json:"items"`
	}](t, a.do("alice", http.MethodGet, "/api/invoices", ""))
	require.Len(t, list.Items, 1)
	inv := list.Items[0]
	assert.Equal(t, int64(21500), inv.GrossCents)
	assert.Equal(t, inv.GrossCents, inv.NetCents+inv.VATCents)
	assert.Len(t, inv.Lines, 2)
	assert.Equal(t, p.ID, inv.PaymentID)
}

// TestFinalBillBeyondTheToleranceIsChargedSeparately: 200.00 € authorized, a bill of
// 250.00 € (a late fee of 50.00 €): the capture takes the limit, 200.00 € + 15 % = 230.00 €,
// and a second charge on the same card the other 20.00 € (payment.charged).
func TestFinalBillBeyondTheToleranceIsChargedSeparately(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.LateFeeCents = 5000
	a.deliverTwice(events.ReservationCompleted, res)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, int64(23000), p.CapturedCents)
	assert.Zero(t, p.OutstandingCents)
	assert.Equal(t, int64(2000), p.ChargedCents)
	assert.Empty(t, p.ChargeFailureReason)
	assert.NotEmpty(t, p.ProviderCharge)
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.sandbox_operations WHERE operation = 'charge' AND outcome = 'succeeded' AND amount_cents = 2000`))
	assert.Equal(t, []string{events.PaymentAuthorized, events.PaymentCaptured, events.PaymentCharged, events.InvoiceIssued}, a.outbox())
	var charged events.Payment
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT data FROM payments.outbox WHERE type = $1`, events.PaymentCharged).Scan(&charged))
	assert.Equal(t, int64(2000), charged.AmountCents)
	inv := a.invoiceOf(res.ReservationID)
	assert.Equal(t, int64(25000), inv.GrossCents, "the invoice is the whole bill")

	// A refund reaches the whole bill: the capture first, then the charge, each at the
	// provider by its own reference; beyond it is 409 naming what is left.
	r := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/refund", amount(22000))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, payments.StatusPartiallyRefunded, decode[payments.Payment](t, r).Status)
	r = a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/refund", amount(3001))
	assert.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Contains(t, string(r.body), "at most 3000 cents more")
	r = a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/refund", amount(3000))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	refunded := decode[payments.Payment](t, r)
	assert.Equal(t, payments.StatusRefunded, refunded.Status)
	assert.Equal(t, int64(25000), refunded.RefundedCents)
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.sandbox_authorizations WHERE ref = $1 AND refunded_cents = 2000`, p.ProviderCharge), "the charge's part")
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.sandbox_authorizations WHERE ref = $1 AND refunded_cents = 23000`, p.ProviderAuthorization), "the capture's")
}

func TestCancellationWithFeeCapturesTheFeeAndReleasesTheRest(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenSuccess) // pickup in 30 h: 50 % fee
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.Status, res.FeeCents, res.Reason = "cancelled", 10000, "change of plans"
	a.deliverTwice(events.ReservationCancelled, res)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusCaptured, p.Status)
	assert.Equal(t, int64(10000), p.CapturedCents)
	assert.Equal(t, 1, a.ops("capture"))
	assert.Equal(t, int64(10000), a.released("capture"), "the rest of the authorization is released")
	assert.Equal(t, []string{events.PaymentAuthorized, events.PaymentCaptured, events.InvoiceIssued}, a.outbox())
	// The fee's invoice: one line, 100.00 € gross = 84.03 € net (10000 / 1.19 = 8403.36,
	// half up) + 15.97 € VAT.
	inv := a.invoiceOf(res.ReservationID)
	assert.Equal(t, payments.KindCancellation, inv.Kind)
	assert.Equal(t, []payments.InvoiceLine{{Code: "CANCELLATION_FEE", Description: "Cancellation fee", Quantity: 1, Per: "rental", UnitNetCents: 8403, NetCents: 8403}}, inv.Lines)
	assert.Equal(t, [3]int64{8403, 1597, 10000}, [3]int64{inv.NetCents, inv.VATCents, inv.GrossCents})
}

func TestFreeCancellationVoids(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.Status = "cancelled"
	a.deliverTwice(events.ReservationCancelled, res)
	assert.Equal(t, payments.StatusVoided, a.paymentOf(res.ReservationID).Status)
	assert.Equal(t, 1, a.ops("void"))
	assert.Equal(t, int64(20000), a.released("void"))
	assert.Equal(t, []string{events.PaymentAuthorized, events.PaymentVoided}, a.outbox())
}

func TestCancellationAfterCaptureRefunds(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	p := a.paymentOf(res.ReservationID)
	require.Equal(t, http.StatusOK, a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(20000)).status)
	res.Status, res.FeeCents = "cancelled", 5000
	a.deliverTwice(events.ReservationCancelled, res)
	p = a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusPartiallyRefunded, p.Status)
	assert.Equal(t, int64(15000), p.RefundedCents)
	assert.Equal(t, 1, a.ops("refund"))
}

func TestDeclinedAndUnansweredAuthorizationsByEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, "4000000000009995")
	a.deliverTwice(events.ReservationCreated, res)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusFailed, p.Status)
	assert.Equal(t, "insufficient_funds", p.FailureReason)
	assert.Equal(t, []string{events.PaymentFailed}, a.outbox())

	// The timeout card: 5xx (retried by the Broker), nothing recorded, the inbox included.
	before := a.snapshot()
	inbox := a.count(`SELECT count(*) FROM payments.inbox`)
	r := a.deliver(uuid.NewString(), events.ReservationCreated, a.booking(20000, payments.TokenTimeout))
	assert.Equal(t, http.StatusInternalServerError, r.status)
	assert.Equal(t, before, a.snapshot())
	assert.Equal(t, inbox, a.count(`SELECT count(*) FROM payments.inbox`))

	// A return whose booking was never paid for yet is retried; bad data is refused.
	assert.Equal(t, http.StatusInternalServerError, a.deliver(uuid.NewString(), events.ReservationCompleted, a.booking(100, payments.TokenSuccess)).status)
	assert.Equal(t, http.StatusBadRequest, a.deliver(uuid.NewString(), events.ReservationCreated, map[string]any{"reservationId": "x"}).status)
	assert.Equal(t, http.StatusBadRequest, a.deliver(uuid.NewString(), events.ReservationCreated, a.booking(0, payments.TokenSuccess)).status)
	// No Trigger delivers another type to payments-api; should one of its own Triggers
	// (whose identity the receiver admits for any type) deliver one, it is acknowledged.
	own := a.id.DeliveryBearer(t, brokertest.SenderOf(t, payments.ServiceName, events.ReservationCreated), payments.ServiceName)
	assert.Equal(t, http.StatusAccepted, a.deliverAs(own, uuid.NewString(), events.CustomerRegistered, map[string]any{"customerId": "x"}).status, "other types are acknowledged")
	assert.Equal(t, before, a.snapshot())
}

func TestPingPurgesExpiredIdempotencyKeys(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	require.Equal(t, http.StatusCreated, a.do("carla", http.MethodPost, "/api/payments",
		a.authorizeBody(uuid.NewString(), payments.TokenSuccess, 100), "Idempotency-Key", "old").status)
	require.Equal(t, http.StatusCreated, a.do("carla", http.MethodPost, "/api/payments",
		a.authorizeBody(uuid.NewString(), payments.TokenSuccess, 100), "Idempotency-Key", "new").status)
	_, err := a.db.Pool.Exec(context.Background(), `UPDATE payments.idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'old'`)
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.Ping, map[string]any{}).status)
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.idempotency_keys`))
}

// TestCapturedByHandBeforeTheEnd: an agent captured part of a booking's authorization by
// hand before its end (a stuck booking, a deposit). The end then invoiced the whole bill and
// collected nothing more. Now what the capture lacks is charged — at the return and at a
// cancellation's fee alike — and the money taken equals the invoice.
func TestCapturedByHandBeforeTheEnd(t *testing.T) {
	t.Parallel()
	for _, end := range []string{events.ReservationCompleted, events.ReservationCancelled} {
		t.Run(end, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t)
			res := a.booking(20000, payments.TokenSuccess)
			require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
			p := a.paymentOf(res.ReservationID)
			r := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(1000))
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			bill := int64(20000)
			if end == events.ReservationCancelled {
				res.Status, res.FeeCents, res.Reason, bill = "cancelled", 10000, "change of plans", 10000
			}
			a.deliverTwice(end, res)
			p = a.paymentOf(res.ReservationID)
			assert.Equal(t, int64(1000), p.CapturedCents)
			assert.Equal(t, bill-1000, p.ChargedCents, "the rest charged")
			assert.Zero(t, p.OutstandingCents)
			assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.sandbox_operations WHERE operation = 'charge' AND amount_cents = $1`, bill-1000), "once, redelivered or not")
			assert.Equal(t, bill, a.invoiceOf(res.ReservationID).GrossCents)
		})
	}
}

// TestHandCaptureBroughtToTheBill: what an agent captured or refunded by hand before a
// booking's end is brought to its bill then — the rental's at the return, the fee at a
// cancellation or no-show: the money kept (captures and charges less refunds) is the
// invoice's gross. A capture above the bill (a deposit) was kept whole while the invoice said
// less; a deposit captured and refunded in full left the bill uncollected and, at a
// cancellation, uninvoiced; a deposit's excess refunded by hand was refunded again.
func TestHandCaptureBroughtToTheBill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		end               string
		fee               int64 // the ended booking's fee; the rental's bill is 20000
		capture, refund   int64 // by hand, before the end
		bill, charged     int64
		refunded, netPaid int64
	}{
		{"return after a deposit above the bill", events.ReservationCompleted, 0, 22000, 0, 20000, 0, 2000, 20000},
		{"no-show after a capture above the fee", events.ReservationNoShow, 10000, 15000, 0, 10000, 0, 5000, 10000},
		{"return after a deposit refunded in full", events.ReservationCompleted, 0, 1000, 1000, 20000, 20000, 1000, 20000},
		{"late cancellation after a deposit refunded in full", events.ReservationCancelled, 10000, 1000, 1000, 10000, 10000, 1000, 10000},
		// A deposit's excess paid back by hand before the end is not paid back again.
		{"return after a deposit whose excess was refunded by hand", events.ReservationCompleted, 0, 22000, 2000, 20000, 0, 2000, 20000},
		{"cancellation after a deposit partly refunded by hand", events.ReservationCancelled, 10000, 15000, 300, 10000, 0, 5000, 10000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t)
			res := a.booking(20000, payments.TokenSuccess)
			require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
			p := a.paymentOf(res.ReservationID)
			r := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(tc.capture))
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			if tc.refund > 0 {
				r = a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/refund", amount(tc.refund))
				require.Equal(t, http.StatusOK, r.status, string(r.body))
			}
			switch tc.end {
			case events.ReservationCancelled:
				res.Status, res.FeeCents, res.Reason = "cancelled", tc.fee, "change of plans"
			case events.ReservationNoShow:
				res.Status, res.FeeCents = "no_show", tc.fee
			}
			a.deliverTwice(tc.end, res)
			p = a.paymentOf(res.ReservationID)
			assert.Equal(t, tc.charged, p.ChargedCents, "charged")
			assert.Equal(t, tc.refunded, p.RefundedCents, "refunded")
			assert.Equal(t, tc.netPaid, p.CapturedCents+p.ChargedCents-p.RefundedCents, "the money kept")
			assert.Zero(t, p.OutstandingCents)
			assert.Equal(t, tc.bill, a.invoiceOf(res.ReservationID).GrossCents)
		})
	}
}
