package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/functions/pricing"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
)

// BenchmarkSearchAtScale is issue 19's search row: the availability search over 10k cars and
// 100k bookings (newScaleDB), through vehicles-api's whole stack (request log, token check,
// router, access check, candidate query, the real pricing-api over the in-process transport
// as vehicles-api, JSON), beside a same-run baseline: a bare net/http handler doing one
// indexed SELECT of a car on the same database. Both over loopback HTTP, load from this
// process (the same box, as the issue measured).
//
// It reports, for each, the closed-loop rate with 16 clients and its p50/p99, then drives the
// search open loop (requests sent on a fixed schedule whatever the answers; latency from the
// scheduled time, so a stall counts against it) at rising rates, and names the highest rate
// with p99 ≤ 20 ms and no error: the target. Run once:
// -benchtime 1x (the rounds have fixed lengths).
func BenchmarkSearchAtScale(b *testing.B) {
	db := newScaleDB(b)
	id := authtest.New(b)
	transport := platform.NewTransport(nil, nil)
	prices, err := pricing.New(context.Background(), pricing.Config{}, platform.Deps{DB: pg.NewDB(b, pricing.Migrations)})
	if err != nil {
		b.Fatal(err)
	}
	transport.Mount(pricingapi.Service, platform.Handler(prices, id.Authenticator(pricingapi.Service)))
	// The search as deployed (FLEET_PRICE_CACHE_TTL's default, 30 s) and, for the same-run
	// comparison, with the price cache off (every search asks pricing-api).
	serve := func(ttl time.Duration) *httptest.Server {
		svc, err := fleet.New(context.Background(), fleet.Config{MaxCandidates: 200, PricingTimeout: 5 * time.Second,
			PriceCacheTTL: ttl, PriceCacheEntries: 2000}, platform.Deps{
			DB: db, Client: platform.ForwardingClient(transport, id.ServiceTokens(fleet.ServiceName), 5*time.Second), Transport: transport})
		if err != nil {
			b.Fatal(err)
		}
		return httptest.NewServer(platform.Observe(platform.NewLogger(io.Discard, "info", fleet.ServiceName),
			platform.Handler(svc, id.Authenticator(fleet.ServiceName))))
	}
	search, uncached := serve(30*time.Second), serve(0)
	defer search.Close()
	defer uncached.Close()
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var name, category string
		if err := db.Pool.QueryRow(r.Context(), `SELECT name, category FROM fleet.vehicles WHERE id = $1`, vwGolf).Scan(&name, &category); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": vwGolf, "name": name, "category": category})
	}))
	defer bare.Close()

	searches := benchSearches(search.URL)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024}}
	// Warm up: every connection's first plans, pricing's first token, the caches.
	closedLoop(client, []string{bare.URL}, time.Second)
	if r := closedLoop(client, searches, time.Second); r.errors > 0 {
		b.Fatalf("the search answered %d errors while warming up", r.errors)
	}
	if r := closedLoop(client, benchSearches(uncached.URL), time.Second); r.errors > 0 {
		b.Fatalf("the uncached search answered %d errors while warming up", r.errors)
	}
	b.ResetTimer()
	var baseCPU, closedCPU, uncachedCPU cpuUse
	base := measureCPU(&baseCPU, func() result { return closedLoop(client, []string{bare.URL}, 3*time.Second) })
	closed := measureCPU(&closedCPU, func() result { return closedLoop(client, searches, 3*time.Second) })
	noCache := measureCPU(&uncachedCPU, func() result { return closedLoop(client, benchSearches(uncached.URL), 3*time.Second) })
	b.Logf("closed loop, 16 clients: bare handler + 1 SELECT %s; search %s; ratio %.3f", base, closed, closed.rate/base.rate)
	b.Logf("closed loop, 16 clients: search with the price cache off %s; ratio %.3f", noCache, noCache.rate/base.rate)
	b.Logf("CPU per request (this process incl. the load generator / PostgreSQL backends): bare %s; search %s; search, cache off %s",
		baseCPU.per(base), closedCPU.per(closed), uncachedCPU.per(noCache))
	// A fixed ladder, not fractions of the closed-loop rate: on a shared box that one round
	// moves with the neighbours' load. Past its fixed rungs it climbs by 40 % a rung, so a
	// faster box is not capped at the last of them; it stops where the search is plainly
	// saturated, and past the fixed rungs at the first rung that misses the target.
	fixed := []float64{50, 100, 150, 200, 300, 400, 500, 700, 1000, 1400}
	best := result{}
	for i, rate := 0, fixed[0]; rate <= 20000; i++ {
		r := openLoop(client, searches, rate, 3*time.Second)
		ok := r.errors == 0 && r.p99 <= 20*time.Millisecond
		b.Logf("open loop at %.0f req/s: %s, target p99 ≤ 20 ms with 0 errors: %v", rate, r, ok)
		if ok {
			best = r
		}
		if r.errors > 0 || r.p99 > 200*time.Millisecond || !ok && i >= len(fixed)-1 {
			break
		}
		if i+1 < len(fixed) {
			rate = fixed[i+1]
		} else {
			rate = math.Round(rate*1.4/100) * 100
		}
	}
	b.StopTimer()
	b.ReportMetric(base.rate, "bare-req/s")
	b.ReportMetric(closed.rate, "search-req/s")
	b.ReportMetric(closed.rate/base.rate, "search/bare")
	b.ReportMetric(float64(closed.p99.Microseconds())/1000, "closed-p99-ms")
	b.ReportMetric(best.rate, "open-loop-req/s-at-p99≤20ms")
	b.ReportMetric(float64(best.p99.Microseconds())/1000, "open-loop-p99-ms")
	b.ReportMetric(closedCPU.goPer(closed), "search-go-cpu-µs/req")
	b.ReportMetric(closedCPU.pgPer(closed), "search-pg-cpu-µs/req")
	b.ReportMetric(uncachedCPU.goPer(noCache), "nocache-go-cpu-µs/req")
	b.ReportMetric(uncachedCPU.pgPer(noCache), "nocache-pg-cpu-µs/req")
	b.ReportMetric(baseCPU.goPer(base), "bare-go-cpu-µs/req")
	if best.rate == 0 {
		b.Logf("no open-loop rate met p99 ≤ 20 ms with 0 errors")
	}
}

// benchSearches are the searches the benchmark cycles through: every generated branch, a
// pickup from 2 to 300 days ahead, 1 to 14 days long, one in four for a category.
func benchSearches(base string) []string {
	categories := []string{"KLEIN", "KOMPAKT", "MITTEL", "OBER", "SUV", "KOMBI", "TRANS", "LUXUS"}
	start := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
	var out []string
	for i := range 200 {
		pickup := start.Add(time.Duration(i*37%300) * 24 * time.Hour)
		q := url.Values{"location": {fmt.Sprintf("GEN-%02d", i%scaleBranches)}, "pickup": {pickup.Format(time.RFC3339)},
			"return": {pickup.Add(time.Duration(1+i%14) * 24 * time.Hour).Format(time.RFC3339)}}
		if i%4 == 3 {
			q.Set("category", categories[i%len(categories)])
		}
		out = append(out, base+"/api/vehicles?"+q.Encode())
	}
	return out
}

// result is one round of load.
type result struct {
	rate     float64 // answered requests per second
	requests int
	errors   int // transport errors and answers other than 200
	p50, p99 time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("%.0f req/s, p50 %.2f ms, p99 %.2f ms, %d errors of %d", r.rate, ms(r.p50), ms(r.p99), r.errors, r.requests)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// get sends one request and says whether it was answered 200 in full.
func get(client *http.Client, u string) bool {
	resp, err := client.Get(u)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err == nil && resp.StatusCode == http.StatusOK
}

// closedLoop runs 16 clients, each sending its next request when the last is answered, for d.
func closedLoop(client *http.Client, urls []string, d time.Duration) result {
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs int
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				t := time.Now()
				if !get(client, urls[int(next.Add(1))%len(urls)]) {
					bad++
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lats, errs = append(lats, mine...), errs+bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	return summarize(lats, errs, time.Since(start))
}

// openLoop sends rate requests a second for d on a fixed schedule, each in its own goroutine,
// and measures each from the time it was due. More than 2,000 in flight count as errors
// rather than being sent (the box is saturated long before).
func openLoop(client *http.Client, urls []string, rate float64, d time.Duration) result {
	var (
		mu       sync.Mutex
		lats     []time.Duration
		errs     int
		inflight atomic.Int64
		wg       sync.WaitGroup
	)
	interval := time.Duration(float64(time.Second) / rate)
	n := int(d / interval)
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		if inflight.Load() >= 2000 {
			mu.Lock()
			errs++
			mu.Unlock()
			continue
		}
		inflight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inflight.Add(-1)
			ok := get(client, urls[i%len(urls)])
			lat := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			lats = append(lats, lat)
			if !ok {
				errs++
			}
		}()
	}
	wg.Wait()
	return summarize(lats, errs, time.Since(start))
}

func summarize(lats []time.Duration, errs int, elapsed time.Duration) result {
	slices.Sort(lats)
	r := result{requests: len(lats), errors: errs, rate: float64(len(lats)-errs) / elapsed.Seconds()}
	if len(lats) > 0 {
		r.p50, r.p99 = lats[len(lats)/2], lats[min(len(lats)-1, len(lats)*99/100)]
	}
	return r
}

// cpuUse is the CPU a round used: this process's (server and load generator alike: both
// sides of loopback HTTP) and that of the PostgreSQL backends serving the database's pool.
// CPU per request is steadier than rates on a shared box: the neighbours' load stretches
// the time a request waits, much less the CPU it needs.
type cpuUse struct{ self, pg time.Duration }

func (c cpuUse) goPer(r result) float64 { return perRequest(c.self, r) }
func (c cpuUse) pgPer(r result) float64 { return perRequest(c.pg, r) }

func (c cpuUse) per(r result) string {
	return fmt.Sprintf("%.0f / %.0f µs", c.goPer(r), c.pgPer(r))
}

func perRequest(d time.Duration, r result) float64 {
	if r.requests == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(r.requests)
}

// measureCPU runs round and records the CPU it took into use.
func measureCPU(use *cpuUse, round func() result) result {
	self0, pg0 := pg.CPU(context.Background())
	r := round()
	self, server := pg.CPU(context.Background())
	use.self, use.pg = self-self0, server-pg0
	return r
}
