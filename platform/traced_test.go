package platform_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/tracing"
)

type anyone struct{}

func (anyone) Authenticate(context.Context, *http.Request) (platform.Caller, error) {
	return platform.Caller{}, nil
}

// TestTracedHop: a request to one function that calls another through the in-process
// transport makes three spans of one trace — the caller's server span named by its route
// template, its client span, the callee's server span under that — each from its own
// function's provider; the request's log line names the first server span.
func TestTracedHop(t *testing.T) {
	t.Parallel()
	const inbound = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name        string
		traceparent string
	}{{"continuing the caller's trace", inbound}, {"starting a trace", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			exp := tracetest.NewInMemoryExporter()
			tr := tracing.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(exp), nil)
			transport := platform.NewTransport(nil, nil)
			client := platform.ForwardingClient(transport, nil, 5*time.Second)
			back := platform.RouteTable{{Name: "back", Method: http.MethodGet, Path: "/api/back/{id}", Access: platform.Public,
				Handler: func(w http.ResponseWriter, r *http.Request) error {
					return platform.Errorf(platform.KindUnavailable, "not today")
				}}}
			front := platform.RouteTable{{Name: "front", Method: http.MethodGet, Path: "/api/front/{id}", Access: platform.Public,
				Handler: func(w http.ResponseWriter, r *http.Request) error {
					err := platform.CallJSON(r.Context(), client, http.MethodGet, "back", "/api/back/"+platform.PathVar(r, "id"), nil, nil)
					require.Error(t, err)
					w.WriteHeader(http.StatusNoContent)
					return nil
				}}}
			transport.Mount("back", platform.Traced(tr.Provider("back"), platform.Handler(back, anyone{})))
			var logs syncBuffer
			h := platform.Observe(platform.NewLogger(&logs, "info", "front"),
				platform.Traced(tr.Provider("front"), platform.Handler(front, anyone{})))

			req := httptest.NewRequest(http.MethodGet, "/api/front/personal-looking-id", nil)
			if tc.traceparent != "" {
				req.Header.Set("Traceparent", tc.traceparent)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())

			spans := exp.GetSpans().Snapshots()
			require.Len(t, spans, 3)
			byName := map[string]sdktrace.ReadOnlySpan{}
			for _, s := range spans {
				byName[s.Name()] = s
			}
			server, call, callee := byName["GET /api/front/{id}"], byName["GET"], byName["GET /api/back/{id}"]
			require.NotNil(t, server, "the front span is named by its route template")
			require.NotNil(t, call)
			require.NotNil(t, callee)
			assert.Equal(t, "front", serviceOf(server))
			assert.Equal(t, "front", serviceOf(call), "a function's calls carry its service name")
			assert.Equal(t, "back", serviceOf(callee))
			assert.Equal(t, trace.SpanKindClient, call.SpanKind())
			assert.Equal(t, server.SpanContext().SpanID(), call.Parent().SpanID())
			assert.Equal(t, call.SpanContext().SpanID(), callee.Parent().SpanID())
			traceID := server.SpanContext().TraceID()
			assert.Equal(t, traceID, callee.SpanContext().TraceID())
			if tc.traceparent != "" {
				assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", traceID.String())
			} else {
				assert.False(t, server.Parent().IsValid(), "a root span")
			}
			assert.Equal(t, "Error", callee.Status().Code.String(), "a 503 is a server error")
			for _, s := range spans {
				for _, a := range s.Attributes() {
					assert.NotContains(t, a.Value.Emit(), "personal-looking-id", "no raw path in %s's %s", s.Name(), a.Key)
				}
			}

			lines := linesWithMsg(logLines(t, logs.String()), "request")
			require.Len(t, lines, 1)
			assert.Equal(t, server.SpanContext().SpanID().String(), lines[0]["spanId"])
			assert.Equal(t, traceID.String(), lines[0]["traceId"])
		})
	}
}

func serviceOf(s sdktrace.ReadOnlySpan) string {
	for _, a := range s.Resource().Attributes() {
		if a.Key == "service.name" {
			return a.Value.AsString()
		}
	}
	return ""
}

// TestTracedOff: with tracing off the log line still names a span of its own, and the call
// downstream carries a child of it.
func TestTracedOff(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	var downstream string
	h := platform.Observe(platform.NewLogger(&logs, "info", ""), platform.Traced(tracing.Off,
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tp, _ := tracing.Traceparent(r.Context())
			downstream = tp
		})))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	lines := linesWithMsg(logLines(t, logs.String()), "request")
	require.Len(t, lines, 1)
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", lines[0]["traceId"])
	span, _ := lines[0]["spanId"].(string)
	assert.Len(t, span, 16)
	assert.NotEqual(t, "00f067aa0ba902b7", span, "a span id of its own")
	assert.Equal(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-"+span+"-01", downstream)
}

type captureTrip struct{ seen http.Header }

func (c *captureTrip) RoundTrip(r *http.Request) (*http.Response, error) {
	c.seen = r.Header.Clone()
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
}

// TestNoTraceOutside: a call to a host outside the system (a dot or a port in its name)
// carries no trace context and makes no span, as it carries no token.
func TestNoTraceOutside(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(exp), nil)
	net := &captureTrip{}
	transport := platform.NewTransport(net, nil)
	ctx, span := tr.Provider("sync-worker").Tracer("test").Start(context.Background(), "work")
	defer span.End()
	for _, u := range []string{"https://partner.example/hook", "http://10.0.0.7:8080/hook"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, http.NoBody)
		require.NoError(t, err)
		resp, err := transport.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Empty(t, net.seen.Get("Traceparent"), u)
	}
	assert.Empty(t, exp.GetSpans(), "no client span for calls outside")
}
