package host

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/metrics"
)

// TestServeMetricsWhereKnativeScrapes: on Knative a function serves /metrics on its own
// port (never through its route); `orange serve` on a laptop serves it on the serving port.
func TestServeMetricsWhereKnativeScrapes(t *testing.T) {
	t.Parallel()
	ctx := platform.WithLogger(context.Background(), slog.New(slog.DiscardHandler))
	reg := metrics.NewRegistry()
	reg.Function("fake-api").IdempotencyReplay()
	get := func(h http.Handler, url string) (int, string) {
		var resp *http.Response
		var err error
		if h != nil {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
			resp = rec.Result()
		} else {
			resp, err = http.Get(url)
			require.NoError(t, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	t.Run("own port", func(t *testing.T) {
		bg := newBackground(ctx, slog.New(slog.DiscardHandler))
		defer bg.stop()
		mux := http.NewServeMux()
		addr, err := serveMetrics(ctx, Config{MetricsPort: "0"}, bg, mux, reg)
		require.NoError(t, err)
		require.NotEmpty(t, addr)
		status, body := get(nil, "http://"+addr+MetricsPath)
		assert.Equal(t, http.StatusOK, status)
		assert.Contains(t, body, `orange_idempotency_replays_total{function="fake-api"} 1`)
		assert.Contains(t, body, "go_goroutines")
		status, _ = get(nil, "http://"+addr+"/api/anything")
		assert.Equal(t, http.StatusNotFound, status, "the metrics port serves /metrics only")
		status, _ = get(mux, MetricsPath)
		assert.Equal(t, http.StatusNotFound, status, "and the serving port does not serve it")
	})
	t.Run("serving port outside Knative", func(t *testing.T) {
		bg := newBackground(ctx, slog.New(slog.DiscardHandler))
		defer bg.stop()
		mux := http.NewServeMux()
		addr, err := serveMetrics(ctx, Config{}, bg, mux, reg)
		require.NoError(t, err)
		assert.Empty(t, addr)
		status, body := get(mux, MetricsPath)
		assert.Equal(t, http.StatusOK, status)
		assert.True(t, strings.Contains(body, "orange_idempotency_replays_total"))
	})
	t.Run("Knative's default port", func(t *testing.T) {
		var cfg Config
		cfg.Knative.Service = "fake-api"
		cfg.Server.Host = "256.0.0.1" // unresolvable: the listen fails and names the port
		_, err := serveMetrics(ctx, cfg, newBackground(ctx, slog.New(slog.DiscardHandler)), http.NewServeMux(), reg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), ":"+KnativeMetricsPort)
	})
}
