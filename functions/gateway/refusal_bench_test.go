package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/gateway"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/admission"
	"github.com/orangecarrental/orange/platform/auth/authtest"
)

// BenchmarkRefusal is the CPU a refused request costs the gateway's process (`orange dev`:
// the function in-process) — what each request above capacity takes from the accepted
// ones (docs/performance.md, "Overload"): refused by the gateway's per-function limit
// before anything else, or forwarded and refused by the function's admission control, beside
// a small answer forwarded and served. Each as a host serves it: request log, the
// function's limiter, its router.
func BenchmarkRefusal(b *testing.B) {
	for _, tc := range []struct {
		name     string
		upstream int // the function's admission limit: 0 refuses everything
		gateway  string
		want     int
	}{
		{"refused by the gateway", 0, "1", http.StatusServiceUnavailable},
		{"forwarded, refused by the function", 0, "0", http.StatusServiceUnavailable},
		{"forwarded and answered", 1 << 20, "0", http.StatusOK},
	} {
		b.Run(tc.name, func(b *testing.B) {
			fn := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = platform.WriteJSON(w, http.StatusOK, map[string]string{"code": "BER", "name": "Berlin Hbf"})
			}))
			logger := platform.NewLogger(io.Discard, "info", service)
			cfg := admission.Config{MaxInFlight: max(tc.upstream, 1)}
			lim := admission.New(service, cfg, false)
			if tc.upstream == 0 {
				fill := make(chan struct{})
				defer close(fill)
				held := make(chan struct{})
				go lim.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { close(held); <-fill })).
					ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
				<-held
			}
			transport := inProcess(platform.Observe(logger, lim.Wrap(fn)))
			var gcfg gateway.Config
			require.NoError(b, platform.LoadConfig(context.Background(), envconfig.MapLookuper(map[string]string{
				"RATE_LIMIT_RPS": "1e9", "RATE_LIMIT_ADDRESS_RPS": "1e9", "GATEWAY_UPSTREAM_MAX_IN_FLIGHT": "192"}), &gcfg))
			gw, err := gateway.New(context.Background(), gcfg, platform.Deps{Transport: transport})
			require.NoError(b, err)
			h := platform.Observe(platform.NewLogger(io.Discard, "info", gateway.ServiceName),
				admission.New(gateway.ServiceName, admission.Config{}, true).Wrap(platform.Handler(gw, authtest.New(b).Verifier)))
			if tc.gateway == "1" {
				// One refusal from the function brings the gateway's limit to its floor;
				// hold that many requests so the gateway refuses every other.
				gw.SaturateForTest("/api/locations")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/locations/BER", nil))
				if rec.Code != tc.want {
					b.Fatalf("got %d, want %d: %s", rec.Code, tc.want, rec.Body)
				}
			}
		})
	}
}
