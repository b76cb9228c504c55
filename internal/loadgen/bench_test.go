package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU this process has used (user + system).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGeneratorOverhead is the generator's own cost (issue 18: "its own overhead
// measured"): a bare net/http "hello" server in this process, driven for OVERHEAD_SECONDS
// (default 2) each by
//   - a minimal client: 64 goroutines in a closed loop on one http.Client (the baseline), and
//   - `orange load`'s runner with one-request journeys, capped at the same 64 in flight and
//     offered more than it can send (its maximum rate), and
//   - the runner open loop at a fixed 1,000 journeys/s (CPU per journey as it is used).
//
// CPU per request is the whole process's (server included, the same in every run), so the
// difference to the baseline is what the generator costs beyond a minimal client.
func BenchmarkGeneratorOverhead(b *testing.B) {
	secs := 2.0
	if v, err := strconv.ParseFloat(os.Getenv("OVERHEAD_SECONDS"), 64); err == nil && v > 0 {
		secs = v
	}
	d := time.Duration(secs * float64(time.Second))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello"))
	}))
	defer srv.Close()
	const inFlight = 64

	for i := 0; i < b.N; i++ {
		// Baseline: a minimal closed-loop client.
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: inFlight}}
		var n atomic.Uint64
		cpu0, t0 := cpuTime(b), time.Now()
		var wg sync.WaitGroup
		for g := 0; g < inFlight; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(t0) < d {
					resp, err := client.Get(srv.URL)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		bareRate := float64(n.Load()) / time.Since(t0).Seconds()
		bareCPU := (cpuTime(b) - cpu0) / time.Duration(n.Load())
		client.CloseIdleConnections()

		run := func(rate float64, workers uint64) (perSecond float64, cpu time.Duration, lagP99 float64) {
			p, err := Constant(rate, d)
			if err != nil {
				b.Fatal(err)
			}
			m, err := ParseMix("ping=1", []string{"ping"})
			if err != nil {
				b.Fatal(err)
			}
			cpu0 := cpuTime(b)
			rep, err := Run(context.Background(), Config{URL: srv.URL, Profile: p, Mix: m, Workers: workers,
				journeys: map[string]journeyFunc{"ping": ping("/")}})
			if err != nil {
				b.Fatal(err)
			}
			if rep.Achieved.Count != rep.Sent.Count {
				b.Fatalf("%d of %d journeys failed: %+v", rep.Sent.Count-rep.Achieved.Count, rep.Sent.Count, rep.Outcomes)
			}
			return float64(rep.Sent.Count) / rep.ElapsedSeconds, (cpuTime(b) - cpu0) / time.Duration(rep.Sent.Count), rep.SendLag.P99
		}
		maxRate, maxCPU, _ := run(4*bareRate, inFlight)
		_, fixedCPU, fixedLag := run(1000, 0)

		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
		b.ReportMetric(bareRate, "bare-req/s")
		b.ReportMetric(maxRate, "loadgen-max-req/s")
		b.ReportMetric(maxRate/bareRate, "loadgen/bare")
		b.ReportMetric(us(bareCPU), "bare-cpu-µs/req")
		b.ReportMetric(us(maxCPU), "loadgen-cpu-µs/req")
		b.ReportMetric(us(maxCPU-bareCPU), "overhead-cpu-µs/req")
		b.ReportMetric(us(fixedCPU), "loadgen-1000/s-cpu-µs/req")
		b.ReportMetric(fixedCPU.Seconds()*1000, "loadgen-1000/s-cores") // the process's CPU share at 1,000/s, server included
		b.Logf("bare client %.0f req/s at %.1f µs CPU/req; loadgen max %.0f req/s (%.2f× bare) at %.1f µs CPU/req (+%.1f µs); "+
			"open loop 1,000/s: %.1f µs CPU/req (%.2f cores, server included), send lag p99 %.2f ms",
			bareRate, us(bareCPU), maxRate, maxRate/bareRate, us(maxCPU), us(maxCPU-bareCPU), us(fixedCPU), fixedCPU.Seconds()*1000, fixedLag)
	}
}
