package reservations_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations"
)

// TestChange re-prices bookings that have not started with the real pricing-api, under the
// change-fee policy, amounts by hand (docs/pricing.md, docs/reservations.md).
//
// Every case starts from a KOMPAKT booking of 3 days (72 h) from BER-HBF: RENTAL 3 × 39.99 €
// = 119.97 € net, VAT 22.7943 € → 22.79 €, gross 142.76 €.
func TestChange(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.realPricing()
	pickup := time.Now().Add(6 * 24 * time.Hour).UTC().Truncate(time.Hour).Add(250 * time.Millisecond)
	ret := pickup.Add(72 * time.Hour)
	at := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	tests := []struct {
		name    string
		status  reservations.Status
		now     time.Time // the clock when the change is made (zero: the real one)
		body    string
		want    []line
		net     int64
		vat     int64
		gross   int64
		vehicle string
		cat     string
	}{
		// 5 × 39.99 € = 199.95 €; VAT 37.9905 € → 37.99 €; 237.94 €. An increase: no fee.
		{name: "extend by two days", status: reservations.StatusConfirmed, body: fmt.Sprintf(`{"returnAt":%q}`, at(ret.Add(48*time.Hour))),
			want: []line{{"RENTAL", 5, "day", 3999, 19995}, {"INSURANCE_LIABILITY", 5, "day", 0, 0}}, net: 19995, vat: 3799, gross: 23794},
		// 2 × 39.99 € = 79.98 €; VAT 15.1962 € → 15.20 €; 95.18 €. Six days ahead: ≥ 48 h, free.
		{name: "shorten ≥ 48 h ahead: free", status: reservations.StatusConfirmed, body: fmt.Sprintf(`{"returnAt":%q}`, at(ret.Add(-24*time.Hour))),
			want: []line{{"RENTAL", 2, "day", 3999, 7998}, {"INSURANCE_LIABILITY", 2, "day", 0, 0}}, net: 7998, vat: 1520, gross: 9518},
		// The reduction 142.76 − 95.18 = 47.58 €; 30 h before the pickup: 50 % = 23.79 € gross,
		// net 23.79 / 1.19 = 19.9916 € → 19.99 €, VAT 3.80 €. Total 95.18 + 23.79 = 118.97 €.
		{name: "shorten 24–48 h ahead: half the reduction", status: reservations.StatusConfirmed, now: pickup.Add(-30 * time.Hour),
			body: fmt.Sprintf(`{"returnAt":%q}`, at(ret.Add(-24*time.Hour))),
			want: []line{{"RENTAL", 2, "day", 3999, 7998}, {"INSURANCE_LIABILITY", 2, "day", 0, 0}, {"CHANGE_FEE", 1, "rental", 1999, 1999}},
			net:  9997, vat: 1900, gross: 11897},
		// 10 h before the pickup: 100 % of 47.58 € — net 47.58 / 1.19 = 39.9832 € → 39.98 €,
		// VAT 7.60 €; total 142.76 €: shortening within 24 h saves nothing.
		{name: "shorten < 24 h ahead: saves nothing", status: reservations.StatusConfirmed, now: pickup.Add(-10 * time.Hour),
			body: fmt.Sprintf(`{"returnAt":%q}`, at(ret.Add(-24*time.Hour))),
			want: []line{{"RENTAL", 2, "day", 3999, 7998}, {"INSURANCE_LIABILITY", 2, "day", 0, 0}, {"CHANGE_FEE", 1, "rental", 3998, 3998}},
			net:  11996, vat: 2280, gross: 14276},
		// A pending hold (nothing authorized, cancelling it is free) shortens free of charge.
		{name: "shorten a pending hold < 24 h ahead: free", status: reservations.StatusPending, now: pickup.Add(-10 * time.Hour),
			body: fmt.Sprintf(`{"returnAt":%q}`, at(ret.Add(-24*time.Hour))),
			want: []line{{"RENTAL", 2, "day", 3999, 7998}, {"INSURANCE_LIABILITY", 2, "day", 0, 0}}, net: 7998, vat: 1520, gross: 9518},
		// Later by a day, same length: 3 × 39.99 €, the same price.
		{name: "move by a day", status: reservations.StatusConfirmed, body: fmt.Sprintf(`{"pickupAt":%q,"returnAt":%q}`, at(pickup.Add(24*time.Hour)), at(ret.Add(24*time.Hour))),
			want: []line{{"RENTAL", 3, "day", 3999, 11997}, {"INSURANCE_LIABILITY", 3, "day", 0, 0}}, net: 11997, vat: 2279, gross: 14276},
		// An SUV instead: 3 × 69.99 € = 209.97 €; VAT 39.8943 € → 39.89 €; 249.86 €.
		{name: "swap to an SUV", status: reservations.StatusConfirmed, body: fmt.Sprintf(`{"vehicleId":%q}`, vehicleSUV),
			want: []line{{"RENTAL", 3, "day", 6999, 20997}, {"INSURANCE_LIABILITY", 3, "day", 0, 0}}, net: 20997, vat: 3989, gross: 24986,
			vehicle: vehicleSUV, cat: "SUV"},
		// Partial cover 3 × 8.00 €, GPS 3 × 5.00 €, a child seat 3 × 8.00 €: net 119.97 + 24.00
		// + 15.00 + 24.00 = 182.97 €; VAT 34.7643 € → 34.76 €; 217.73 €.
		{name: "add extras and insurance", status: reservations.StatusConfirmed,
			body: `{"insurance":"PARTIAL","extras":[{"code":"GPS"},{"code":"CHILD_SEAT","quantity":1}]}`,
			want: []line{{"RENTAL", 3, "day", 3999, 11997}, {"INSURANCE_PARTIAL", 3, "day", 800, 2400}, {"GPS", 3, "day", 500, 1500}, {"CHILD_SEAT", 3, "day", 800, 2400}},
			net:  18297, vat: 3476, gross: 21773},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.now.Store(nil)
			car := fmt.Sprintf("f1ee0000-0000-4000-8000-0000000002%02d", i)
			r := a.do("alice", http.MethodPost, "/api/reservations", fmt.Sprintf(
				`{"vehicleId":%q,"pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"paymentMethodId":%q}`, car, at(pickup), at(ret), paymentMethod))
			require.Equal(t, http.StatusCreated, r.status, r.String())
			res := decode[reservations.Reservation](t, r)
			require.Equal(t, int64(14276), res.TotalGrossCents)
			a.setStatus(res.ID, tt.status)
			if tt.status == reservations.StatusPending {
				// Still held at the test's clock (a hold of a booking made late, say).
				_, err := a.db.Pool.Exec(t.Context(), `UPDATE reservations.reservations SET hold_expires_at = $2 WHERE id = $1`, res.ID, pickup)
				require.NoError(t, err)
			}
			if !tt.now.IsZero() {
				a.setNow(tt.now)
			}
			r = a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/change", tt.body, "If-Match", `"1"`)
			require.Equal(t, http.StatusOK, r.status, r.String())
			got := decode[reservations.Reservation](t, r)
			assert.Equal(t, tt.want, linesOf(got.Lines))
			assert.Equal(t, tt.net, got.NetCents, "net")
			assert.Equal(t, tt.vat, got.VatCents, "VAT")
			assert.Equal(t, tt.gross, got.TotalGrossCents, "gross")
			assert.Equal(t, tt.status, got.Status)
			assert.Equal(t, 2, got.Version)
			assert.Equal(t, `"2"`, r.header.Get("ETag"))
			if tt.vehicle != "" {
				assert.Equal(t, tt.vehicle, got.VehicleID)
				assert.Equal(t, tt.cat, got.Category)
			}
			typ, ev := a.lastEvent(res.ID)
			assert.Equal(t, events.ReservationChanged, typ)
			assert.Equal(t, tt.want, linesOf(ev.Lines))
			assert.Equal(t, tt.net, ev.NetCents)
			assert.Equal(t, tt.vat, ev.VatCents)
			assert.Equal(t, tt.gross, ev.TotalGross)
			assert.Equal(t, int64(2), ev.Version)
			assert.Equal(t, paymentMethod, ev.PaymentMethodID, "payments adjusts the authorization on the booking's method")
			assert.Equal(t, got.PickupAt.UTC().Format(time.RFC3339Nano), ev.PickupAt)
		})
	}
}

// TestChangeGuardedByTheExclusionConstraint: a change onto another booking of the car (or
// onto a booked car) is a 409 and changes nothing; touching periods are fine; the same
// change again changes nothing.
func TestChangeGuardedByTheExclusionConstraint(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(5, 48)
	first := a.book(vehicle1, p, ret)
	second := a.book(vehicle1, ret.Add(24*time.Hour), ret.Add(72*time.Hour))
	other := a.book(vehicle2, p, ret)
	before := a.snapshot()
	change := func(id, body string) response {
		return a.do("alice", http.MethodPost, "/api/reservations/"+id+"/change", body)
	}
	r := change(first.ID, fmt.Sprintf(`{"returnAt":%q}`, ret.Add(25*time.Hour).Format(time.RFC3339)))
	assert.Equal(t, http.StatusConflict, r.status, r.String())
	r = change(other.ID, fmt.Sprintf(`{"vehicleId":%q}`, vehicle1))
	assert.Equal(t, http.StatusConflict, r.status, r.String())
	// Their previews say so too: a preview priced a period the car was taken in.
	for _, tc := range []struct{ id, body string }{
		{first.ID, fmt.Sprintf(`{"returnAt":%q}`, ret.Add(25*time.Hour).Format(time.RFC3339))},
		{other.ID, fmt.Sprintf(`{"vehicleId":%q}`, vehicle1)},
	} {
		r = a.do("alice", http.MethodPost, "/api/reservations/"+tc.id+"/change-preview", tc.body)
		assert.Equal(t, http.StatusConflict, r.status, r.String())
		assert.Contains(t, r.String(), `"code":"vehicle_booked"`)
	}
	assert.Equal(t, before, a.snapshot(), "nothing written")

	r = change(first.ID, fmt.Sprintf(`{"returnAt":%q}`, ret.Add(24*time.Hour).Format(time.RFC3339)))
	require.Equal(t, http.StatusOK, r.status, "up to the next booking's pickup: %s", r)
	again := change(first.ID, fmt.Sprintf(`{"returnAt":%q}`, ret.Add(24*time.Hour).Format(time.RFC3339)))
	require.Equal(t, http.StatusOK, again.status)
	assert.Equal(t, 2, decode[reservations.Reservation](t, again).Version, "the same change again changes nothing")
	assert.Equal(t, reservations.StatusPending, a.status(second.ID))
}

// TestChangeBadInput: every refused change is a 4xx problem and writes nothing.
func TestChangeBadInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	res := a.book(vehicle1, p, ret)
	cancelled := a.book(vehicle2, p, ret)
	a.setStatus(cancelled.ID, reservations.StatusCancelled)
	active := a.book("f1ee0000-0000-4000-8000-000000000005", p, ret)
	a.setStatus(active.ID, reservations.StatusActive)
	past := time.Now().Add(-48 * time.Hour).UTC()
	at := func(id string) string { return "/api/reservations/" + id + "/change" }
	ok := fmt.Sprintf(`{"returnAt":%q}`, ret.Add(24*time.Hour).Format(time.RFC3339))
	tests := []struct {
		name, user, path, body string
		header                 []string
		want                   int
	}{
		{"no body", "alice", at(res.ID), ``, nil, 415},
		{"not json", "alice", at(res.ID), `{"returnAt":`, nil, 400},
		{"nothing to change", "alice", at(res.ID), `{}`, nil, 400},
		{"unknown field", "alice", at(res.ID), `{"colour":"red"}`, nil, 400},
		{"a field not changeable here", "alice", at(res.ID), `{"pickupLocation":"MUC-FLG"}`, nil, 400},
		{"bad time", "alice", at(res.ID), `{"returnAt":"tomorrow"}`, nil, 400},
		{"return before pickup", "alice", at(res.ID), fmt.Sprintf(`{"returnAt":%q}`, p.Add(-time.Hour).Format(time.RFC3339)), nil, 400},
		{"over 90 days", "alice", at(res.ID), fmt.Sprintf(`{"returnAt":%q}`, p.Add(91*24*time.Hour).Format(time.RFC3339)), nil, 400},
		{"pickup in the past", "alice", at(res.ID), fmt.Sprintf(`{"pickupAt":%q}`, past.Format(time.RFC3339)), nil, 400},
		{"bad vehicle", "alice", at(res.ID), `{"vehicleId":"car-1"}`, nil, 400},
		{"unknown vehicle", "alice", at(res.ID), fmt.Sprintf(`{"vehicleId":%q}`, unknownVehicle), nil, 400},
		{"category of another vehicle", "alice", at(res.ID), `{"category":"LUXUS"}`, nil, 400},
		{"bad category", "alice", at(res.ID), `{"category":"SPACESHIP"}`, nil, 400},
		{"vehicle elsewhere", "alice", at(res.ID), fmt.Sprintf(`{"vehicleId":%q}`, vehicleMunich), nil, 400},
		{"vehicle in maintenance", "alice", at(res.ID), fmt.Sprintf(`{"vehicleId":%q}`, vehicleMaintenance), nil, 409},
		{"cannot be priced", "alice", at(res.ID), `{"insurance":"NONE"}`, nil, 422},
		{"bad If-Match", "alice", at(res.ID), ok, []string{"If-Match", "v1"}, 400},
		{"stale If-Match", "alice", at(res.ID), ok, []string{"If-Match", `"7"`}, 412},
		{"cancelled", "alice", at(cancelled.ID), ok, nil, 409},
		{"started", "carla", at(active.ID), ok, nil, 409},
		{"not an id", "alice", at("nope"), ok, nil, 404},
		{"no such reservation", "alice", at(nobody), ok, nil, 404},
		{"another customer's", "bob", at(res.ID), ok, nil, 404},
		{"anonymous", "", at(res.ID), ok, nil, 401},
		{"fleet manager", "frank", at(res.ID), ok, nil, 403},
		{"a function", "service:payments-api", at(res.ID), ok, nil, 403},
	}
	before := a.snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(tt.user, http.MethodPost, tt.path, tt.body, tt.header...)
			require.Equal(t, tt.want, r.status, r.String())
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
		})
	}
	assert.Equal(t, before, a.snapshot(), "nothing written")
	// A pending hold past its expiry (the sweep has not run yet) is not changed either.
	_, err := a.db.Pool.Exec(t.Context(), `UPDATE reservations.reservations SET hold_expires_at = now() - interval '1 second' WHERE id = $1`, res.ID)
	require.NoError(t, err)
	before = a.snapshot()
	r := a.do("alice", http.MethodPost, at(res.ID), ok)
	assert.Equal(t, http.StatusConflict, r.status, r.String())
	assert.Equal(t, before, a.snapshot(), "nothing written")
	// The pickup time has come: too late to change, even for a confirmed booking.
	a.setStatus(res.ID, reservations.StatusConfirmed)
	before = a.snapshot()
	a.setNow(p)
	r = a.do("alice", http.MethodPost, at(res.ID), ok)
	assert.Equal(t, http.StatusConflict, r.status, r.String())
	assert.Equal(t, before, a.snapshot(), "nothing written")
}

// TestChangeDoesNotWearTheFeesDown (found in review): the fees are timed from the earliest
// pickup the confirmed booking had, and a change fee once incurred stays. Amounts by hand
// from the 142.76 € booking of TestChange:
//   - 10 h before the pickup, moving it a month ahead (same length, same price: no change
//     fee) and then cancelling costs 100 % of 142.76 € — as cancelling at once would;
//   - 30 h before the pickup, shortening to 95.18 € adds a change fee of 50 % of 47.58 € =
//     23.79 € (118.97 €); swapping to another KOMPAKT at the same price keeps the 23.79 €
//     (still 118.97 €) instead of charging 50 % of a 23.79 € "reduction".
func TestChangeDoesNotWearTheFeesDown(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.realPricing()
	pickup := time.Now().Add(9 * 24 * time.Hour).UTC().Truncate(time.Hour)
	ret := pickup.Add(72 * time.Hour)
	at := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	book := func(car string) reservations.Reservation {
		r := a.do("alice", http.MethodPost, "/api/reservations", fmt.Sprintf(
			`{"vehicleId":%q,"pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"paymentMethodId":%q}`, car, at(pickup), at(ret), paymentMethod))
		require.Equal(t, http.StatusCreated, r.status, r.String())
		res := decode[reservations.Reservation](t, r)
		a.setStatus(res.ID, reservations.StatusConfirmed)
		return res
	}
	change := func(id, body string) reservations.Reservation {
		r := a.do("alice", http.MethodPost, "/api/reservations/"+id+"/change", body)
		require.Equal(t, http.StatusOK, r.status, r.String())
		return decode[reservations.Reservation](t, r)
	}

	a.setNow(pickup.Add(-10 * time.Hour))
	moved := book("f1ee0000-0000-4000-8000-000000000301")
	later := pickup.Add(30 * 24 * time.Hour)
	got := change(moved.ID, fmt.Sprintf(`{"pickupAt":%q,"returnAt":%q}`, at(later), at(later.Add(72*time.Hour))))
	require.Equal(t, int64(14276), got.TotalGrossCents, "moved: same price, no fee")
	r := a.do("alice", http.MethodPost, "/api/reservations/"+moved.ID+"/cancel", `{"reason":"plans changed"}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, int64(14276), decode[reservations.Reservation](t, r).FeeCents, "timed from the original pickup: 100 %")

	a.setNow(pickup.Add(-30 * time.Hour))
	shortened := book("f1ee0000-0000-4000-8000-000000000302")
	// The preview shows what the change will cost — the change fee included — and changes
	// nothing: a page showed pricing's quote without the fee, then charged more.
	before := a.snapshot()
	r = a.do("alice", http.MethodPost, "/api/reservations/"+shortened.ID+"/change-preview", fmt.Sprintf(`{"returnAt":%q}`, at(ret.Add(-24*time.Hour))))
	require.Equal(t, http.StatusOK, r.status, r.String())
	preview := decode[reservations.Reservation](t, r)
	assert.Equal(t, int64(11897), preview.TotalGrossCents)
	assert.Equal(t, before, a.snapshot(), "a preview writes nothing")
	got = change(shortened.ID, fmt.Sprintf(`{"returnAt":%q}`, at(ret.Add(-24*time.Hour))))
	require.Equal(t, int64(11897), got.TotalGrossCents)
	assert.Equal(t, linesOf(preview.Lines), linesOf(got.Lines), "the preview's lines are the change's")
	got = change(shortened.ID, fmt.Sprintf(`{"vehicleId":%q}`, "f1ee0000-0000-4000-8000-000000000303"))
	assert.Equal(t, int64(11897), got.TotalGrossCents, "the fee incurred stays")
	assert.Equal(t, []line{{"RENTAL", 2, "day", 3999, 7998}, {"INSURANCE_LIABILITY", 2, "day", 0, 0}, {"CHANGE_FEE", 1, "rental", 1999, 1999}}, linesOf(got.Lines))

	// Cancelled now, it costs what cancelling at once would have (50 % of 142.76 € =
	// 71.38 €): the change fee owed (23.79 €) and 50 % of the rest (95.18 €: 47.59 €) — not
	// 50 % of a total that holds the change fee (59.49 €).
	r = a.do("alice", http.MethodGet, "/api/reservations/"+shortened.ID+"/cancellation-fee", "")
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Contains(t, r.String(), `"feeCents":7138`)
	r = a.do("alice", http.MethodPost, "/api/reservations/"+shortened.ID+"/cancel", `{"reason":"plans changed"}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, int64(7138), decode[reservations.Reservation](t, r).FeeCents, "no cheaper than cancelling at once")
}

// TestSameExtrasChangeNothing: extras asked again in another spelling or order, or with the
// default quantity written out, are the booking's extras: no new version, no event (each
// such change once mailed the customer "your booking has changed").
func TestSameExtrasChangeNothing(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(5, 48)
	r := a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle1, p, ret, `,"extras":[{"code":"gps"},{"code":" child_seat","quantity":1}]`))
	require.Equal(t, http.StatusCreated, r.status, r.String())
	res := decode[reservations.Reservation](t, r)
	recorded := a.recorded()
	for _, extras := range []string{`[{"code":"GPS"},{"code":"CHILD_SEAT","quantity":1}]`, `[{"code":"GPS"},{"code":"CHILD_SEAT"}]`,
		`[{"code":"CHILD_SEAT"},{"code":"gps","quantity":1}]`} {
		r := a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/change", `{"extras":`+extras+`}`)
		require.Equal(t, http.StatusOK, r.status, r.String())
		assert.Equal(t, res.Version, decode[reservations.Reservation](t, r).Version, extras)
	}
	assert.Equal(t, recorded, a.recorded(), "no reservation.changed")
	r = a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/change", `{"extras":[{"code":"GPS"}]}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, res.Version+1, decode[reservations.Reservation](t, r).Version, "one extra fewer is a change")
}

// TestChangeAsksEligibilityAndNamesPricingsFields: every change asks customers-api again
// (a customer blocked since the booking cannot upgrade it; once only new dates asked), and
// a change pricing refuses names pricing's field.
func TestChangeAsksEligibilityAndNamesPricingsFields(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(5, 48)
	res := a.book(vehicle1, p, ret)
	r := a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/change", `{"extras":[{"code":"CHILD_SEAT","quantity":-1}]}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, r.String())
	assert.Contains(t, r.String(), `"field":"extras[0].quantity"`)

	_, err := a.customers.Pool.Exec(context.Background(), `UPDATE customers.customers SET status = 'blocked', status_reason = 'test', status_changed_at = now() WHERE id = $1`, alice)
	require.NoError(t, err)
	before := a.snapshot()
	r = a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/change", `{"extras":[{"code":"GPS"}]}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, r.String())
	assert.Equal(t, before, a.snapshot(), "nothing changed")
	r = a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/cancel", `{"reason":"blocked"}`)
	assert.Equal(t, http.StatusOK, r.status, "cancelling stays open: %s", r)
}

// TestChangeKeepsTheBookedCar: a change that keeps the car and its category is not held to
// what the fleet did with the car since the booking — reclassified (booked as OBER, a
// KOMPAKT now), away at another branch for now — which once refused every change of such a
// booking (400 "the vehicle's category is …"). Another car is held to the booking as ever.
func TestChangeKeepsTheBookedCar(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(5, 48)
	res := a.book(vehicle1, p, ret)
	_, err := a.db.Pool.Exec(context.Background(), `UPDATE reservations.reservations SET category = 'OBER', pickup_location = 'MUC-FLG', return_location = 'MUC-FLG' WHERE id = $1`, res.ID)
	require.NoError(t, err)
	r := a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/change", `{"insurance":"FULL"}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	got := decode[reservations.Reservation](t, r)
	assert.Equal(t, "OBER", got.Category, "the booked category stays")
	assert.Equal(t, res.Version+1, got.Version)

	r = a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/change", `{"vehicleId":"`+vehicleSUV+`"}`)
	require.Equal(t, http.StatusBadRequest, r.status, r.String())
	assert.Contains(t, r.String(), "pickupLocation")
}
