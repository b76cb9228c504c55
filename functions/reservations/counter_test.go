package reservations_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/fleet/fleetapi"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/openapitest"
)

// confirmedBooking books vehicle for alice at the real time, three days from pickup, and
// confirms it by payment.authorized (the only way a booking is confirmed).
func (a *api) confirmedBooking(vehicle string, pickup time.Time) reservations.Reservation {
	a.t.Helper()
	a.now.Store(nil)
	res := a.book(vehicle, pickup, pickup.Add(72*time.Hour))
	require.Equal(a.t, http.StatusAccepted, a.event("auth-"+res.ID, events.PaymentAuthorized, payment(res.ID, "authorized")).status)
	return res
}

// outboxData is the data of the last event of type typ about reservation id.
func (a *api) outboxData(typ, id string) events.Reservation {
	a.t.Helper()
	var raw []byte
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT data FROM reservations.outbox WHERE type = $1 AND subject = $2 ORDER BY seq DESC LIMIT 1`, typ, id).Scan(&raw))
	var p events.Reservation
	require.NoError(a.t, json.Unmarshal(raw, &p), string(raw))
	return p
}

// TestNoShowFee: a no-show costs what pricing's cancellation rule gives at the pickup time
// itself, priced by the real pricing-api, and reservation.no_show carries it.
//
// By hand (docs/pricing.md): KOMPAKT 39.99 € net a day × 3 days = 119.97 €; VAT 19 % =
// 22.7943 € → 22.79 €; gross 142.76 €. At the pickup time less than 24 h are left: 100 % of
// the gross, 142.76 €.
func TestNoShowFee(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.realPricing()
	pickup := time.Now().Add(4 * 24 * time.Hour).UTC().Truncate(time.Hour)
	res := a.confirmedBooking(vehicle1, pickup)
	require.Equal(t, int64(14276), res.TotalGrossCents)
	post := func(user string) response {
		return a.do(user, http.MethodPost, "/api/reservations/"+res.ID+"/no-show", "")
	}

	a.setNow(pickup.Add(-time.Millisecond))
	r := post("carla")
	require.Equal(t, http.StatusConflict, r.status, "not before the pickup time: %s", r)
	a.setNow(pickup.Add(2 * time.Hour))
	assert.Equal(t, http.StatusForbidden, post("alice").status, "a customer cannot mark a no-show")
	r = post("carla")
	require.Equal(t, http.StatusOK, r.status, r.String())
	got := decode[reservations.Reservation](t, r)
	assert.Equal(t, reservations.StatusNoShow, got.Status)
	assert.Equal(t, int64(14276), got.FeeCents)
	e := a.outboxData(events.ReservationNoShow, res.ID)
	assert.Equal(t, int64(14276), e.FeeCents)
	assert.Equal(t, "no_show", e.Status)
}

// TestHandoverAndReturn: the handover and the return record their readings; the return is
// priced — a late fee and pricing-api's refuel charge (the real function) — and
// reservation.completed carries both, never the damage notes.
//
// By hand (docs/pricing.md, reservations.LateFee): the daily gross rate is 39.99 € × 1.19 =
// 47.5881 € → 47.59 €; returned 25 h late, beyond the hour's grace: two started days,
// 95.18 €. Handed over full (8/8), back at 5/8: three eighths missing × 12.00 € net = 36.00 €
// net. Back full: no return charge.
func TestHandoverAndReturn(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.realPricing()
	tests := []struct {
		name        string
		vehicle     string
		fuelBack    int
		late        time.Duration
		wantLate    int64
		wantCharges []events.PriceLine
	}{
		{"late, three eighths short", vehicle1, 5, 25*time.Hour + time.Minute, 9518, // two days: 24 h beyond the grace hour, and a minute
			[]events.PriceLine{{Code: "REFUEL", Quantity: 3, UnitNetCents: 1200, NetCents: 3600}}},
		{"on time, full", vehicle2, 8, 0, 0, []events.PriceLine{}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pickup := time.Now().Add(time.Duration(5+i) * 24 * time.Hour).UTC().Truncate(time.Hour)
			res := a.confirmedBooking(tt.vehicle, pickup)
			a.setNow(pickup)
			r := a.do("carla", http.MethodPost, "/api/reservations/"+res.ID+"/activate", `{"odometerKm":12000,"fuelEighths":8}`)
			require.Equal(t, http.StatusOK, r.status, r.String())
			v := decode[reservations.CounterView](t, r)
			assert.Equal(t, reservations.StatusActive, v.Status)
			require.NotNil(t, v.Counter.PickupOdometerKm)
			assert.Equal(t, 12000, *v.Counter.PickupOdometerKm)
			assert.Equal(t, 8, *v.Counter.PickupFuelEighths)
			assert.Nil(t, v.Counter.ReturnOdometerKm)

			a.setNow(res.ReturnAt.Add(tt.late))
			body := `{"odometerKm":12480,"fuelEighths":` + itoa(tt.fuelBack) + `,"damageNotes":"  scratch on the rear bumper, left  "}`
			r = a.do("carla", http.MethodPost, "/api/reservations/"+res.ID+"/complete", body)
			require.Equal(t, http.StatusOK, r.status, r.String())
			v = decode[reservations.CounterView](t, r)
			assert.Equal(t, reservations.StatusCompleted, v.Status)
			assert.Equal(t, tt.wantLate, v.LateFeeCents)
			assert.Equal(t, 12480, *v.Counter.ReturnOdometerKm)
			assert.Equal(t, tt.fuelBack, *v.Counter.ReturnFuelEighths)
			assert.Equal(t, "scratch on the rear bumper, left", v.Counter.DamageNotes)
			assert.Equal(t, tt.wantCharges, withoutText(v.Counter.ReturnCharges))
			assert.Equal(t, tt.wantCharges, withoutText(v.ReturnCharges), "the answer's booking has them too")

			e := a.outboxData(events.ReservationCompleted, res.ID)
			assert.Equal(t, tt.wantLate, e.LateFeeCents)
			require.NotNil(t, v.CompletedAt)
			assert.Equal(t, v.CompletedAt.UTC().Format(time.RFC3339Nano), e.CompletedAt, "the return made, for the mail")
			assert.Equal(t, tt.wantCharges, withoutText(e.ReturnCharges))
			var raw string
			require.NoError(t, a.db.Pool.QueryRow(context.Background(),
				`SELECT string_agg(data::text, ' ') FROM reservations.outbox WHERE subject = $1`, res.ID).Scan(&raw))
			assert.NotContains(t, raw, "scratch", "damage notes stay out of events")

			// Staff read the record again; the renter may not (the notes are a staff note).
			r = a.do("carla", http.MethodGet, "/api/reservations/"+res.ID+"/counter", "")
			require.Equal(t, http.StatusOK, r.status, r.String())
			assert.Equal(t, v.Counter, decode[reservations.CounterView](t, r).Counter)
			assert.Equal(t, http.StatusForbidden, a.do("alice", http.MethodGet, "/api/reservations/"+res.ID+"/counter", "").status)

			// The renter's booking shows what the return added and what the rental now costs,
			// as payments-api bills it: the total, the late fee, the charges with 19 % VAT.
			mine := decode[reservations.Reservation](t, a.do("alice", http.MethodGet, "/api/reservations/"+res.ID, ""))
			assert.Equal(t, tt.wantCharges, withoutText(mine.ReturnCharges))
			var charges int64
			for _, l := range tt.wantCharges {
				charges += l.NetCents
			}
			assert.Equal(t, mine.TotalGrossCents+tt.wantLate+charges+(charges*19*2+100)/200, mine.RentalGrossCents)
			assert.Equal(t, mine.RentalGrossCents, v.RentalGrossCents, "the return's answer says the same")
		})
	}
}

// withoutText drops the lines' descriptions and units (pricing's wording), keeping what
// the amounts are; nil stays empty.
func withoutText(lines []events.PriceLine) []events.PriceLine {
	out := []events.PriceLine{}
	for _, l := range lines {
		out = append(out, events.PriceLine{Code: l.Code, Quantity: l.Quantity, UnitNetCents: l.UnitNetCents, NetCents: l.NetCents})
	}
	return out
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestActivationNeedsTheCarAtTheBranch: vehicles-api must say the booked car stands at the
// pickup branch, available or reserved; otherwise 409 problem+json and nothing is written.
func TestActivationNeedsTheCarAtTheBranch(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	pickup := time.Now().Add(3 * 24 * time.Hour).UTC().Truncate(time.Hour)
	res := a.confirmedBooking(vehicle1, pickup)
	a.setNow(pickup)
	tests := []struct {
		name     string
		location string
		status   string
		missing  bool
		want     int
	}{
		{"at another branch", "MUC-FLG", fleetapi.StatusReserved, false, http.StatusConflict},
		{"in the workshop", "BER-HBF", fleetapi.StatusMaintenance, false, http.StatusConflict},
		{"out of service", "BER-HBF", fleetapi.StatusOutOfService, false, http.StatusConflict},
		{"rented out to someone else", "BER-HBF", fleetapi.StatusRented, false, http.StatusConflict},
		{"no longer in the fleet", "", "", true, http.StatusConflict},
		{"reserved at the branch", "BER-HBF", fleetapi.StatusReserved, false, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fleet := mux.NewRouter()
			fleet.HandleFunc("/api/vehicles/{id}", func(w http.ResponseWriter, r *http.Request) {
				if tt.missing {
					problem(w, http.StatusNotFound, "no vehicle")
					return
				}
				reply(w, fleetapi.Vehicle{ID: mux.Vars(r)["id"], Name: "VW Golf", Category: "KOMPAKT", LocationCode: tt.location, Status: tt.status, Version: 3})
			})
			a.transport.Mount("vehicles-api", a.onlyReservations(fleet))
			before := a.snapshot()
			r := a.do("carla", http.MethodPost, "/api/reservations/"+res.ID+"/activate", `{"odometerKm":100,"fuelEighths":8}`)
			require.Equal(t, tt.want, r.status, r.String())
			if tt.want != http.StatusOK {
				assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
				assert.Equal(t, platform.ProblemTypeBase+"conflict", decode[platform.Problem](t, r).Type)
				assert.Equal(t, before, a.snapshot())
			}
		})
	}
}

// TestCounterBadInput: every malformed handover, return and no-show is a 4xx problem+json
// that writes nothing.
func TestCounterBadInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	pickup := time.Now().Add(3 * 24 * time.Hour).UTC().Truncate(time.Hour)
	confirmed := a.confirmedBooking(vehicle1, pickup)
	active := a.confirmedBooking(vehicle2, pickup)
	a.setNow(pickup)
	r := a.do("carla", http.MethodPost, "/api/reservations/"+active.ID+"/activate", `{"odometerKm":5000,"fuelEighths":6}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	long := `"` + strings.Repeat("x", reservations.MaxDamageNotes+1) + `"`
	tests := []struct {
		name, id, action, body string
		header                 []string
		want                   int
		field                  string
	}{
		{"handover without a body", confirmed.ID, "/activate", "", nil, 415, ""},
		{"handover without readings", confirmed.ID, "/activate", `{}`, nil, 400, "odometerKm"},
		{"negative odometer", confirmed.ID, "/activate", `{"odometerKm":-1,"fuelEighths":4}`, nil, 400, "odometerKm"},
		{"odometer beyond any car", confirmed.ID, "/activate", `{"odometerKm":10000000,"fuelEighths":4}`, nil, 400, "odometerKm"},
		{"fractional odometer", confirmed.ID, "/activate", `{"odometerKm":1.5,"fuelEighths":4}`, nil, 400, ""},
		{"fuel above full", confirmed.ID, "/activate", `{"odometerKm":1,"fuelEighths":9}`, nil, 400, "fuelEighths"},
		{"fuel below empty", confirmed.ID, "/activate", `{"odometerKm":1,"fuelEighths":-1}`, nil, 400, "fuelEighths"},
		{"fuel as text", confirmed.ID, "/activate", `{"odometerKm":1,"fuelEighths":"full"}`, nil, 400, ""},
		{"an unknown field", confirmed.ID, "/activate", `{"odometerKm":1,"fuelEighths":4,"mileage":3}`, nil, 400, ""},
		{"not JSON", confirmed.ID, "/activate", `{"odometerKm":1,"fuelEighths":4}`, []string{"Content-Type", "text/plain"}, 415, ""},
		{"no such reservation", "00000000-0000-4000-8000-000000000000", "/activate", `{"odometerKm":1,"fuelEighths":4}`, nil, 404, ""},
		{"return without readings", active.ID, "/complete", `{"damageNotes":"ok"}`, nil, 400, "odometerKm"},
		{"return below the handover's odometer", active.ID, "/complete", `{"odometerKm":4999,"fuelEighths":6}`, nil, 400, "odometerKm"},
		{"return fuel above full", active.ID, "/complete", `{"odometerKm":5100,"fuelEighths":10}`, nil, 400, "fuelEighths"},
		{"damage notes too long", active.ID, "/complete", `{"odometerKm":5100,"fuelEighths":6,"damageNotes":` + long + `}`, nil, 400, "damageNotes"},
		{"damage notes not text", active.ID, "/complete", `{"odometerKm":5100,"fuelEighths":6,"damageNotes":7}`, nil, 400, ""},
		{"no-show with a body", confirmed.ID, "/no-show", `{"feeCents":0}`, nil, 400, ""},
		{"no-show with an array", confirmed.ID, "/no-show", `[]`, nil, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := a.snapshot()
			r := a.do("carla", http.MethodPost, "/api/reservations/"+tt.id+tt.action, tt.body, tt.header...)
			require.Equal(t, tt.want, r.status, r.String())
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			if tt.field != "" {
				p := decode[platform.Problem](t, r)
				var fields []string
				for _, f := range p.Errors {
					fields = append(fields, f.Field)
				}
				assert.Contains(t, fields, tt.field)
			}
			assert.Equal(t, before, a.snapshot())
		})
	}
}

// TestCounterAnswersMatchTheDocument validates the counter's real answers, refusals
// included, against the OpenAPI document.
func TestCounterAnswersMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	v := openapitest.NewValidator(t, loadOpenAPI(t, a))
	pickup := time.Now().Add(3 * 24 * time.Hour).UTC().Truncate(time.Hour)
	rented := a.confirmedBooking(vehicle1, pickup)
	missed := a.confirmedBooking(vehicle2, pickup)
	a.setNow(pickup.Add(time.Hour))
	calls := []struct{ path, body string }{
		{"/api/reservations/" + rented.ID + "/activate", `{"odometerKm":7}`},
		{"/api/reservations/" + rented.ID + "/activate", `{"odometerKm":7,"fuelEighths":6}`},
		{"/api/reservations/" + rented.ID + "/activate", `{"odometerKm":7,"fuelEighths":6}`},
		{"/api/reservations/" + rented.ID + "/complete", `{"odometerKm":5,"fuelEighths":6}`},
		{"/api/reservations/" + rented.ID + "/complete", `{"odometerKm":300,"fuelEighths":2,"damageNotes":"dent, right door"}`},
		{"/api/reservations/" + missed.ID + "/no-show", ``},
		{"/api/reservations/" + missed.ID + "/no-show", `{}`},
		{"/api/reservations/" + rented.ID + "/counter", ``},
		{"/api/reservations/00000000-0000-4000-8000-000000000000/counter", ``},
	}
	for _, c := range calls {
		header := http.Header{}
		if c.body != "" {
			header.Set("Content-Type", "application/json")
		}
		method := http.MethodPost
		if strings.HasSuffix(c.path, "/counter") {
			method = http.MethodGet
		}
		r := a.do("carla", method, c.path, c.body)
		v.Check(t, method, c.path, header, r.status, r.header, r.body)
	}
}
