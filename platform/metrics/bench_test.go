package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/metrics"
)

// BenchmarkRED is the RED middleware's cost on the function stack every host serves
// (request log, token check, router, a JSON answer), against the same stack without it in
// the same run: a route table of 24 templates, a GET by id near its end. The requests go
// straight to the handler (no socket, no database), so red/baseline is the worst case; over
// HTTP and with a query the same absolute cost (red-ns/req − baseline-ns/req) is a far
// smaller share (docs/observability.md).
func BenchmarkRED(b *testing.B) {
	var routes []platform.Route
	for i := range 11 {
		base := fmt.Sprintf("/api/area%d", i)
		routes = append(routes,
			platform.Route{Name: "list", Method: http.MethodGet, Path: base, Access: platform.Public, Handler: ok},
			platform.Route{Name: "create", Method: http.MethodPost, Path: base, Access: platform.Public, Handler: ok})
	}
	routes = append(routes,
		platform.Route{Name: "get", Method: http.MethodGet, Path: "/api/things/{id}", Access: platform.Public, Handler: ok},
		platform.Route{Name: "cancel", Method: http.MethodPost, Path: "/api/things/{id}/cancel", Access: platform.Public, Handler: ok})
	logger := platform.NewLogger(io.Discard, "info", "bench")
	stack := platform.Handler(platform.RouteTable(routes), anonymous{})
	reg := metrics.NewRegistry()
	baseline := platform.Observe(logger, stack)
	instrumented := platform.Observe(logger, metrics.Instrument(reg.Function("bench"), routes, stack))
	req := httptest.NewRequest(http.MethodGet, "/api/things/f1ee0000-0000-4000-8000-000000000002", nil)
	// The two stacks take turns in rounds of 500 requests, so both see the same machine
	// (a shared box's load comes and goes); each op is one request of each.
	const round = 500
	var base, red time.Duration
	b.ReportAllocs()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		start := time.Now()
		for range n {
			baseline.ServeHTTP(httptest.NewRecorder(), req)
		}
		base += time.Since(start)
		start = time.Now()
		for range n {
			instrumented.ServeHTTP(httptest.NewRecorder(), req)
		}
		red += time.Since(start)
	}
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "baseline-ns/req")
	b.ReportMetric(float64(red.Nanoseconds())/float64(b.N), "red-ns/req")
	b.ReportMetric(float64(red)/float64(base), "red/baseline")
}
