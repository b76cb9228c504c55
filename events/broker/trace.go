package broker

import (
	"context"
	"strconv"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform/tracing"
)

// startDelivery starts the span of one delivery attempt of e to `to` for r's Trigger: a
// child of the event's traceparent (the relay's publish span), so that the subscriber's
// server span — the transport passes this span on as its traceparent — lands in the trace
// that recorded the event. The event itself is not changed: every attempt, and the dead
// letter, carries the traceparent it was published with.
func (b *Broker) startDelivery(ctx context.Context, r *route, to Destination, e cloudevents.Event, attempt int) (context.Context, trace.Span) {
	tp := b.opts.Tracer
	if tp == nil {
		tp = tracing.Off
	}
	ctx, span := tp.Tracer(tracing.Scope).Start(events.WithEventParent(ctx, e), "deliver "+r.trigger.Name,
		trace.WithSpanKind(trace.SpanKindProducer))
	if span.IsRecording() {
		span.SetAttributes(append(events.EventAttributes(e),
			semconv.MessagingDestinationName(r.trigger.Name),
			attribute.String("orange.broker.destination", to.String()),
			attribute.String("orange.broker.attempt", strconv.Itoa(attempt+1)))...)
	}
	return ctx, span
}

// endDelivery records the subscriber's answer and ends span.
func endDelivery(span trace.Span, status int, err error) {
	if span.IsRecording() {
		if status > 0 {
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		}
		if err != nil || status < 200 || status > 299 {
			span.SetStatus(codes.Error, "not delivered")
		}
	}
	span.End()
}
