package pricing_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/pricing"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// clock is "now" for the API tests: Monday 2 March 2026, 08:00 in Germany. A fixed clock
// keeps the hand-computed dates below valid whenever the tests run.
var clock = time.Date(2026, 3, 2, 8, 0, 0, 0, time.FixedZone("CET", 3600))

// Functions calling with their own identity: reservations-api (granted the cancellation fee)
// and vehicles-api (granted nothing but the public operations).
const (
	reservationsAPI = "service:reservations-api"
	vehiclesAPI     = "service:vehicles-api"
)

// The seed policies' ids (migrations/0002_seed_rates.sql).
const (
	seedKompakt = "00000000-0000-4000-8000-000000000002"
	seedLuxus   = "00000000-0000-4000-8000-000000000008"
)

// api is the pricing API over a fresh database holding the seed policies, served as a host
// serves it (token verification and access checks included), on the fixed clock.
type api struct {
	t       *testing.T
	db      *database.DB
	handler http.Handler
	tokens  map[string]string
}

func newAPI(t *testing.T) *api {
	t.Helper()
	db := pg.NewDB(t, pricing.Migrations)
	id := authtest.New(t)
	logger := platform.NewLogger(io.Discard, "error", "pricing-api")
	svc := pricing.NewWithClock(db, func() time.Time { return clock })
	a := &api{t: t, db: db, handler: platform.Observe(logger, platform.Handler(svc, id.Authenticator(pricing.ServiceName))), tokens: map[string]string{}}
	for _, user := range []string{"alice", "carla", "frank", "ada", reservationsAPI, vehiclesAPI} {
		a.tokens[user] = id.Bearer(t, user)
	}
	return a
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// call sends a request as user ("" for anonymous).
func (a *api) call(user, method, path, contentType, body string, header ...string) response {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
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

// fleet sends a JSON request as frank, the fleet manager.
func (a *api) fleet(method, path, body string, header ...string) response {
	a.t.Helper()
	return a.call("frank", method, path, "application/json", body, header...)
}

// post sends a JSON body anonymously (quotes and rates are public).
func (a *api) post(path, body string) response {
	a.t.Helper()
	return a.call("", http.MethodPost, path, "application/json", body)
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}

// with returns the API for use by test t (a subtest sharing its parent's database).
func (a *api) with(t *testing.T) *api {
	b := *a
	b.t = t
	return &b
}

// TestReadOnly runs the tests that change no row against one shared database: cloning a
// database per test is the slowest part of this package's tests.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	shared := newAPI(t)
	before := shared.snapshot()
	tests := map[string]func(*testing.T, *api){
		"SeedRates":               testSeedRates,
		"Quotes":                  testQuotes,
		"RatesContract":           testRatesContract,
		"CancellationFee":         testCancellationFeeAPI,
		"FeeBoundaryPrecision":    testFeeBoundaryPrecision,
		"ReturnCharges":           testReturnChargesAPI,
		"Catalogue":               testCatalogue,
		"QuoteKeepsOffsets":       testQuoteKeepsOffsets,
		"OpenAPICoversEveryRoute": testOpenAPICoversEveryRoute,
		"WhoMayCallWhat":          testWhoMayCallWhat,
	}
	t.Run("group", func(t *testing.T) {
		for name, test := range tests {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				test(t, shared.with(t))
			})
		}
	})
	assert.Equal(t, before, shared.snapshot(), "a read-only test wrote")
}

// snapshot is every stored row, to prove a rejected request wrote nothing.
func (a *api) snapshot() string {
	a.t.Helper()
	var s string
	err := a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(row_to_json(p)::text, E'\n' ORDER BY id), '') FROM pricing.rate_policies p`).Scan(&s)
	require.NoError(a.t, err)
	return s
}

// requireProblem checks a problem+json answer of the given status and kind naming fields.
func requireProblem(t *testing.T, r response, status int, kind string, fields ...string) platform.Problem {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	p := decode[platform.Problem](t, r)
	assert.Equal(t, platform.ProblemTypeBase+kind, p.Type)
	assert.Equal(t, status, p.Status)
	assert.NotEmpty(t, p.Detail)
	var got []string
	for _, f := range p.Errors {
		got = append(got, f.Field)
	}
	for _, f := range fields {
		assert.Contains(t, got, f, "problem fields")
	}
	return p
}
