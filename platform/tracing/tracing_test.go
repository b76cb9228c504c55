package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/orangecarrental/orange/platform/tracing"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     tracing.Config
		enabled bool
		err     string // "" means no error
	}{
		{"off by default", tracing.Config{}, false, ""},
		{"none wins over an endpoint", tracing.Config{Exporter: "none", Endpoint: "http://collector:4318"}, false, ""},
		{"an endpoint turns otlp on", tracing.Config{Endpoint: "http://collector:4318"}, true, ""},
		{"a traces endpoint too", tracing.Config{TracesEndpoint: "https://collector/v1/traces"}, true, ""},
		{"otlp without endpoint", tracing.Config{Exporter: "otlp"}, false, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"unknown exporter", tracing.Config{Exporter: "jaeger"}, false, "OTEL_TRACES_EXPORTER"},
		{"grpc is not built in", tracing.Config{Endpoint: "http://collector:4317", Protocol: "grpc"}, false, "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"endpoint not a URL", tracing.Config{Endpoint: "collector:4318"}, false, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"headers", tracing.Config{Endpoint: "http://c:4318", Headers: "authorization=Bearer%20x, tenant=orange"}, true, ""},
		{"bad headers", tracing.Config{Endpoint: "http://c:4318", Headers: "novalue"}, false, "OTEL_EXPORTER_OTLP_HEADERS"},
		{"ratio sampler", tracing.Config{Sampler: "parentbased_traceidratio", SamplerArg: "0.25"}, false, ""},
		{"bad ratio", tracing.Config{Sampler: "traceidratio", SamplerArg: "2"}, false, "OTEL_TRACES_SAMPLER_ARG"},
		{"unknown sampler", tracing.Config{Sampler: "sometimes"}, false, "OTEL_TRACES_SAMPLER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr, err := tracing.New(context.Background(), tc.cfg)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.enabled, tr.Enabled())
			if !tc.enabled {
				assert.Equal(t, tracing.Off, tr.Provider("pricing-api"))
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = tr.Shutdown(ctx) // nothing recorded: nothing to send to the absent collector
		})
	}
}

// TestOff: without an exporter spans still have ids of their own — a child continues its
// parent's trace, flags and state with a new span id; a root starts a sampled trace — and
// record nothing.
func TestOff(t *testing.T) {
	t.Parallel()
	tracer := tracing.Off.Tracer("test")
	_, root := tracer.Start(context.Background(), "root")
	rsc := root.SpanContext()
	require.True(t, rsc.IsValid())
	assert.True(t, rsc.IsSampled())
	assert.False(t, root.IsRecording())

	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, Remote: true})
	ctx, child := tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "child")
	assert.Equal(t, parent.TraceID(), child.SpanContext().TraceID())
	assert.NotEqual(t, parent.SpanID(), child.SpanContext().SpanID())
	assert.False(t, child.SpanContext().IsSampled(), "the parent's flags are kept")
	_, grandchild := child.TracerProvider().Tracer("x").Start(ctx, "grandchild")
	assert.Equal(t, parent.TraceID(), grandchild.SpanContext().TraceID())
}

// TestProviders: each function's provider names its service; all export through the one
// processor; the same provider comes back for the same service; OTEL_SERVICE_NAME is not
// used by NewWithProcessor.
func TestProviders(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(exp), nil)
	require.True(t, tr.Enabled())
	assert.Same(t, tr.Provider("payments-api"), tr.Provider("payments-api"))
	for _, svc := range []string{"payments-api", "pricing-api"} {
		_, span := tr.Provider(svc).Tracer(tracing.Scope).Start(context.Background(), "work")
		span.End()
	}
	require.NoError(t, tr.ForceFlush(context.Background()))
	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	var services []string
	for _, s := range spans {
		for _, a := range s.Resource.Attributes() {
			if a.Key == "service.name" {
				services = append(services, a.Value.AsString())
			}
		}
	}
	assert.ElementsMatch(t, []string{"payments-api", "pricing-api"}, services)
	require.NoError(t, tr.Shutdown(context.Background()))
}

// TestExportsOverOTLP: configured with an endpoint, the process sends its spans to
// <endpoint>/v1/traces as OTLP/HTTP protobuf, with the configured headers, by Shutdown.
func TestExportsOverOTLP(t *testing.T) {
	t.Parallel()
	var posts atomic.Int32
	var auth atomic.Value
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			posts.Add(1)
			auth.Store(r.Header.Get("Authorization"))
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	tr, err := tracing.New(context.Background(), tracing.Config{Endpoint: collector.URL, Headers: "Authorization=Bearer%20t0k"})
	require.NoError(t, err)
	_, span := tr.Provider("vehicles-api").Tracer(tracing.Scope).Start(context.Background(), "GET /api/vehicles/{id}")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, tr.Shutdown(ctx))
	assert.Positive(t, posts.Load(), "the collector got the span")
	assert.Equal(t, "Bearer t0k", auth.Load())
}

// TestClientAndServer: a call made inside a server span is a client span whose context the
// callee continues; a call with no span in its context keeps the caller's headers.
func TestClientAndServer(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(exp), nil)
	in := httptest.NewRequest(http.MethodGet, "/api/x", nil)
	in.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx, server := tracing.StartServer(tr.Provider("caller"), in)
	tracing.NameRoute(ctx, http.MethodGet, "/api/x")
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", server.SpanContext().TraceID().String())

	out, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://callee/api/y", nil)
	require.NoError(t, err)
	sent, client := tracing.StartClient(out)
	require.NotNil(t, client)
	assert.Empty(t, out.Header.Get("Traceparent"), "the caller's request is not changed")
	tp := sent.Header.Get("Traceparent")
	assert.True(t, strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-"+client.SpanContext().SpanID().String()), tp)
	tracing.EndClient(client, &http.Response{StatusCode: 503}, nil)
	tracing.EndServer(server, http.StatusOK)

	bare, err := http.NewRequest(http.MethodGet, "http://callee/", nil)
	require.NoError(t, err)
	bare.Header.Set("Traceparent", "kept")
	same, none := tracing.StartClient(bare)
	assert.Nil(t, none)
	assert.Equal(t, "kept", same.Header.Get("Traceparent"))

	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	assert.Equal(t, "GET", spans[0].Name)
	assert.Equal(t, trace.SpanKindClient, spans[0].SpanKind)
	assert.Equal(t, spans[1].SpanContext.SpanID(), spans[0].Parent.SpanID())
	assert.Equal(t, "Error", spans[0].Status.Code.String(), "a 503 is the callee's failure")
	assert.Equal(t, "GET /api/x", spans[1].Name)
	assert.Equal(t, trace.SpanKindServer, spans[1].SpanKind)
	assert.True(t, spans[1].Parent.IsRemote())
}

// TestParseTraceparent: with tracing off the server span's parent is read, and a client's
// traceparent written, by the package's own shortcuts; they must agree with the
// propagator's Extract and Inject on every kind of header.
func TestParseTraceparent(t *testing.T) {
	t.Parallel()
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		name        string
		traceparent string
		tracestate  string
	}{
		{"sampled", "00-" + tid + "-" + sid + "-01", ""},
		{"not sampled", "00-" + tid + "-" + sid + "-00", ""},
		{"random flag kept", "00-" + tid + "-" + sid + "-03", ""},
		{"reserved flags in version 00", "00-" + tid + "-" + sid + "-09", ""},
		{"with tracestate", "00-" + tid + "-" + sid + "-01", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
		{"bad tracestate dropped", "00-" + tid + "-" + sid + "-01", "not a state"},
		{"later version with more fields", "cc-" + tid + "-" + sid + "-09-what-the-future-holds", ""},
		{"later version glued field", "cc-" + tid + "-" + sid + "-09xyz", ""},
		{"version ff", "ff-" + tid + "-" + sid + "-01", ""},
		{"extra field in version 00", "00-" + tid + "-" + sid + "-01-x", ""},
		{"upper case", "00-" + strings.ToUpper(tid) + "-" + sid + "-01", ""},
		{"zero trace id", "00-" + strings.Repeat("0", 32) + "-" + sid + "-01", ""},
		{"zero span id", "00-" + tid + "-" + strings.Repeat("0", 16) + "-01", ""},
		{"short", "00-" + tid[1:] + "-" + sid + "-01", ""},
		{"not hex", "00-" + tid[:31] + "g-" + sid + "-01", ""},
		{"dashes moved", "00-" + tid + sid[:1] + "-" + sid[1:] + "-01", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.traceparent != "" {
				r.Header.Set("Traceparent", tc.traceparent)
			}
			if tc.tracestate != "" {
				r.Header.Set("Tracestate", tc.tracestate)
			}
			want := trace.SpanContextFromContext(tracing.Propagator.Extract(context.Background(), propagation.HeaderCarrier(r.Header)))
			ctx, span := tracing.StartServer(tracing.Off, r)
			got := span.SpanContext()
			assert.Same(t, span, trace.SpanFromContext(ctx), "the span is the context's")
			if want.IsValid() {
				assert.Equal(t, want.TraceID(), got.TraceID())
				assert.Equal(t, want.TraceFlags(), got.TraceFlags())
				assert.Equal(t, want.TraceState().String(), got.TraceState().String())
				assert.NotEqual(t, want.SpanID(), got.SpanID())
			} else {
				assert.True(t, got.IsValid(), "a new root")
				assert.True(t, got.IsSampled())
			}

			// The child's traceparent as a client sends it, and as an event records it.
			out := httptest.NewRequest(http.MethodGet, "http://callee/", nil).WithContext(ctx)
			out.Header.Set("Accept", "application/json")
			out.Header.Set("Tracestate", "stale=1")
			sent, client := tracing.StartClient(out)
			require.NotNil(t, client)
			c := propagation.MapCarrier{}
			tracing.Propagator.Inject(trace.ContextWithSpanContext(context.Background(), client.SpanContext()), c)
			assert.Equal(t, c["traceparent"], sent.Header.Get("Traceparent"))
			assert.Equal(t, c["tracestate"], sent.Header.Get("Tracestate"))
			assert.Equal(t, "application/json", sent.Header.Get("Accept"))
			assert.Equal(t, "stale=1", out.Header.Get("Tracestate"), "the caller's request is not changed")
			assert.Empty(t, out.Header.Get("Traceparent"))
			tp, ts := tracing.Traceparent(sent.Context())
			assert.Equal(t, c["traceparent"], tp)
			assert.Equal(t, c["tracestate"], ts)
		})
	}
}

// TestOffContext: an Off span's context behaves as one ContextWithSpan made — the span is
// found, other values still are, a span set above it wins — and cancellation passes through.
func TestOffContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx, span := tracing.Off.Tracer("test").Start(parent, "work")
	assert.Same(t, span, trace.SpanFromContext(ctx))
	assert.Equal(t, span.SpanContext(), trace.SpanContextFromContext(ctx))
	assert.Equal(t, "v", ctx.Value(key{}))
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	_, inner := tracing.Off.Tracer("test").Start(child, "inner")
	assert.Equal(t, span.SpanContext().TraceID(), inner.SpanContext().TraceID())
	other := trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	assert.False(t, trace.SpanContextFromContext(other).IsValid(), "a span set above it wins")
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancellation did not pass through the span's context")
	}
}

// BenchmarkOff: what a request's spans cost with tracing off — a server span from the
// caller's traceparent, a client span for one call and its traceparent.
func BenchmarkOff(b *testing.B) {
	in := httptest.NewRequest(http.MethodGet, "/api/x", nil)
	in.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	out := httptest.NewRequest(http.MethodGet, "http://callee/api/y", nil)
	out.Header.Set("Authorization", "Bearer x")
	b.ReportAllocs()
	for range b.N {
		ctx, server := tracing.StartServer(tracing.Off, in)
		tracing.NameRoute(ctx, http.MethodGet, "/api/x")
		sent, client := tracing.StartClient(out.WithContext(ctx))
		tracing.EndClient(client, &http.Response{StatusCode: http.StatusOK, Request: sent}, nil)
		tracing.EndServer(server, http.StatusOK)
	}
}
