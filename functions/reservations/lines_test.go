package reservations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations"
)

// line is a priced line without its description (pricing's wording is its own).
type line struct {
	code          string
	quantity      int
	per           string
	unit, netCent int64
}

func linesOf(ls []events.PriceLine) []line {
	out := make([]line, len(ls))
	for i, l := range ls {
		out[i] = line{l.Code, l.Quantity, l.Per, l.UnitNetCents, l.NetCents}
	}
	return out
}

// lastEvent is the newest event recorded about reservation id.
func (a *api) lastEvent(id string) (string, events.Reservation) {
	a.t.Helper()
	var typ string
	var raw []byte
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT type, data::text FROM reservations.outbox WHERE subject = $1 ORDER BY seq DESC LIMIT 1`, id).Scan(&typ, &raw))
	var p events.Reservation
	require.NoError(a.t, json.Unmarshal(raw, &p))
	return typ, p
}

// TestBookingKeepsThePricedLines: extras and insurance reach pricing-api (the real one), and
// the booking keeps every line it quoted, its net, VAT and gross; GET shows them and
// reservation.created carries them.
//
// By hand (docs/pricing.md): a one-way week of KOMPAKT from BER-HBF to MUC-FLG with full
// cover, GPS and two child seats —
//
//	RENTAL             7 × 39.99 €  = 279.93 €
//	DURATION_DISCOUNT  10 % of 279.93 € = 27.993 € → −27.99 €
//	INSURANCE_FULL     7 × 15.00 €  = 105.00 €
//	GPS                7 × 5.00 €   =  35.00 €
//	CHILD_SEAT        14 × 8.00 €   = 112.00 €
//	ONE_WAY_FEE        1 × 49.00 €  =  49.00 €
//	net 552.94 €, VAT 19 % = 105.0586 € → 105.06 €, gross 658.00 €.
func TestBookingKeepsThePricedLines(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.realPricing()
	p, ret := period(4, 7*24)
	body := fmt.Sprintf(`{"vehicleId":%q,"pickupLocation":"BER-HBF","returnLocation":"MUC-FLG","pickupAt":%q,"returnAt":%q,
		"paymentMethodId":%q,"insurance":"full","extras":[{"code":"CHILD_SEAT","quantity":2},{"code":"gps"}]}`,
		vehicle1, p.Format(time.RFC3339), ret.Format(time.RFC3339), paymentMethod)
	r := a.do("alice", http.MethodPost, "/api/reservations", body)
	require.Equal(t, http.StatusCreated, r.status, r.String())
	want := []line{
		{"RENTAL", 7, "day", 3999, 27993},
		{"DURATION_DISCOUNT", 1, "rental", -2799, -2799},
		{"INSURANCE_FULL", 7, "day", 1500, 10500},
		{"GPS", 7, "day", 500, 3500},
		{"CHILD_SEAT", 14, "day", 800, 11200},
		{"ONE_WAY_FEE", 1, "rental", 4900, 4900},
	}
	check := func(name string, res reservations.Reservation) {
		assert.Equal(t, want, linesOf(res.Lines), name)
		for _, l := range res.Lines {
			assert.NotEmpty(t, l.Description, name)
		}
		assert.Equal(t, int64(55294), res.NetCents, name)
		assert.Equal(t, int64(10506), res.VatCents, name)
		assert.Equal(t, int64(65800), res.TotalGrossCents, name)
		assert.Equal(t, "FULL", res.Insurance, name)
		assert.Len(t, res.Extras, 2, name)
		assert.Equal(t, 1, res.PaymentAttempt, name)
	}
	created := decode[reservations.Reservation](t, r)
	check("created", created)
	check("GET", decode[reservations.Reservation](t, a.do("alice", http.MethodGet, "/api/reservations/"+created.ID, "")))

	typ, ev := a.lastEvent(created.ID)
	assert.Equal(t, events.ReservationCreated, typ)
	assert.Equal(t, want, linesOf(ev.Lines))
	assert.Equal(t, int64(55294), ev.NetCents)
	assert.Equal(t, int64(10506), ev.VatCents)
	assert.Equal(t, int64(65800), ev.TotalGross)
	assert.Equal(t, 1, ev.PaymentAttempt)
	assert.False(t, ev.Guest)

	// Every later event carries them too (here: the cancellation of the pending hold).
	r = a.do("alice", http.MethodPost, "/api/reservations/"+created.ID+"/cancel", `{"reason":"plans changed"}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	typ, ev = a.lastEvent(created.ID)
	assert.Equal(t, events.ReservationCancelled, typ)
	assert.Equal(t, want, linesOf(ev.Lines))
	assert.Equal(t, int64(55294), ev.NetCents)
}
