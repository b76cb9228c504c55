package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/fleet"
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
// would run: pricing-api is another process, reached at PRICING_API_URL over HTTP, with the
// caller's token. A search answers with pricing's prices; SIGTERM ends the process with 0.
func TestServesAloneAndCallsPricingOverTheNetwork(t *testing.T) {
	bin := proctest.Build(t, ".")
	key, err := devissuer.GenerateKey()
	require.NoError(t, err)
	var iss *devissuer.Issuer
	issuerSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	t.Cleanup(issuerSrv.Close)
	iss = devissuer.New(issuerSrv.URL+devissuer.RealmPath, key)
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
		"OIDC_ISSUER_URL="+iss.URL(), "PRICING_API_URL="+pricing.URL, "LOG_LEVEL=info")
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
	mu.Lock()
	assert.Equal(t, []string{"Bearer " + token}, tokens, "the caller's token travels to pricing")
	mu.Unlock()

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
