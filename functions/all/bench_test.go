package all_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/gateway"
	"github.com/orangecarrental/orange/functions/locations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/metrics"
	"github.com/orangecarrental/orange/platform/proctest"
	"github.com/orangecarrental/orange/platform/tracing"
)

// BenchmarkObservabilityOverhead is issue 17's overhead check: the full-stack GET by id —
// client → api-gateway → in-process transport → locations-api → one SELECT — with metrics
// (RED per route) and tracing (exporter off) installed on both functions as the hosts
// install them, against the same stack without either, in the same run over the same
// database. The two alternate in short rounds, compared pairwise; besides the rate, the
// process's CPU time per request is compared, which other processes' load on this shared
// box does not enter. Target: instrumented ≥ 0.9× bare ("instrumented/bare" and
// "instrumented/bare-by-CPU").
func BenchmarkObservabilityOverhead(b *testing.B) {
	db := pg.NewDB(b, locations.Migrations)
	id := authtest.New(b)
	env := envconfig.MapLookuper(map[string]string{
		// The gateway's per-address and per-caller limits would answer the load 429.
		"RATE_LIMIT_ADDRESS_RPS": "1e9", "RATE_LIMIT_ADDRESS_BURST": "1000000000",
		"RATE_LIMIT_RPS": "1e9", "RATE_LIMIT_BURST": "1000000000",
	})
	stack := func(instrumented bool) http.Handler {
		transport := platform.NewTransport(nil, nil)
		reg := metrics.NewRegistry()
		var front http.Handler
		for _, fn := range []platform.Function{gateway.Function(), locations.Function()} {
			api, err := fn.New(context.Background(), platform.Deps{DB: db, Logger: slog.New(slog.DiscardHandler),
				Client: platform.ForwardingClient(transport, nil, 10*time.Second), Transport: transport, Env: env})
			if err != nil {
				b.Fatal(err)
			}
			h := platform.Handler(api, id.Verifier)
			if instrumented { // as functions/host's Mount and Standalone wrap each function
				h = platform.Traced(tracing.Off, h)
				h = metrics.Instrument(reg.Function(fn.Service), api.Routes(), h)
			}
			transport.Mount(fn.Service, h)
			if fn.Public {
				front = h
			}
		}
		return platform.Observe(platform.NewLogger(io.Discard, "info", "bench"), front)
	}
	variants := []struct {
		name string
		url  string
	}{{"bare", ""}, {"instrumented", ""}}
	for i := range variants {
		srv := httptest.NewServer(stack(variants[i].name == "instrumented"))
		defer srv.Close()
		variants[i].url = srv.URL + "/api/locations/BER-HBF"
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	const rounds, round = 12, 400 * time.Millisecond
	var rateRatios, cpuRatios, bareRates, instrRates []float64
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for r := 0; r < rounds; r++ {
			// Adjacent rounds make a pair: a neighbour's burst lands on both or on neither.
			bare, bareCPU := loadRound(b, client, variants[0].url, round)
			instr, instrCPU := loadRound(b, client, variants[1].url, round)
			bareRates, instrRates = append(bareRates, bare), append(instrRates, instr)
			rateRatios = append(rateRatios, instr/bare)
			cpuRatios = append(cpuRatios, float64(bareCPU)/float64(instrCPU))
		}
	}
	b.StopTimer()
	b.ReportMetric(medianOf(bareRates), "bare-req/s")
	b.ReportMetric(medianOf(instrRates), "instrumented-req/s")
	b.ReportMetric(medianOf(rateRatios), "instrumented/bare")
	b.ReportMetric(medianOf(cpuRatios), "instrumented/bare-by-CPU")
	b.Logf("full-stack GET by id through the gateway, metrics and tracing (exporter off) vs without: %.3f× the requests/s "+
		"(median of %d paired rounds), %.3f× by this process's CPU time per request (steadier on a shared box: other "+
		"processes' bursts do not enter it; PostgreSQL's share does not either, so it errs low); target ≥ 0.9×", medianOf(rateRatios), len(rateRatios), medianOf(cpuRatios))
}

// loadRound sends GETs to url from 16 goroutines for d and returns the rate of 200s and this
// process's CPU time (user + system: the functions, the transport and the client, not
// PostgreSQL) per request.
func loadRound(b *testing.B, client *http.Client, url string, d time.Duration) (rate float64, cpuPerRequest time.Duration) {
	var ok atomic.Int64
	var wg sync.WaitGroup
	cpu0 := proctest.SelfCPU()
	start := time.Now()
	deadline := start.Add(d)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	n := max(ok.Load(), 1)
	return float64(n) / time.Since(start).Seconds(), (proctest.SelfCPU() - cpu0) / time.Duration(n)
}

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
}
