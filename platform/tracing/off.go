package tracing

import (
	"context"
	"encoding/binary"
	"math/rand/v2"

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
var Off trace.TracerProvider = offProvider{}

type offProvider struct{ embedded.TracerProvider }

func (offProvider) Tracer(string, ...trace.TracerOption) trace.Tracer { return offTracer{} }

type offTracer struct{ embedded.Tracer }

func (offTracer) Start(ctx context.Context, _ string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	// Options (kind, attributes, links; a new root too) are not read: nothing is recorded,
	// and the platform starts no span as a new root.
	parent := trace.SpanContextFromContext(ctx)
	cfg := trace.SpanContextConfig{TraceID: parent.TraceID(), SpanID: spanID(), TraceFlags: parent.TraceFlags(), TraceState: parent.TraceState()}
	if !parent.IsValid() {
		cfg.TraceID, cfg.TraceFlags = traceID(), trace.FlagsSampled
	}
	s := offSpan{sc: trace.NewSpanContext(cfg)}
	return trace.ContextWithSpan(ctx, s), s
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

func (offSpan) End(...trace.SpanEndOption)              {}
func (offSpan) AddEvent(string, ...trace.EventOption)   {}
func (offSpan) AddLink(trace.Link)                      {}
func (offSpan) IsRecording() bool                       { return false }
func (offSpan) RecordError(error, ...trace.EventOption) {}
func (s offSpan) SpanContext() trace.SpanContext        { return s.sc }
func (offSpan) SetStatus(codes.Code, string)            {}
func (offSpan) SetName(string)                          {}
func (offSpan) SetAttributes(...attribute.KeyValue)     {}
func (offSpan) TracerProvider() trace.TracerProvider    { return Off }
