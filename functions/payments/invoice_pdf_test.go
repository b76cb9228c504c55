package payments_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/ledongthuc/pdf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/payments"
)

// pdfRows reads a PDF back as text, one string per row of the page (its words joined by
// spaces), with a PDF reader of its own.
func pdfRows(t *testing.T, b []byte) []string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	var out []string
	for i := 1; i <= r.NumPage(); i++ {
		rows, err := r.Page(i).GetTextByRow()
		require.NoError(t, err)
		for _, row := range rows {
			var words []string
			for _, w := range row.Content {
				words = append(words, w.S)
			}
			out = append(out, strings.Join(words, " "))
		}
	}
	return out
}

// hasRow reports whether some row holds every part, in order.
func hasRow(rows []string, parts ...string) bool {
	for _, row := range rows {
		rest, ok := row, true
		for _, p := range parts {
			i := strings.Index(rest, p)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(p):]
		}
		if ok {
			return true
		}
	}
	return false
}

// TestInvoicePDF: the rental invoice of TestRentalInvoiceShowsEveryLine as a PDF, parsed
// back: the number, the company and its VAT id, every line with its quantity, unit and net,
// and net, VAT and gross as worked out by hand there. Customers get their own invoice's
// PDF only.
func TestInvoicePDF(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.pricedBooking(richter, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.Version, res.Status, res.LateFeeCents = 4, "completed", 4759
	res.ReturnCharges = []events.PriceLine{{Code: "REFUEL", Description: "Refuelling (3 eighths missing)", Quantity: 3, Per: "eighth", UnitNetCents: 1200, NetCents: 3600}}
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCompleted, res).status)
	inv := a.invoiceOf(res.ReservationID)

	r := a.do("carla", http.MethodGet, "/api/invoices/"+inv.ID+"/pdf", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "application/pdf", r.header.Get("Content-Type"))
	assert.Equal(t, `inline; filename="`+inv.Number+`.pdf"`, r.header.Get("Content-Disposition"))
	require.True(t, bytes.HasPrefix(r.body, []byte("%PDF-")))
	rows := pdfRows(t, r.body)
	wanted := [][]string{
		{"Invoice " + inv.Number},
		{"Car rental"},
		{"Reservation: " + res.ReservationID},
		{"Company: Richter Logistik GmbH"},
		{"VAT id: DE287654321"},
		{"Daily rate KOMPAKT (3 days)", "3", "day", "39.99", "119.97"},
		{"Child seat (2 × 3 days)", "6", "day", "8.00", "48.00"},
		{"One-way fee (return at another branch)", "1", "rental", "50.00", "50.00"},
		{"Late return", "1", "rental", "39.99", "39.99"},
		{"Refuelling (3 eighths missing)", "3", "eighth", "12.00", "36.00"},
		{"Net", "293.96"},
		{"VAT 19 %", "55.85"},
		{"Gross EUR", "349.81"},
		{"Amounts in EUR."},
	}
	for _, want := range wanted {
		assert.True(t, hasRow(rows, want...), "no row with %q in\n%s", want, strings.Join(rows, "\n"))
	}
	again := a.do("carla", http.MethodGet, "/api/invoices/"+inv.ID+"/pdf", "")
	assert.Equal(t, r.body, again.body, "the same invoice renders to the same bytes")

	// Alice's own invoice (a cancellation fee) is hers only.
	mine := a.booking(20000, payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, mine).status)
	mine.Version, mine.Status, mine.FeeCents = 2, "cancelled", 10000
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCancelled, mine).status)
	fee := a.invoiceOf(mine.ReservationID)
	r = a.do("alice", http.MethodGet, "/api/invoices/"+fee.ID+"/pdf", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	rows = pdfRows(t, r.body)
	for _, want := range [][]string{{"Invoice " + fee.Number}, {"Cancellation fee", "1", "rental", "84.03", "84.03"}, {"VAT 19 %", "15.97"}, {"Gross EUR", "100.00"}} {
		assert.True(t, hasRow(rows, want...), "no row with %q in\n%s", want, strings.Join(rows, "\n"))
	}
	assert.False(t, hasRow(rows, "Company:"), "an individual's invoice names no company")

	// No invoice says how it was paid (it said "Paid by the card of the booking" on every
	// invoice: on one still outstanding, on one by hand for a booking paid outside).
	r = a.do("ada", http.MethodPost, "/api/invoices", `{"reservationId":"`+uuid.NewString()+`","customerId":"`+mine.CustomerID+`","lines":[{"description":"Damage","grossCents":11900}]}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	byHand := decode[payments.Invoice](t, r)
	r = a.do("ada", http.MethodGet, "/api/invoices/"+byHand.ID+"/pdf", "")
	require.Equal(t, http.StatusOK, r.status)
	rows = pdfRows(t, r.body)
	assert.False(t, hasRow(rows, "card"), strings.Join(rows, "\n"))
	assert.False(t, hasRow(rows, "Paid"))

	before := a.snapshot()
	for _, c := range []struct {
		user, path string
		status     int
	}{
		{"bob", "/api/invoices/" + fee.ID + "/pdf", http.StatusNotFound},
		{"alice", "/api/invoices/" + inv.ID + "/pdf", http.StatusNotFound},
		{"", "/api/invoices/" + fee.ID + "/pdf", http.StatusUnauthorized},
		{"frank", "/api/invoices/" + fee.ID + "/pdf", http.StatusForbidden},
		{"alice", "/api/invoices/not-a-uuid/pdf", http.StatusNotFound},
		{"carla", "/api/invoices/" + uuid.NewString() + "/pdf", http.StatusNotFound},
	} {
		r := a.do(c.user, http.MethodGet, c.path, "")
		assert.Equal(t, c.status, r.status, "%s %s", c.user, c.path)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "%s %s", c.user, c.path)
	}
	assert.Equal(t, before, a.snapshot())
}
