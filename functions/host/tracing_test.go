package host

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/orangecarrental/orange/platform"
)

// collector is an OTLP/HTTP trace receiver: it keeps the span names it got, by service.
type collector struct {
	mu    sync.Mutex
	spans map[string][]string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans[service] = append(c.spans[service], s.GetName())
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (c *collector) got() map[string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]string{}
	for k, v := range c.spans {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// TestStandaloneExportsTracesAndFlushesOnDrain: a Service alone with
// OTEL_EXPORTER_OTLP_ENDPOINT set sends its server spans to the collector over OTLP/HTTP;
// the batch still waiting when SIGTERM comes (the exporter batches for 5 s) is flushed after
// the drain, before Standalone returns. Its request log line carries the span id.
func TestStandaloneExportsTracesAndFlushesOnDrain(t *testing.T) {
	t.Parallel()
	col := &collector{spans: map[string][]string{}}
	otlp := httptest.NewServer(col)
	defer otlp.Close()
	fn := platform.Function{Service: "ping-api", Prefixes: []string{"/api/ping"},
		New: func(context.Context, platform.Deps) (platform.API, error) {
			return platform.RouteTable{{Name: "ping", Method: http.MethodGet, Path: "/api/ping/{n}", Access: platform.Public,
				Handler: func(w http.ResponseWriter, r *http.Request) error { w.WriteHeader(http.StatusNoContent); return nil }}}, nil
		}}
	var logs strings.Builder
	var logMu sync.Mutex
	ready := make(chan string, 1)
	env := Env{
		Lookuper: envconfig.MapLookuper(map[string]string{
			"PORT": "0", "OIDC_ISSUER_URL": "http://issuer.test", "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL,
		}),
		Stdout: writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logs.Write(p) }),
		Ready:  func(addr string) { ready <- addr },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Standalone(ctx, fn, env) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Standalone stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("not serving")
	}
	resp, err := http.Get("http://" + addr + "/api/ping/1")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	cancel() // SIGTERM
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Standalone did not return")
	}
	assert.Equal(t, []string{"GET /api/ping/{n}"}, col.got()["ping-api"], "the span reached the collector by the time the process ended")
	logMu.Lock()
	defer logMu.Unlock()
	assert.Contains(t, logs.String(), `"spanId":"`)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
