package tracing

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// Off is the TracerProvider of a process without an exporter. Its spans record nothing, but
// each has ids of its own — a child continues its parent's trace id, flags and tracestate, a
// root starts a sampled trace, as platform.ChildTraceparent always did — so the traceparent
// a function passes on, the one an event carries and the span id in its request log line
// still tell hops apart and join them up in the logs. That costs a random number per span;
// OpenTelemetry's own no-op provider would reuse the caller's span id instead.
//
// Off is the provider of every request in production unless an exporter is configured, so
// it is made cheap (docs/performance.md, "Observability overhead"): a span is its ids and
// lives inside the context that carries it (spanContext: one allocation per span, where the
// API's ContextWithSpan costs three), and StartServer and StartClient take shortcuts for it
// that read and write traceparent directly instead of through the propagator's carriers.
var Off trace.TracerProvider = offProvider{}

type offProvider struct{ embedded.TracerProvider }

func (offProvider) Tracer(string, ...trace.TracerOption) trace.Tracer { return offTracer{} }

type offTracer struct{ embedded.Tracer }

func (offTracer) Start(ctx context.Context, _ string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	// Options (kind, attributes, links; a new root too) are not read: nothing is recorded,
	// and the platform starts no span as a new root.
	c := withOffSpan(ctx, trace.SpanContextFromContext(ctx))
	return c, &c.span
}

// childOf is a new span's context under parent: parent's trace, flags and state with a span
// id of its own, or a new sampled trace when parent is not valid.
func childOf(parent trace.SpanContext) trace.SpanContext {
	cfg := trace.SpanContextConfig{TraceID: parent.TraceID(), SpanID: spanID(), TraceFlags: parent.TraceFlags(), TraceState: parent.TraceState()}
	if !parent.IsValid() {
		cfg.TraceID, cfg.TraceFlags = traceID(), trace.FlagsSampled
	}
	return trace.NewSpanContext(cfg)
}

func spanID() (id trace.SpanID) {
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}

func traceID() (id trace.TraceID) {
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:8], rand.Uint64())
		binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

// offSpan is a span that only has its ids.
type offSpan struct {
	embedded.Span
	sc trace.SpanContext
}

func (*offSpan) End(...trace.SpanEndOption)              {}
func (*offSpan) AddEvent(string, ...trace.EventOption)   {}
func (*offSpan) AddLink(trace.Link)                      {}
func (*offSpan) IsRecording() bool                       { return false }
func (*offSpan) RecordError(error, ...trace.EventOption) {}
func (s *offSpan) SpanContext() trace.SpanContext        { return s.sc }
func (*offSpan) SetStatus(codes.Code, string)            {}
func (*offSpan) SetName(string)                          {}
func (*offSpan) SetAttributes(...attribute.KeyValue)     {}
func (*offSpan) TracerProvider() trace.TracerProvider    { return Off }

// spanKey is the key OpenTelemetry keeps the current span under in a context (unexported in
// the trace package; asked of it once by a probe). Knowing it, a context can hold its span
// itself: trace.SpanFromContext finds it through Value as it finds one ContextWithSpan put
// there. Should the API ever stop asking Value for it, spanKey is nil and withOffSpan falls
// back to ContextWithSpan (TestOffContext holds both to the API's behaviour).
var spanKey = func() any {
	var p keyProbe
	trace.SpanFromContext(&p)
	return p.key
}()

type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(k any) any {
	p.key = k
	return nil
}

// spanContext is a context carrying an Off span: the two in one allocation. hdr is the
// traceparent header value of a client span (StartClient), in the same allocation too.
type spanContext struct {
	context.Context
	span offSpan
	hdr  [1]string
}

func (c *spanContext) Value(k any) any {
	if k == spanKey {
		return &c.span
	}
	return c.Context.Value(k)
}

// withOffSpan returns ctx carrying a new Off span, a child of parent.
func withOffSpan(ctx context.Context, parent trace.SpanContext) *spanContext {
	c := &spanContext{Context: ctx, span: offSpan{sc: childOf(parent)}}
	if spanKey == nil {
		c.Context = trace.ContextWithSpan(ctx, &c.span)
	}
	return c
}

// startOffServer is StartServer for Off: the caller's traceparent parsed in place (the same
// rules as the propagator's), the server span made without a remote-parent context between.
func startOffServer(r *http.Request) (context.Context, trace.Span) {
	parent, _ := parseTraceparent(headerCarrier(r.Header).Get("traceparent"), headerCarrier(r.Header).Get("tracestate"))
	c := withOffSpan(r.Context(), parent)
	return c, &c.span
}

// startOffClient is StartClient for a parent that is an Off span: a child span in a copy of
// req whose header map is a shallow copy (the values the caller set are not written to, only
// traceparent and tracestate replaced) carrying the child's traceparent.
func startOffClient(req *http.Request, parent *offSpan) (*http.Request, trace.Span) {
	c := withOffSpan(req.Context(), parent.sc)
	out := req.WithContext(c)
	out.Header = make(http.Header, len(req.Header)+2)
	for k, v := range req.Header {
		out.Header[k] = v
	}
	c.hdr[0] = formatTraceparent(c.span.sc)
	out.Header["Traceparent"] = c.hdr[:]
	if ts := c.span.sc.TraceState(); ts.Len() > 0 {
		out.Header["Tracestate"] = []string{ts.String()}
	} else {
		delete(out.Header, "Tracestate")
	}
	return out, &c.span
}

// parseTraceparent reads a W3C traceparent (and its tracestate) as
// propagation.TraceContext's Extract does (TestParseTraceparent compares the two): version
// 00 with nothing after the flags, or a later version with more fields; lower-case hex; only
// the sampled and random flags kept; a tracestate that does not parse is dropped, the
// traceparent still counts.
func parseTraceparent(h, state string) (trace.SpanContext, bool) {
	if len(h) < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return trace.SpanContext{}, false
	}
	var ver, flags [1]byte
	var scc trace.SpanContextConfig
	if !hexPart(ver[:], h[0:2]) || ver[0] == 0xff || !hexPart(scc.TraceID[:], h[3:35]) ||
		!hexPart(scc.SpanID[:], h[36:52]) || !hexPart(flags[:], h[53:55]) {
		return trace.SpanContext{}, false
	}
	if rest := h[55:]; ver[0] == 0 && (rest != "" || flags[0] > 3) || ver[0] != 0 && rest != "" && rest[0] != '-' {
		return trace.SpanContext{}, false
	}
	scc.TraceFlags = trace.TraceFlags(flags[0]) & (trace.FlagsSampled | trace.FlagsRandom)
	if state != "" {
		scc.TraceState, _ = trace.ParseTraceState(state)
	}
	scc.Remote = true
	sc := trace.NewSpanContext(scc)
	return sc, sc.IsValid()
}

// hexPart decodes lower-case hex s into dst (upper case is not valid in a traceparent).
func hexPart(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}

// formatTraceparent writes sc as a version-00 traceparent, as the propagator's Inject does.
func formatTraceparent(sc trace.SpanContext) string {
	var b [55]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	b[0], b[1], b[2], b[35], b[52] = '0', '0', '-', '-', '-'
	hex.Encode(b[3:35], tid[:])
	hex.Encode(b[36:52], sid[:])
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))})
	return string(b[:])
}
