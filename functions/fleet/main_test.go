package fleet_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// Seed vehicles the tests name (migrations/0003_seed_vehicles.sql).
const (
	vwUp       = "f1ee0000-0000-4000-8000-000000000001" // BER-HBF KLEIN, petrol, manual, 4 seats
	vwGolf     = "f1ee0000-0000-4000-8000-000000000002" // BER-HBF KOMPAKT, diesel, manual
	vwID3      = "f1ee0000-0000-4000-8000-000000000003" // BER-HBF KOMPAKT, electric, automatic
	opelAstra  = "f1ee0000-0000-4000-8000-000000000004" // BER-HBF KOMPAKT, in maintenance
	passat     = "f1ee0000-0000-4000-8000-000000000005" // BER-HBF KOMBI
	bmw5er     = "f1ee0000-0000-4000-8000-000000000006" // BER-HBF OBER
	tiguan     = "f1ee0000-0000-4000-8000-000000000007" // BER-HBF SUV
	vito       = "f1ee0000-0000-4000-8000-000000000008" // BER-HBF TRANS, 9 seats
	taycan     = "f1ee0000-0000-4000-8000-000000000009" // BER-HBF LUXUS, own rate 22999
	golfGTE    = "f1ee0000-0000-4000-8000-000000000011" // MUC-FLG KOMPAKT, own rate 4499
	unknownID  = "f1ee0000-0000-4000-8000-0000000000ff"
	berlinSeed = 9 // vehicles at BER-HBF, one of them in maintenance
)

// api is the vehicles API over a fresh database holding the demo fleet, served as a host
// serves it (request observation, token verification, access checks), with pricing-api
// played by a fake on the same in-process transport. Requests carry a fleet manager's token
// unless a test sets its own Authorization header ("" sends none).
type api struct {
	t       *testing.T
	db      *database.DB
	store   *fleet.Store
	handler http.Handler
	pricing *fakePricing
	// branches is locations-api's fake: a search is held to its branch.
	branches *fakeLocations
	id       *authtest.Identity
	fleet    string
}

// setup is what newAPI builds from: the function's configuration and the platform client's
// timeout (CALL_TIMEOUT).
type setup struct {
	cfg         fleet.Config
	callTimeout time.Duration
	clock       func() time.Time // nil: the real clock
	service     **fleet.Service  // set to the service built, when not nil
}

// option adjusts a setup; nil options are skipped.
type option func(*setup)

// newAPI builds the API over a fresh database with the default configuration, adjusted by
// opts.
func newAPI(t *testing.T, opts ...option) *api {
	t.Helper()
	return newAPIOn(t, pg.NewDB(t, fleet.Migrations), opts...)
}

// newAPIOn builds the API over db, which tests that only read may share.
func newAPIOn(t *testing.T, db *database.DB, opts ...option) *api {
	t.Helper()
	id := authtest.New(t)
	pricing := &fakePricing{}
	branches := &fakeLocations{closed: map[string]bool{}}
	transport := platform.NewTransport(nil, nil)
	transport.Mount("pricing-api", pricing)
	transport.Mount("locations-api", branches)
	st := setup{cfg: fleet.Config{MaxCandidates: 200, PricingTimeout: 5 * time.Second}, callTimeout: 5 * time.Second}
	for _, o := range opts {
		if o != nil {
			o(&st)
		}
	}
	svc, err := fleet.New(context.Background(), st.cfg, platform.Deps{
		DB:        db,
		Client:    platform.ForwardingClient(transport, id.ServiceTokens(fleet.ServiceName), st.callTimeout),
		Transport: transport,
	})
	require.NoError(t, err)
	if st.clock != nil {
		fleet.SetClock(svc, st.clock)
	}
	if st.service != nil {
		*st.service = svc
	}
	logger := platform.NewLogger(io.Discard, "error", "vehicles-api")
	return &api{t: t, db: db, store: fleet.NewStore(db), pricing: pricing, branches: branches, id: id, fleet: id.Bearer(t, "frank"),
		handler: platform.Observe(logger, platform.Handler(svc, id.Authenticator(fleet.ServiceName)))}
}

// callerOf verifies an Authorization header the way every function does and returns who it
// names.
func (a *api) callerOf(authorization string) platform.Caller {
	a.t.Helper()
	token, ok := strings.CutPrefix(authorization, "Bearer ")
	require.True(a.t, ok, "a bearer token: %q", authorization)
	c, err := a.id.Verifier.Verify(context.Background(), token)
	require.NoError(a.t, err)
	return c
}

// mustTime parses an RFC 3339 time.
func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return v
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; header holds name/value pairs.
func (a *api) do(method, path, contentType, body string, header ...string) response {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", a.fleet)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if req.Header.Get("Authorization") == "" {
		req.Header.Del("Authorization")
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (a *api) get(path string, header ...string) response {
	a.t.Helper()
	return a.do(http.MethodGet, path, "", "", header...)
}

func (a *api) json(method, path, body string, header ...string) response {
	a.t.Helper()
	return a.do(method, path, "application/json", body, header...)
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}

// snapshot is every stored row of the fleet schema, to prove a rejected request wrote
// nothing.
func (a *api) snapshot() string {
	a.t.Helper()
	var s string
	err := a.db.Pool.QueryRow(context.Background(), `SELECT
		coalesce((SELECT string_agg(row_to_json(v)::text, E'\n' ORDER BY id) FROM fleet.vehicles v), '') || E'\n--\n' ||
		coalesce((SELECT string_agg(row_to_json(b)::text, E'\n' ORDER BY reservation_id) FROM fleet.bookings b), '') || E'\n--\n' ||
		coalesce((SELECT string_agg(id::text, ',' ORDER BY seq) FROM fleet.outbox), '')`).Scan(&s)
	require.NoError(a.t, err)
	return s
}

// vehicle reads one vehicle straight from the store.
func (a *api) vehicle(id string) fleet.Vehicle {
	a.t.Helper()
	v, err := a.store.Get(context.Background(), id)
	require.NoError(a.t, err)
	return v
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// fakePricing plays pricing-api's POST /api/pricing/rates contract, in the contract's own
// types (pricingapi; pricingapi's contract test holds the real function to them), with the
// design's rates:
// days are started 24-hour periods, 10 % off from 7 days, VAT 19 % rounded half up on the
// net total, gross daily price rounded half up. Tests compare against totals worked out by
// hand, not against this code. Its mode makes it fail or hang.
type fakePricing struct {
	mu    sync.Mutex
	mode  string // "", "fail", "hang", "partial"
	calls []pricingCall
	rates map[string]int64 // a test's own policy rates by category, over policyCents
}

type pricingCall struct {
	authorization string
	body          pricingapi.RatesRequest
}

var policyCents = map[string]int64{"KLEIN": 2999, "KOMPAKT": 3999, "MITTEL": 5499, "OBER": 8999, "SUV": 6999, "KOMBI": 4999, "TRANS": 7999, "LUXUS": 14999}

func (f *fakePricing) setMode(mode string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = mode
}

// setRate changes the policy's daily net rate of category, as an admin would at pricing-api.
func (f *fakePricing) setRate(category string, cents int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rates == nil {
		f.rates = map[string]int64{}
	}
	f.rates[category] = cents
}

func (f *fakePricing) recorded() []pricingCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pricingCall(nil), f.calls...)
}

func (f *fakePricing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in pricingapi.RatesRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if r.Method != http.MethodPost || r.URL.Path != "/api/pricing/rates" || r.Header.Get("Content-Type") != "application/json" || dec.Decode(&in) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, pricingCall{authorization: r.Header.Get("Authorization"), body: in})
	mode := f.mode
	rates := maps.Clone(f.rates)
	f.mu.Unlock()
	switch mode {
	case "fail":
		http.Error(w, `{"type":"internal"}`, http.StatusInternalServerError)
		return
	case "hang":
		<-r.Context().Done()
		return
	}
	if len(in.Items) > pricingapi.MaxRatesItems { // as pricing-api refuses it
		http.Error(w, "too many items", http.StatusBadRequest)
		return
	}
	pickupAt, err1 := time.Parse(time.RFC3339Nano, in.PickupAt)
	returnAt, err2 := time.Parse(time.RFC3339Nano, in.ReturnAt)
	if err1 != nil || err2 != nil {
		http.Error(w, "bad period", http.StatusBadRequest)
		return
	}
	hours := int64(returnAt.Sub(pickupAt) / time.Hour)
	days := max(1, (hours+23)/24)
	discount := int64(0)
	if days >= 7 {
		discount = 10
	}
	out := pricingapi.RatesResponse{Days: int(days), Items: []pricingapi.RateResult{}}
	// A category the test set to 0 has no policy: pricing's 404 names its items.
	var missing []string
	for i, it := range in.Items {
		if r, ok := rates[it.Category]; ok && r == 0 && it.DailyRateNetCents == nil {
			missing = append(missing, fmt.Sprintf(`{"field":"items[%d].category","reason":"no active rate policy for %s"}`, i, it.Category))
		}
	}
	if len(missing) > 0 {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"type":"https://orangecarrental.com/problems/not-found","title":"Not Found","status":404,"detail":"no active rate policy prices some categories","errors":[%s]}`, strings.Join(missing, ","))
		return
	}
	for i, it := range in.Items {
		if mode == "partial" && i == len(in.Items)-1 {
			break
		}
		daily := policyCents[it.Category]
		if r, ok := rates[it.Category]; ok {
			daily = r
		}
		if it.DailyRateNetCents != nil {
			daily = *it.DailyRateNetCents
		}
		net := (daily*days*(100-discount) + 50) / 100
		vat := (net*19 + 50) / 100
		out.Items = append(out.Items, pricingapi.RateResult{Key: it.Key, Category: pricingapi.Category(it.Category), DailyNetCents: daily,
			DiscountPercent: int(discount), TotalNetCents: net, TotalVATCents: vat, TotalGrossCents: net + vat, DailyGrossCents: (net + vat + days/2) / days})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// fakeLocations plays locations-api's GET /api/locations/{code} in locationsapi's types
// (locationsapi's contract test holds the real function to them): every branch active and
// open around the clock in Berlin, but those the test closes.
type fakeLocations struct {
	mu      sync.Mutex
	closed  map[string]bool
	unknown map[string]bool // branches locations-api does not know (404)
	// dayHours, when set, are every day's hours of every branch ("07:00", "21:00").
	dayHours [2]string
}

func (f *fakeLocations) setHours(opens, closes string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dayHours = [2]string{opens, closes}
}

func (f *fakeLocations) close(code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed[code] = true
}

func (f *fakeLocations) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code, ok := strings.CutPrefix(r.URL.Path, "/api/locations/")
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	l := locationsapi.Location{Code: code, Name: code, Status: locationsapi.StatusActive, TimeZone: "Europe/Berlin", Version: 1}
	f.mu.Lock()
	if f.unknown[code] {
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"type":"https://orangecarrental.com/problems/not-found","title":"Not Found","status":404,"detail":"no location ` + code + `"}`))
		return
	}
	hours := f.dayHours
	if hours[0] == "" {
		hours = [2]string{"00:00", "24:00"}
	}
	for _, day := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		l.OpeningHours = append(l.OpeningHours, locationsapi.OpeningHours{Day: day, Opens: hours[0], Closes: hours[1]})
	}
	if f.closed[code] {
		l.Status = "closed"
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(l)
}
