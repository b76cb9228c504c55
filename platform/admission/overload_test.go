package admission_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/admission"
)

// BenchmarkOverload drives a function at 4× its capacity, open loop, over real HTTP on
// loopback, with admission control as the hosts install it and without it, and reports
// goodput (2xx answered within the client's 1 s deadline, per second) against the capacity
// measured in the same run, and the accepted requests' p99 against the unloaded p99.
//
// The function stands in for a DB-bound one: 8 "connections" (a semaphore that, like
// pgxpool's Acquire, gives up when the request's context ends), each request holding one
// for 20 ms — capacity ≈ 400 req/s whatever the CPU does, low enough that the generator on
// the same 2 cores can offer 4× of it, so the figures show the shedding, not the box. OVERLOAD_SECONDS sets each overload phase (default 5; the acceptance
// run is 20). docs/performance.md has the figures.
func BenchmarkOverload(b *testing.B) {
	seconds := 5
	if v, err := strconv.Atoi(os.Getenv("OVERLOAD_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	phase := time.Duration(seconds) * time.Second
	for range b.N {
		capacity, atCap := closedLoop(b, newFunction(admission.Config{Off: true}), connections, 3*time.Second)
		unloaded := openLoop(b, newFunction(admission.Config{Off: true}), capacity/4, 2*time.Second)
		b.Logf("capacity %.0f req/s (closed loop, %d clients; p99 %s); unloaded p99 %s at %.0f req/s",
			capacity, connections, atCap, unloaded.p99(), capacity/4)
		b.Logf("%-34s %9s %8s %8s %9s %9s %9s %s", "4× capacity, open loop", "offered/s", "goodput", "/cap", "503/s", "other/s", "p99 ok", "p99/unloaded")
		for _, run := range []struct {
			name string
			cfg  admission.Config
		}{
			{"admission, limit 16 (2× pool)", admission.Config{MaxInFlight: 2 * connections, MaxWait: 20 * time.Millisecond}},
			{fmt.Sprintf("admission, default limit %d", admission.DefaultMaxInFlight), admission.Config{MaxWait: 20 * time.Millisecond}},
			{"admission off", admission.Config{Off: true}},
		} {
			fn := newFunction(run.cfg)
			r := openLoop(b, fn, 4*capacity, phase)
			healthy := openLoop(b, fn, capacity/4, time.Second) // afterwards: back to normal?
			b.Logf("%-34s %9.0f %8.0f %8.2f %9.0f %9.0f %9s %.1f× (after: %.0f%% ok, p99 %s)", run.name,
				r.offered, r.goodput(), r.goodput()/capacity, r.perSecond(http.StatusServiceUnavailable), r.otherPerSecond(),
				r.p99(), float64(r.p99())/float64(unloaded.p99()), 100*healthy.goodput()/healthy.offered, healthy.p99())
			if run.cfg.MaxInFlight == 2*connections {
				b.ReportMetric(r.goodput()/capacity, "goodput/capacity")
				b.ReportMetric(float64(r.p99())/float64(unloaded.p99()), "p99/unloaded-p99")
				b.ReportMetric(r.otherPerSecond(), "non-503-errors/s")
			}
			if run.cfg.MaxInFlight == 0 && !run.cfg.Off {
				b.ReportMetric(r.goodput()/capacity, "default-goodput/capacity")
			}
			if run.cfg.Off {
				b.ReportMetric(r.goodput()/capacity, "off-goodput/capacity")
			}
		}
	}
}

// The stand-in function's resource: connections held for hold by each request.
const (
	connections = 8
	hold        = 20 * time.Millisecond
)

// BenchmarkOverloadURL runs the same phases against a running function: OVERLOAD_URL (e.g.
// a GET through `orange dev`'s gateway, started with RATE_LIMIT_ADDRESS_RPS and
// RATE_LIMIT_RPS high enough that the gateway's per-client limits stay out of the way),
// OVERLOAD_CLIENTS closed-loop clients to find its capacity (default 32). Skipped when
// OVERLOAD_URL is unset; for comparison run it once more against a process started with
// ADMISSION_OFF=true.
//
// The generator runs on the same cores as the server, so each phase also reports what it
// cost: the generator's own CPU (getrusage) and, with OVERLOAD_PID set to the server's
// process, the server's (/proc/<pid>/stat), both per request sent and in cores used. A run's
// goodput is relative to the capacity measured in the same run, generator included.
func BenchmarkOverloadURL(b *testing.B) {
	url := os.Getenv("OVERLOAD_URL")
	if url == "" {
		b.Skip("OVERLOAD_URL is unset")
	}
	clients := 32
	if v, err := strconv.Atoi(os.Getenv("OVERLOAD_CLIENTS")); err == nil && v > 0 {
		clients = v
	}
	seconds := 5
	if v, err := strconv.Atoi(os.Getenv("OVERLOAD_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	pid, _ := strconv.Atoi(os.Getenv("OVERLOAD_PID"))
	conns := 256
	if v, err := strconv.Atoi(os.Getenv("OVERLOAD_CONNS")); err == nil && v > 0 {
		conns = v
	}
	// OVERLOAD_CLIENT=http drives it with net/http's client as BenchmarkOverload does (each
	// request its goroutine, a connection closed at each timeout); the default is rawLoad.
	closed, open := func(n int, d time.Duration) (float64, time.Duration) { return closedLoopURL(b, url, n, d) },
		func(rate float64, d time.Duration) *result { return openLoopURL(b, url, rate, d) }
	if os.Getenv("OVERLOAD_CLIENT") != "http" {
		raw, err := newRawLoad(url)
		if err != nil {
			b.Fatal(err)
		}
		closed = func(n int, d time.Duration) (float64, time.Duration) {
			r := raw.closedLoop(n, d)
			if len(r.ok) == 0 {
				b.Fatalf("no request succeeded: %v", r.codes)
			}
			return r.goodput(), r.p99()
		}
		open = func(rate float64, d time.Duration) *result { return raw.openLoop(rate, d, conns) }
	}
	for range b.N {
		m := startCPU(pid)
		capacity, atCap := closed(clients, 3*time.Second)
		b.Logf("capacity phase: %s", m.stop(capacity*3))
		unloaded := open(capacity/4, 2*time.Second)
		m = startCPU(pid)
		r := open(4*capacity, time.Duration(seconds)*time.Second)
		b.Logf("4× phase: %s", m.stop(r.offered*r.took.Seconds()))
		after := open(capacity/4, 2*time.Second)
		b.Logf("%s: capacity %.0f req/s (p99 %s), unloaded p99 %s; at 4×: offered %.0f/s, goodput %.0f/s = %.2f of capacity, 503 %.0f/s, other errors %.0f/s %v, accepted p99 %s = %.1f× unloaded; after: %.0f%% ok, p99 %s",
			url, capacity, atCap, unloaded.p99(), r.offered, r.goodput(), r.goodput()/capacity,
			r.perSecond(http.StatusServiceUnavailable), r.otherPerSecond(), r.codes, r.p99(),
			float64(r.p99())/float64(unloaded.p99()), 100*after.goodput()/after.offered, after.p99())
		b.ReportMetric(r.goodput()/capacity, "goodput/capacity")
		b.ReportMetric(float64(r.p99())/float64(unloaded.p99()), "p99/unloaded-p99")
		b.ReportMetric(r.otherPerSecond(), "non-503-errors/s")
	}
}

// newFunction serves the stand-in function behind the request log and cfg's admission
// control, as a host does.
func newFunction(cfg admission.Config) *httptest.Server {
	pool := make(chan struct{}, connections)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case pool <- struct{}{}:
		case <-r.Context().Done():
			platform.WriteError(w, r, r.Context().Err())
			return
		}
		time.Sleep(hold)
		<-pool
		_ = platform.WriteJSON(w, http.StatusOK, map[string]string{"id": "f1ee0000-0000-4000-8000-000000000002", "name": "VW Golf"})
	})
	logger := platform.NewLogger(io.Discard, "info", "vehicles-api")
	srv := httptest.NewServer(platform.Observe(logger, admission.New("vehicles-api", cfg, false).Wrap(h)))
	return srv
}

// client is the load generator's: at most 1024 connections (more and the box runs out of
// file descriptors, each request waiting up to a second), enough that without admission
// the function's queue outgrows the 1 s deadline. A request that finds them all busy waits
// in the client, and that wait counts in its latency: the loop stays open.
func client() *http.Client {
	return &http.Client{Timeout: time.Second, Transport: &http.Transport{
		MaxConnsPerHost: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 10 * time.Second}}
}

// result is what one load phase saw.
type result struct {
	took    time.Duration
	offered float64 // requests per second sent
	mu      sync.Mutex
	codes   map[int]int // 0: no answer in time; -1: the connection failed
	ok      []time.Duration
}

func (r *result) add(code int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.codes[code]++
	if code >= 200 && code < 300 {
		r.ok = append(r.ok, d)
	}
}

func (r *result) goodput() float64           { return float64(len(r.ok)) / r.took.Seconds() }
func (r *result) perSecond(code int) float64 { return float64(r.codes[code]) / r.took.Seconds() }
func (r *result) otherPerSecond() float64 {
	n := 0
	for c, k := range r.codes {
		if c != http.StatusServiceUnavailable && (c < 200 || c >= 300) {
			n += k
		}
	}
	return float64(n) / r.took.Seconds()
}

func (r *result) p99() time.Duration {
	if len(r.ok) == 0 {
		return 0
	}
	s := slices.Clone(r.ok)
	slices.Sort(s)
	return s[len(s)*99/100].Round(100 * time.Microsecond)
}

func do(c *http.Client, url string) (int, time.Duration) {
	start := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		var to interface{ Timeout() bool }
		if errors.As(err, &to) && to.Timeout() {
			return 0, time.Since(start) // no answer within the deadline
		}
		return -1, time.Since(start) // the connection failed
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// openLoop sends rate requests a second for d whatever the answers do, each with the
// client's 1 s deadline, and waits for the last.
func openLoop(b *testing.B, srv *httptest.Server, rate float64, d time.Duration) *result {
	b.Helper()
	defer srv.CloseClientConnections()
	return openLoopURL(b, srv.URL+"/api/vehicles/1", rate, d)
}

// openLoopURL is openLoop against url.
func openLoopURL(b *testing.B, url string, rate float64, d time.Duration) *result {
	b.Helper()
	c := client()
	r := &result{codes: map[int]int{}}
	const tick = time.Millisecond
	var wg sync.WaitGroup
	start := time.Now()
	sent := 0
	for now := start; now.Sub(start) < d; now = time.Now() {
		due := int(rate * now.Sub(start).Seconds())
		for ; sent < due; sent++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.add(do(c, url))
			}()
		}
		time.Sleep(tick)
	}
	r.took = time.Since(start)
	r.offered = float64(sent) / r.took.Seconds()
	wg.Wait()
	return r
}

// closedLoop runs n clients back to back for d: the function's capacity and its p99 there.
func closedLoop(b *testing.B, srv *httptest.Server, n int, d time.Duration) (float64, time.Duration) {
	b.Helper()
	defer srv.Close()
	return closedLoopURL(b, srv.URL+"/api/vehicles/1", n, d)
}

// closedLoopURL is closedLoop against url.
func closedLoopURL(b *testing.B, url string, n int, d time.Duration) (float64, time.Duration) {
	b.Helper()
	c := client()
	r := &result{codes: map[int]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				r.add(do(c, url))
			}
		}()
	}
	wg.Wait()
	r.took = d
	if len(r.ok) == 0 {
		b.Fatal(fmt.Sprintf("no request succeeded: %v", r.codes))
	}
	return r.goodput(), r.p99()
}
