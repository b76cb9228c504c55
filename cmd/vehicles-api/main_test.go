package main_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/pgtest"
	"github.com/orangecarrental/orange/platform/proctest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) {
	defer proctest.Cleanup()
	pgtest.Main(m, &pg)
}

// TestServesAloneAndCallsPricingOverTheNetwork starts the real binary as its Knative Service
// would run: pricing-api is another process, reached at PRICING_API_URL over HTTP, with
// vehicles-api's own token (client credentials, fetched once) — never the searcher's. A
// search answers with pricing's prices; SIGTERM ends the process with 0.
func TestServesAloneAndCallsPricingOverTheNetwork(t *testing.T) {
	bin := proctest.Build(t, ".")
	key, err := devissuer.GenerateKey()
	require.NoError(t, err)
	var iss *devissuer.Issuer
	issuerSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	t.Cleanup(issuerSrv.Close)
	iss = devissuer.New(issuerSrv.URL+devissuer.RealmPath, key)
	iss.AddClients("vehicles-api")
	verifier, err := auth.NewVerifier(auth.Config{IssuerURL: iss.URL(), Audience: devissuer.Audience, Algorithms: []string{"RS256"}}, nil)
	require.NoError(t, err)
	token, err := iss.TokenFor("alice")
	require.NoError(t, err)

	var (
		mu     sync.Mutex
		tokens []string
	)
	pricing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Items []struct{ Key, Category string } `json:"items"`
		}
		if r.URL.Path != "/api/pricing/rates" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		mu.Lock()
		tokens = append(tokens, r.Header.Get("Authorization"))
		mu.Unlock()
		type item struct {
			Key             string `json:"key"`
			Category        string `json:"category"`
			DailyNetCents   int64  `json:"dailyNetCents"`
			DiscountPercent int    `json:"discountPercent"`
			TotalNetCents   int64  `json:"totalNetCents"`
			TotalVatCents   int64  `json:"totalVatCents"`
			TotalGrossCents int64  `json:"totalGrossCents"`
			DailyGrossCents int64  `json:"dailyGrossCents"`
		}
		out := struct {
			Days  int    `json:"days"`
			Items []item `json:"items"`
		}{Days: 3}
		for _, it := range in.Items {
			out.Items = append(out.Items, item{Key: it.Key, Category: it.Category, DailyNetCents: 3999,
				TotalNetCents: 11997, TotalVatCents: 2279, TotalGrossCents: 14276, DailyGrossCents: 4759})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(pricing.Close)

	p := proctest.Start(t, bin, nil, "PORT=0", "DATABASE_URL="+pg.NewDatabaseURL(t, fleet.Migrations),
		"OIDC_ISSUER_URL="+iss.URL(), "OIDC_CLIENT_SECRET="+devissuer.ClientSecret("vehicles-api"),
		"PRICING_API_URL="+pricing.URL, "LOG_LEVEL=info")
	proctest.WaitReady(t, p.Addr)

	get := func(path, auth string) (int, []byte) {
		req, err := http.NewRequest(http.MethodGet, "http://"+p.Addr+path, nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}

	status, body := get("/api/vehicles/f1ee0000-0000-4000-8000-000000000002", "")
	require.Equal(t, http.StatusOK, status, string(body))
	assert.Contains(t, string(body), `"VW Golf"`)

	pickup := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	q := url.Values{"location": {"BER-HBF"}, "category": {"KOMPAKT"}, "pickup": {pickup.Format(time.RFC3339)},
		"return": {pickup.Add(72 * time.Hour).Format(time.RFC3339)}}
	status, body = get("/api/vehicles?"+q.Encode(), token)
	require.Equal(t, http.StatusOK, status, string(body))
	var res struct {
		Items []fleet.Offer `json:"items"`
	}
	require.NoError(t, json.Unmarshal(body, &res))
	require.Len(t, res.Items, 2)
	assert.EqualValues(t, 14276, res.Items[0].Price.TotalGrossCents)
	// An anonymous search, same identity; another period, as the same one's prices are kept
	// for FLEET_PRICE_CACHE_TTL and pricing would not be asked again.
	q.Set("pickup", pickup.Add(24*time.Hour).Format(time.RFC3339))
	q.Set("return", pickup.Add(96*time.Hour).Format(time.RFC3339))
	status, _ = get("/api/vehicles?"+q.Encode(), "")
	require.Equal(t, http.StatusOK, status)
	mu.Lock()
	require.Len(t, tokens, 2)
	assert.Equal(t, tokens[0], tokens[1], "the service token is reused, not fetched per call")
	caller, err := verifier.Verify(context.Background(), strings.TrimPrefix(tokens[0], "Bearer "))
	require.NoError(t, err)
	assert.Equal(t, "vehicles-api", caller.Service, "pricing is called as vehicles-api, never with the searcher's token")
	mu.Unlock()
	assert.Equal(t, 1, iss.TokenRequests("vehicles-api"))

	// /openapi.json is served at the root of the standalone function too.
	status, _ = get("/openapi.json", "")
	assert.Equal(t, http.StatusOK, status)

	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.Exited:
		assert.NoError(t, err, "SIGTERM drains and exits 0")
	case <-time.After(30 * time.Second):
		t.Fatal("vehicles-api did not exit after SIGTERM")
	}
}
