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

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

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
	ineligible = "33333333-3333-4333-8333-333333333333" // the fake customers says no
	vehicle1   = "f1ee0000-0000-4000-8000-000000000002"
	vehicle2   = "f1ee0000-0000-4000-8000-000000000003"
	quoteGross = int64(14277)
	dailyGross = int64(4759)
)

// api is the reservations API over a fresh database, served as a host serves it, with
// customers-api and pricing-api played by fakes mounted on an in-process transport.
type api struct {
	t       *testing.T
	db      *database.DB
	svc     *reservations.Service
	handler http.Handler
	tokens  map[string]string
	quotes  atomic.Int64
	regs    atomic.Int64
	now     atomic.Pointer[time.Time]
}

func newAPI(t *testing.T) *api {
	t.Helper()
	a := &api{t: t, db: pg.NewDB(t, reservations.Migrations), tokens: map[string]string{}}
	id := authtest.New(t)
	for _, u := range []string{"alice", "bob", "carla", "frank", "ada", "service"} {
		a.tokens[u] = id.Bearer(t, u)
	}
	tr := platform.NewTransport(nil, nil)
	tr.Mount("customers-api", a.fakeCustomers())
	tr.Mount("pricing-api", a.fakePricing())
	tr.Mount("vehicles-api", fakeFleet())
	client := platform.ForwardingClient(tr, 5*time.Second)
	a.svc = reservations.New(a.db, client, reservations.Config{Hold: 15 * time.Minute})
	reservations.SetClock(a.svc, a.clock)
	logger := platform.NewLogger(io.Discard, "error", "reservations-api")
	a.handler = platform.Observe(logger, platform.Handler(a.svc, id.Verifier))
	return a
}

func (a *api) clock() time.Time {
	if p := a.now.Load(); p != nil {
		return *p
	}
	return time.Now()
}

func (a *api) setNow(t time.Time) { a.now.Store(&t) }

func (a *api) fakeCustomers() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/api/customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["id"]
		if id == "44444444-4444-4444-8444-444444444444" {
			http.Error(w, `{"title":"Not Found"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "email": emailOf(id), "status": "active"})
	}).Methods(http.MethodGet)
	r.HandleFunc("/api/customers/{id}/eligibility", func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["id"]
		if id == ineligible {
			_ = json.NewEncoder(w).Encode(map[string]any{"eligible": false, "reasons": []map[string]string{{"code": "age", "message": "under 21"}}})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"eligible": true, "reasons": []any{}, "warnings": []any{}})
	}).Methods(http.MethodPost)
	r.HandleFunc("/api/customers", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Email string `json:"email"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Email == "taken@example.com" {
			w.WriteHeader(http.StatusConflict)
			return
		}
		a.regs.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": uuid.NewString(), "email": in.Email})
	}).Methods(http.MethodPost)
	return r
}

// Vehicles of the fake fleet beyond the compact cars at BER-HBF every other id is.
const (
	unknownVehicle     = "f1ee0000-0000-4000-8000-0000000000ff"
	vehicleMaintenance = "f1ee0000-0000-4000-8000-000000000004"
	vehicleMunich      = "f1ee0000-0000-4000-8000-000000000011"
)

func fakeFleet() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/api/vehicles/{id}", func(w http.ResponseWriter, r *http.Request) {
		v := map[string]any{"id": mux.Vars(r)["id"], "category": "KOMPAKT", "locationCode": "BER-HBF", "status": "available", "dailyRateNetCents": nil}
		switch v["id"] {
		case unknownVehicle:
			w.WriteHeader(http.StatusNotFound)
			return
		case vehicleMaintenance:
			v["status"] = "maintenance"
		case vehicleMunich:
			v["locationCode"] = "MUC-FLG"
		}
		_ = json.NewEncoder(w).Encode(v)
	}).Methods(http.MethodGet)
	return r
}

func emailOf(id string) string { return id[:8] + "@example.com" }

func (a *api) fakePricing() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/api/pricing/quotes", func(w http.ResponseWriter, r *http.Request) {
		a.quotes.Add(1)
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in["insurance"] == "NONE" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"title":"Unprocessable","detail":"no rate for this branch"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"days": 3, "dailyRateGrossCents": dailyGross, "grossCents": quoteGross, "currency": "EUR"})
	}).Methods(http.MethodPost)
	r.HandleFunc("/api/pricing/cancellation-fee", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			PickupAt, CancelledAt string
			TotalGrossCents       int64
		}
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
		_ = json.NewEncoder(w).Encode(map[string]any{"feePercent": pct, "feeCents": in.TotalGrossCents * int64(pct) / 100, "hoursBeforePickup": hours})
	}).Methods(http.MethodPost)
	return r
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

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}

// period is a rental from pickup in days days (on the hour) lasting hours hours.
func period(days, hours int) (time.Time, time.Time) {
	p := time.Now().Add(time.Duration(days) * 24 * time.Hour).UTC().Truncate(time.Hour)
	return p, p.Add(time.Duration(hours) * time.Hour)
}

func bookingBody(vehicle string, pickup, ret time.Time, extra string) string {
	return fmt.Sprintf(`{"vehicleId":%q,"category":"KOMPAKT","pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"paymentToken":"tok_visa_success"%s}`,
		vehicle, pickup.Format(time.RFC3339), ret.Format(time.RFC3339), extra)
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

// snapshot is every stored row and every recorded event, to prove a request wrote nothing.
func (a *api) snapshot() string {
	a.t.Helper()
	var rows, outbox string
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(row_to_json(r)::text, E'\n' ORDER BY id), '') FROM reservations.reservations r`).Scan(&rows))
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(id::text, ',' ORDER BY seq), '') FROM reservations.outbox`).Scan(&outbox))
	return rows + "\noutbox: " + outbox
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
		"ce-specversion", "1.0", "ce-id", id, "ce-source", "test", "ce-type", typ)
}
