package reservations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/customers"
	"github.com/orangecarrental/orange/functions/fleet/fleetapi"
	"github.com/orangecarrental/orange/functions/locations"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

const (
	alice      = devissuer.CustomerAlice
	bob        = devissuer.CustomerBob
	aliceEmail = "alice@example.com"                    // as customers-api's seed has it
	ineligible = "c5000000-0000-4000-8000-000000000007" // customers-api's seed: 20 years old
	nobody     = "44444444-4444-4444-8444-444444444444" // no such customer
	vehicle1   = "f1ee0000-0000-4000-8000-000000000002"
	vehicle2   = "f1ee0000-0000-4000-8000-000000000003"
	// The fake pricing's quote: 3 days of KOMPAKT at 39.99 € net = 119.97 €, VAT 19 % 22.79 €,
	// gross 142.76 €; 47.59 € gross a day.
	quoteGross = int64(14276)
	dailyGross = int64(4759)
)

// api is the reservations API over a fresh database, served as a host serves it (its
// Authenticator in front of its route table), calling the real customers-api (over its own
// fresh database) and fakes of vehicles-api and pricing-api on an in-process transport, as
// reservations-api itself: its client carries the service tokens the development issuer
// grants it, and the fakes refuse any other caller.
type api struct {
	t         testing.TB
	id        *authtest.Identity
	db        *database.DB
	customers *database.DB
	branches  *database.DB // locations-api's, its branches open around the clock (branches_test.go)
	svc       *reservations.Service
	handler   http.Handler
	transport *platform.Transport // where the other functions are mounted
	tokens    map[string]string
	quotes    atomic.Int64
	calls     atomic.Int64 // calls the fakes accepted
	now       atomic.Pointer[time.Time]
	// meanwhile, when set, runs once inside the next quote or cancellation fee pricing-api
	// is asked for: something that happens to the booking while a request decides on it.
	meanwhile atomic.Pointer[func()]
}

// happenMeanwhile runs the meanwhile hook, once.
func (a *api) happenMeanwhile() {
	if f := a.meanwhile.Swap(nil); f != nil {
		(*f)()
	}
}

func newAPI(t testing.TB) *api {
	t.Helper()
	return newAPIOn(t, pg)
}

// newAPIOn is newAPI with its databases on inst (BenchmarkBooking's fsync-on cluster).
func newAPIOn(t testing.TB, inst *pgtest.Instance) *api {
	t.Helper()
	id := authtest.New(t)
	a := &api{t: t, id: id, db: inst.NewDB(t, reservations.Migrations), customers: inst.NewDB(t, customers.Migrations), tokens: map[string]string{}}
	for _, u := range []string{"alice", "bob", "carla", "frank", "ada", "service:payments-api"} {
		a.tokens[u] = id.Bearer(t, u)
	}
	cust, err := customers.New(context.Background(), customers.Config{}, platform.Deps{DB: a.customers})
	require.NoError(t, err)
	tr := platform.NewTransport(nil, nil)
	tr.Mount(customers.ServiceName, platform.Handler(cust, id.Authenticator(customers.ServiceName)))
	tr.Mount("pricing-api", a.onlyReservations(a.fakePricing()))
	tr.Mount("vehicles-api", a.onlyReservations(fakeFleet()))
	a.branches = inst.NewDB(t, locations.Migrations)
	openAroundTheClock(t, a.branches)
	branches, err := locations.New(context.Background(), locations.Config{}, platform.Deps{DB: a.branches})
	require.NoError(t, err)
	tr.Mount(locations.ServiceName, platform.Handler(branches, id.Authenticator(locations.ServiceName)))
	a.transport = tr
	client := platform.ForwardingClient(tr, id.ServiceTokens(reservations.ServiceName), 5*time.Second)
	a.svc, err = reservations.New(context.Background(), reservations.Config{Hold: 15 * time.Minute}, platform.Deps{DB: a.db, Client: client})
	require.NoError(t, err)
	reservations.SetClock(a.svc, a.clock)
	logger := platform.NewLogger(io.Discard, "error", reservations.ServiceName)
	a.handler = platform.Observe(logger, platform.Handler(a.svc, id.Authenticator(reservations.ServiceName)))
	return a
}

func (a *api) clock() time.Time {
	if p := a.now.Load(); p != nil {
		return *p
	}
	return time.Now()
}

func (a *api) setNow(t time.Time) { a.now.Store(&t) }

// onlyReservations admits to a fake only what the real function would see from a booking:
// a call authenticated as reservations-api itself (401 without a token, 403 for anyone else).
func (a *api) onlyReservations(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, `{"title":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		c, err := a.id.Verifier.Verify(r.Context(), token)
		if err != nil || c.Service != reservations.ServiceName {
			http.Error(w, `{"title":"Forbidden"}`, http.StatusForbidden)
			return
		}
		a.calls.Add(1)
		next.ServeHTTP(w, r)
	})
}

// customerRows counts customers-api's customers, to prove a refused guest registered nobody.
func (a *api) customerRows() int {
	a.t.Helper()
	var n int
	require.NoError(a.t, a.customers.Pool.QueryRow(context.Background(), `SELECT count(*) FROM customers.customers`).Scan(&n))
	return n
}

// Vehicles of the fake fleet beyond the compact cars at BER-HBF every other id is.
const (
	unknownVehicle     = "f1ee0000-0000-4000-8000-0000000000ff"
	vehicleMaintenance = "f1ee0000-0000-4000-8000-000000000004"
	vehicleMunich      = "f1ee0000-0000-4000-8000-000000000011"
	vehicleSUV         = "f1ee0000-0000-4000-8000-000000000021" // an SUV at BER-HBF
)

// fakeFleet plays vehicles-api's GET /api/vehicles/{id} in fleetapi's types (fleetapi's
// contract test holds the real function to them).
func fakeFleet() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/api/vehicles/{id}", func(w http.ResponseWriter, r *http.Request) {
		v := fleetapi.Vehicle{ID: mux.Vars(r)["id"], Name: "VW Golf", Category: "KOMPAKT", LocationCode: "BER-HBF", Status: fleetapi.StatusAvailable, Version: 1}
		switch v.ID {
		case unknownVehicle:
			problem(w, http.StatusNotFound, "no vehicle with id "+v.ID)
			return
		case vehicleMaintenance:
			v.Status = fleetapi.StatusMaintenance
		case vehicleMunich:
			v.LocationCode = "MUC-FLG"
		case vehicleSUV:
			v.Name, v.Category = "VW Tiguan", "SUV"
		}
		reply(w, v)
	}).Methods(http.MethodGet)
	return r
}

// fakePricing plays pricing-api's quote and cancellation fee in pricingapi's types
// (pricingapi's contract test holds the real function to them).
func (a *api) fakePricing() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/api/pricing/quotes", func(w http.ResponseWriter, r *http.Request) {
		a.quotes.Add(1)
		a.happenMeanwhile()
		var in pricingapi.QuoteRequest
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Insurance == "NONE" {
			problem(w, http.StatusNotFound, "no rate for this branch")
			return
		}
		for i, e := range in.Extras {
			if e.Quantity != nil && *e.Quantity < 1 { // as pricing-api answers it
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"title":"Bad Request","status":400,"detail":"the quote request is invalid","errors":[{"field":"extras[%d].quantity","reason":"must be from 1 to 3"}]}`, i)
				return
			}
		}
		reply(w, pricingapi.Quote{Days: 3, DailyRateNetCents: 3999, DailyRateGrossCents: dailyGross, Insurance: "LIABILITY",
			Lines:    []pricingapi.Line{{Code: "RENTAL", Description: "Rental KOMPAKT", Quantity: 3, Per: pricingapi.PerDay, UnitNetCents: 3999, NetCents: 11997}},
			NetCents: 11997, VATPercent: 19, VATCents: 2279, GrossCents: quoteGross, Currency: "EUR"})
	}).Methods(http.MethodPost)
	r.HandleFunc("/api/pricing/cancellation-fee", func(w http.ResponseWriter, r *http.Request) {
		a.happenMeanwhile()
		var in pricingapi.FeeRequest
		_ = json.NewDecoder(r.Body).Decode(&in)
		p, _ := time.Parse(time.RFC3339, in.PickupAt)
		c, _ := time.Parse(time.RFC3339, in.CancelledAt)
		hours := int64(p.Sub(c) / time.Hour)
		pct := 100
		switch {
		case hours >= 48:
			pct = 0
		case hours >= 24:
			pct = 50
		}
		reply(w, pricingapi.FeeResponse{FeePercent: pct, FeeCents: *in.TotalGrossCents * int64(pct) / 100, HoursBeforePickup: hours, Currency: "EUR"})
	}).Methods(http.MethodPost)
	r.HandleFunc("/api/pricing/return-charges", func(w http.ResponseWriter, r *http.Request) {
		var in pricingapi.ReturnChargesRequest
		_ = json.NewDecoder(r.Body).Decode(&in)
		out := pricingapi.ReturnChargesResponse{Lines: []pricingapi.Line{}, Currency: "EUR"}
		if missing := *in.FuelAtPickup - *in.FuelAtReturn; missing > 0 {
			out.Lines = append(out.Lines, pricingapi.Line{Code: "REFUEL", Description: "Refuelling", Quantity: missing, Per: pricingapi.PerRental, UnitNetCents: 1200, NetCents: int64(missing) * 1200})
			out.NetCents = int64(missing) * 1200
		}
		reply(w, out)
	}).Methods(http.MethodPost)
	return r
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(platform.Problem{Title: http.StatusText(status), Status: status, Detail: detail})
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// do sends a request as user ("" for anonymous); header pairs follow.
func (a *api) do(user, method, path, body string, header ...string) response {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", a.tokens[user])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func decode[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}

// testHour is the hour this test binary started in: every period counts from it, so two
// periods a test asks for with the same arguments are the same rental even when the test
// runs across the top of an hour (it then books, say, the same car twice on purpose).
var testHour = time.Now().UTC().Truncate(time.Hour)

// period is a rental from pickup in days days (on the hour, counted from testHour) lasting
// hours hours.
func period(days, hours int) (time.Time, time.Time) {
	p := testHour.Add(time.Duration(days) * 24 * time.Hour)
	return p, p.Add(time.Duration(hours) * time.Hour)
}

// paymentMethod is a payment-method id as payments-api issues them (reservations only
// passes it on).
const paymentMethod = "pm_5e7e0000a11ce0000000000000000001"

func bookingBody(vehicle string, pickup, ret time.Time, extra string) string {
	return fmt.Sprintf(`{"vehicleId":%q,"category":"KOMPAKT","pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"paymentMethodId":%q%s}`,
		vehicle, pickup.Format(time.RFC3339), ret.Format(time.RFC3339), paymentMethod, extra)
}

// book creates a reservation as alice and returns it.
func (a *api) book(vehicle string, pickup, ret time.Time) reservations.Reservation {
	a.t.Helper()
	r := a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle, pickup, ret, ""))
	require.Equal(a.t, http.StatusCreated, r.status, r.String())
	return decode[reservations.Reservation](a.t, r)
}

// setStatus forces a reservation into a state (test fixtures only).
func (a *api) setStatus(id string, s reservations.Status) {
	a.t.Helper()
	_, err := a.db.Pool.Exec(context.Background(),
		`UPDATE reservations.reservations SET status = $2, hold_expires_at = CASE WHEN $2 = 'pending' THEN now() + interval '15 minutes' END WHERE id = $1`, id, string(s))
	require.NoError(a.t, err)
}

func (a *api) status(id string) reservations.Status {
	a.t.Helper()
	var s string
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(), `SELECT status FROM reservations.reservations WHERE id = $1`, id).Scan(&s))
	return reservations.Status(s)
}

// snapshot is every stored row (live and archived) and every recorded event, to prove a
// request wrote nothing.
func (a *api) snapshot() string {
	a.t.Helper()
	var rows, archived, outbox string
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(row_to_json(r)::text, E'\n' ORDER BY id), '') FROM reservations.reservations r`).Scan(&rows))
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(row_to_json(r)::text, E'\n' ORDER BY id), '') FROM reservations.archived_reservations r`).Scan(&archived))
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(id::text, ',' ORDER BY seq), '') FROM reservations.outbox`).Scan(&outbox))
	return rows + "\narchived: " + archived + "\noutbox: " + outbox
}

// recorded returns the outbox as "type subject" lines, oldest first.
func (a *api) recorded() []string {
	a.t.Helper()
	rows, err := a.db.Pool.Query(context.Background(), `SELECT type, subject FROM reservations.outbox ORDER BY seq`)
	require.NoError(a.t, err)
	var out []string
	for rows.Next() {
		var typ, subject string
		require.NoError(a.t, rows.Scan(&typ, &subject))
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(typ, "com.orangecarrental.reservation."), ".v1")+" "+subject)
	}
	require.NoError(a.t, rows.Err())
	return out
}

// event delivers a binary-mode CloudEvent to /cloudevents.
func (a *api) event(id, typ string, data any) response {
	a.t.Helper()
	body := ""
	if data != nil {
		raw, err := json.Marshal(data)
		require.NoError(a.t, err)
		body = string(raw)
	}
	return a.do("", http.MethodPost, "/cloudevents", body,
		"ce-specversion", "1.0", "ce-id", id, "ce-source", "test", "ce-type", typ,
		"Authorization", a.id.DeliveryBearer(a.t, senderOf(typ), reservations.ServiceName))
}

// senderOf is what delivers an event type to reservations-api (knative/base/reservations-api.yaml):
// a Trigger per payment event, the sweep's PingSource for pings.
func senderOf(typ string) platform.Sender {
	switch typ {
	case events.PaymentAuthorized:
		return platform.Trigger("reservations-api-payment-authorized")
	case events.PaymentFailed:
		return platform.Trigger("reservations-api-payment-failed")
	}
	return platform.PingSource("reservations-sweep")
}
