package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/metrics"
	"github.com/orangecarrental/orange/platform/tracing"
)

// nopWriter is a ResponseWriter that keeps nothing: the benchmark then counts the
// middleware's allocations, not a recorder's.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header       { return w.h }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

// BenchmarkHop is one function's hop as a host wraps it — request log (Observe), RED
// (Instrument), server span (Traced with tracing.Off: no exporter) and, inside the handler,
// one call to another function through the in-process transport (a client span and the
// traceparent it passes on) — against the same hop with neither metrics nor tracing.
// Allocations per request are deterministic, unlike time on a shared box: they are this
// benchmark's evidence (docs/performance.md, "Observability overhead").
func BenchmarkHop(b *testing.B) {
	callee := platform.Route{Name: "get", Method: http.MethodGet, Path: "/api/things/{id}", Access: platform.Public, Handler: ok}
	for _, v := range []struct {
		name             string
		metrics, tracing bool
	}{{"bare", false, false}, {"metrics", true, false}, {"tracing", false, true}, {"both", true, true}} {
		b.Run(v.name, func(b *testing.B) {
			wrap := func(service string, reg *metrics.Registry, routes []platform.Route) http.Handler {
				h := platform.Handler(platform.RouteTable(routes), anonymous{})
				if v.tracing {
					h = platform.Traced(tracing.Off, h)
				}
				if v.metrics {
					h = metrics.Instrument(reg.Function(service), routes, h)
				}
				return h
			}
			reg := metrics.NewRegistry()
			transport := platform.NewTransport(nil, nil)
			transport.Mount("things-api", wrap("things-api", reg, []platform.Route{callee}))
			client := &http.Client{Transport: transport}
			var routes []platform.Route
			for i := range 11 {
				routes = append(routes, platform.Route{Name: "list", Method: http.MethodGet, Path: fmt.Sprintf("/api/area%d", i), Access: platform.Public, Handler: ok})
			}
			routes = append(routes, platform.Route{Name: "get", Method: http.MethodGet, Path: "/api/front/{id}", Access: platform.Public,
				Handler: func(w http.ResponseWriter, r *http.Request) error {
					req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://things-api/api/things/"+platform.PathVar(r, "id"), nil)
					if err != nil {
						return err
					}
					resp, err := client.Do(req)
					if err != nil {
						return err
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					return platform.WriteJSON(w, resp.StatusCode, map[string]string{"ok": "yes"})
				}})
			h := platform.Observe(platform.NewLogger(io.Discard, "info", "bench"), wrap("front-api", reg, routes))
			req := httptest.NewRequest(http.MethodGet, "/api/front/f1ee0000-0000-4000-8000-000000000002", nil)
			req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
			req = req.WithContext(context.Background())
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				h.ServeHTTP(nopWriter{h: http.Header{}}, req)
			}
		})
	}
}
