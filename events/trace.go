package events

import (
	"context"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/extensions"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/orangecarrental/orange/platform/tracing"
)

// Traces cross the event hop through the CloudEvents distributed-tracing extension
// (traceparent, tracestate; sdk-go's extensions.DistributedTracingExtension). An event
// records the span that made it when it is written to the outbox, in the same transaction;
// the relay's publish span is a child of that and the event leaves with the publish span as
// its traceparent; the broker's delivery and the consumer continue from there
// (docs/tracing.md).

// TraceOf returns the distributed-tracing extension of e when it holds a valid traceparent,
// else the trace context of the span in ctx (empty when there is neither).
func TraceOf(ctx context.Context, e cloudevents.Event) extensions.DistributedTracingExtension {
	if ext, ok := extensions.GetDistributedTracingExtension(e); ok &&
		trace.SpanContextFromContext(tracing.WithRemoteParent(context.Background(), ext.TraceParent, ext.TraceState)).IsValid() {
		return ext
	}
	tp, ts := tracing.Traceparent(ctx)
	return extensions.DistributedTracingExtension{TraceParent: tp, TraceState: ts}
}

// SetTrace puts the trace context of the span in ctx on e as its distributed-tracing
// extension, replacing any it had (tracestate removed when the span has none).
func SetTrace(ctx context.Context, e *cloudevents.Event) {
	tp, ts := tracing.Traceparent(ctx)
	if tp == "" {
		return
	}
	e.SetExtension(extensions.TraceParentExtension, tp)
	if ts == "" {
		e.SetExtension(extensions.TraceStateExtension, nil)
		return
	}
	e.SetExtension(extensions.TraceStateExtension, ts)
}

// WithEventParent returns ctx with e's traceparent as its remote parent span (ctx unchanged
// when e carries none).
func WithEventParent(ctx context.Context, e cloudevents.Event) context.Context {
	ext, ok := extensions.GetDistributedTracingExtension(e)
	if !ok {
		return ctx
	}
	return tracing.WithRemoteParent(ctx, ext.TraceParent, ext.TraceState)
}

// EventAttributes are what a span says about an event: its id, type and source (never its
// subject or data).
func EventAttributes(e cloudevents.Event) []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.CloudEventsEventID(e.ID()), semconv.CloudEventsEventType(e.Type()), semconv.CloudEventsEventSource(e.Source()),
	}
}

// startProcess starts the consumer span of a delivered event. Its parent is the span the
// delivery arrived in (the function's server span) when that continues the event's trace —
// the in-process broker's and a tracing Knative Broker's deliveries do — else the event's
// own traceparent, with the delivery's span as a link: the event's context is the one that
// survives queueing, retries, dead letters and replays, so the trace stays whole even when
// the broker in between does not propagate.
func startProcess(ctx context.Context, e cloudevents.Event) (context.Context, trace.Span) {
	tp := trace.SpanFromContext(ctx).TracerProvider()
	cur := trace.SpanContextFromContext(ctx)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
	if parent := trace.SpanContextFromContext(WithEventParent(context.Background(), e)); parent.IsValid() && parent.TraceID() != cur.TraceID() {
		if cur.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: cur}))
		}
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	ctx, span := tp.Tracer(tracing.Scope).Start(ctx, "process "+e.Type(), opts...)
	if span.IsRecording() {
		span.SetAttributes(append(EventAttributes(e), semconv.MessagingOperationTypeProcess)...)
	}
	return ctx, span
}

// endSpan marks span failed when err is not nil, and ends it.
func endSpan(span trace.Span, err error, what string) {
	if err != nil {
		markFailed(span, what)
	}
	span.End()
}

// markFailed gives span an error status saying what failed (never the error's text, which
// may quote data).
func markFailed(span trace.Span, what string) {
	if span.IsRecording() {
		span.SetStatus(codes.Error, what)
	}
}

// markDuplicate notes on the consumer span that the inbox already held the event: a
// redelivery, answered without effect.
func markDuplicate(span trace.Span) {
	if span.IsRecording() {
		span.SetAttributes(attribute.Bool("orange.event.duplicate", true))
	}
}
