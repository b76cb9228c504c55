package all_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/admission"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/metrics"
	"github.com/orangecarrental/orange/platform/tracing"
)

// benchVehicle is a car of the fleet's seed data (its migrations).
const benchVehicle = "f1ee0000-0000-4000-8000-000000000002"

// BenchmarkGatewayGET is issue 19's first two rows: GET /api/vehicles/{id} through the
// gateway as `orange dev` serves it (every function mounted by host.Mount over one database:
// request log, RED metrics, admission, tracing off, token check, the gateway's forward over
// the in-process transport to vehicles-api and its whole stack), and vehicles-api alone as
// `orange serve vehicles-api` or its pod serves it (the same wrapping as host.Standalone), beside a bare
// net/http handler doing the one SELECT by primary key, all over loopback HTTP on the same
// database in the same run. The three alternate in short rounds (a neighbour's burst lands
// on all of them or none) and the ratios are the medians of each round's. Target:
// gateway/bare ≥ 0.50 (design.md §8); serve/bare has none.
func BenchmarkGatewayGET(b *testing.B) {
	ctx := context.Background()
	reg, err := all.Registry()
	if err != nil {
		b.Fatal(err)
	}
	db := pg.NewDB(b, reg.Migrations()...)
	id := authtest.New(b)
	for _, fn := range reg.Functions() {
		id.Issuer.AddClients(fn.Service)
	}
	env := envconfig.MapLookuper(map[string]string{
		// The gateway's per-address and per-caller limits would answer the load 429.
		"RATE_LIMIT_ADDRESS_RPS": "1e9", "RATE_LIMIT_ADDRESS_BURST": "1000000000",
		"RATE_LIMIT_RPS": "1e9", "RATE_LIMIT_BURST": "1000000000",
	})
	logger := platform.NewLogger(io.Discard, "info", "bench")
	m, err := host.Mount(ctx, reg, host.MountDeps{
		DB: db, Logger: logger, Auth: id.Config, KeyClient: id.KeyClient, Events: id.Events, EventKeyClient: id.KeyClient,
		ClientSecret: devissuer.ClientSecret, CallTimeout: 10 * time.Second, Env: host.Env{Lookuper: env},
		Metrics: metrics.NewRegistry(), Tracing: &tracing.Tracing{},
	})
	if err != nil {
		b.Fatal(err)
	}
	dev := platform.Observe(logger, m.Handler)

	// vehicles-api alone, wrapped as host.Standalone wraps it.
	fn := fleet.Function()
	transport := platform.NewTransport(nil, nil)
	mreg := metrics.NewRegistry()
	fm := mreg.Function(fn.Service)
	api, err := fn.New(metrics.With(ctx, fm), platform.Deps{DB: db, Logger: logger, Transport: transport,
		Client: platform.ForwardingClient(transport, id.ServiceTokens(fn.Service), 10*time.Second), Env: env})
	if err != nil {
		b.Fatal(err)
	}
	h := platform.Traced(tracing.Off, platform.Handler(api, id.Authenticator(fn.Service)))
	h = admission.New(fn.Service, admission.Config{MaxWait: 20 * time.Millisecond}, fn.Public).Wrap(h)
	h = metrics.Instrument(fm, api.Routes(), h)
	alone := platform.Observe(logger, h)

	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var name, category string
		if err := db.Pool.QueryRow(r.Context(), `SELECT name, category FROM fleet.vehicles WHERE id = $1`, benchVehicle).Scan(&name, &category); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": benchVehicle, "name": name, "category": category})
	})

	var urls [3]string
	for i, h := range []http.Handler{bare, alone, dev} {
		srv := httptest.NewServer(h)
		defer srv.Close()
		urls[i] = srv.URL + "/api/vehicles/" + benchVehicle
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	for _, u := range urls { // warm up: connections, plans, the gateway's caches
		loadRound(b, client, u, 200*time.Millisecond)
	}
	const rounds, round = 8, 400 * time.Millisecond
	var bareRates, serveRates, gwRates, serveRatios, gwRatios, bareCPU, serveCPU, gwCPU []float64
	µs := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
	b.ResetTimer()
	for range b.N {
		for range rounds {
			br, bc := loadRound(b, client, urls[0], round)
			sr, sc := loadRound(b, client, urls[1], round)
			gr, gc := loadRound(b, client, urls[2], round)
			bareRates, serveRates, gwRates = append(bareRates, br), append(serveRates, sr), append(gwRates, gr)
			serveRatios, gwRatios = append(serveRatios, sr/br), append(gwRatios, gr/br)
			bareCPU, serveCPU, gwCPU = append(bareCPU, µs(bc)), append(serveCPU, µs(sc)), append(gwCPU, µs(gc))
		}
	}
	b.StopTimer()
	b.ReportMetric(medianOf(bareRates), "bare-req/s")
	b.ReportMetric(medianOf(serveRates), "serve-req/s")
	b.ReportMetric(medianOf(gwRates), "gateway-req/s")
	b.ReportMetric(medianOf(serveRatios), "serve/bare")
	b.ReportMetric(medianOf(gwRatios), "gateway/bare")
	// This process's CPU per request (client included, PostgreSQL not): what each layer
	// costs, steadier than the rates on a shared box.
	b.ReportMetric(medianOf(bareCPU), "bare-cpu-µs/req")
	b.ReportMetric(medianOf(serveCPU), "serve-cpu-µs/req")
	b.ReportMetric(medianOf(gwCPU), "gateway-cpu-µs/req")
	b.Logf("GET /api/vehicles/{id}: bare handler + 1 SELECT %.0f req/s (%.0f µs CPU/req); vehicles-api alone %.0f req/s (%.3f×, %.0f µs); through the gateway (orange dev) %.0f req/s (%.3f×, target ≥ 0.50; %.0f µs); medians of %d rounds",
		medianOf(bareRates), medianOf(bareCPU), medianOf(serveRates), medianOf(serveRatios), medianOf(serveCPU),
		medianOf(gwRates), medianOf(gwRatios), medianOf(gwCPU), len(gwRatios))
}
