package tracing

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// What spans say about a request: the method, the route template (never the raw path or
// query: paths and queries may hold what identifies a person, such as the email of a
// booking lookup), the status and the peer's service name. Ids in paths are fine but stay
// out too, so a span's attributes never need a second look.

// StartServer starts the server span of r in tp, a child of the traceparent r carries (a new
// root without one). It is named by the method until the router names the route
// (NameRoute).
func StartServer(tp trace.TracerProvider, r *http.Request) (context.Context, trace.Span) {
	if _, off := tp.(offProvider); off {
		return startOffServer(r)
	}
	ctx := Propagator.Extract(r.Context(), headerCarrier(r.Header))
	ctx, span := tp.Tracer(Scope).Start(ctx, r.Method, serverKind...)
	if span.IsRecording() {
		span.SetAttributes(semconv.HTTPRequestMethodKey.String(r.Method))
	}
	return ctx, span
}

// NameRoute names the server span in ctx after the route that matched ("POST
// /api/reservations/{id}/cancel") and records the template as http.route.
func NameRoute(ctx context.Context, method, template string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if method == "" {
		method = "HTTP"
	}
	span.SetName(method + " " + template)
	span.SetAttributes(semconv.HTTPRoute(template))
}

// EndServer records the response status (5xx is an error: the server failed; 4xx is the
// caller's) and ends span.
func EndServer(span trace.Span, status int) {
	if span.IsRecording() {
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
	span.End()
}

// StartClient starts a client span for req as a child of the span in req's context and
// returns req with the span's context and its traceparent (and tracestate) headers, on a
// copy of the headers. Without a span in the context it returns req and a nil span: nothing
// to continue, and the caller's own headers stay as they are. The span comes from the
// parent's own provider, so a function's calls carry its service name.
func StartClient(req *http.Request) (*http.Request, trace.Span) {
	parent := trace.SpanFromContext(req.Context())
	if !parent.SpanContext().IsValid() {
		return req, nil
	}
	if p, off := parent.(*offSpan); off {
		return startOffClient(req, p)
	}
	ctx, span := parent.TracerProvider().Tracer(Scope).Start(req.Context(), req.Method, clientKind...)
	if span.IsRecording() {
		span.SetAttributes(semconv.HTTPRequestMethodKey.String(req.Method), semconv.ServerAddress(req.URL.Hostname()))
	}
	out := req.WithContext(ctx)
	out.Header = req.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	Propagator.Inject(ctx, headerCarrier(out.Header))
	return out, span
}

// The span kinds as ready option lists: a request's spans then cost no option allocations.
var (
	serverKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	clientKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
)

// headerCarrier is propagation.HeaderCarrier without the canonicalisation of the two
// lower-case keys the propagator asks for (an allocation per lookup on every request).
type headerCarrier http.Header

func canonicalKey(k string) string {
	switch k {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	}
	return http.CanonicalHeaderKey(k)
}

func (h headerCarrier) Get(key string) string {
	if v := h[canonicalKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (h headerCarrier) Set(key, value string) { h[canonicalKey(key)] = []string{value} }

func (h headerCarrier) Keys() []string { return propagation.HeaderCarrier(h).Keys() }

// EndClient records a client call's outcome and ends span (nil: no span was started).
func EndClient(span trace.Span, resp *http.Response, err error) {
	if span == nil {
		return
	}
	if span.IsRecording() {
		switch {
		case err != nil:
			span.SetAttributes(semconv.ErrorType(err))
			span.SetStatus(codes.Error, "no answer")
		case resp != nil:
			span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
			if resp.StatusCode >= 500 {
				span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
			}
		}
	}
	span.End()
}

// Traceparent returns the W3C traceparent and tracestate of the span in ctx ("" when there
// is none): what an event records of the work that made it.
func Traceparent(ctx context.Context) (traceparent, tracestate string) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return "", ""
	}
	// What Propagator.Inject writes, without a carrier map (TestParseTraceparent).
	return formatTraceparent(sc), sc.TraceState().String()
}

// WithRemoteParent returns ctx with the span context of traceparent and tracestate as its
// remote parent; ctx unchanged when traceparent is not valid.
func WithRemoteParent(ctx context.Context, traceparent, tracestate string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent, "tracestate": tracestate})
}
