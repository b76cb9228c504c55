package broker_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/tracing"
)

// TestDeliverySpans: each delivery attempt is a span of the broker's, a child of the event's
// traceparent; the subscriber's server span continues it (through the transport's client
// span); the event itself reaches every attempt unchanged.
func TestDeliverySpans(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(exp), nil)
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	sub := &recorder{respond: func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}}
	tg := trigger("payments-on-created", events.ReservationCreated, "payments-api", 1, "")
	b := start(t, []broker.Trigger{tg}, broker.Options{Tracer: tr.Provider("broker")},
		map[string]http.Handler{"payments-api": platform.Traced(tr.Provider("payments-api"), sub)})
	e := event(events.ReservationCreated)
	e.SetExtension("traceparent", parent)
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), e))
	require.Len(t, sub.got(), 2)
	for _, got := range sub.got() {
		assert.Equal(t, parent, extension(t, got, "traceparent"), "the event is delivered as published")
	}

	var deliveries, servers []tracetest.SpanStub
	byID := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byID[s.SpanContext.SpanID().String()] = s
		switch s.Name {
		case "deliver payments-on-created":
			deliveries = append(deliveries, s)
		case "POST":
			if serviceName(s) == "payments-api" {
				servers = append(servers, s)
			}
		}
	}
	require.Len(t, deliveries, 2, "one span per attempt")
	require.Len(t, servers, 2)
	for _, d := range deliveries {
		assert.Equal(t, "broker", serviceName(d))
		assert.Equal(t, "b7ad6b7169203331", d.Parent.SpanID().String())
		assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", d.SpanContext.TraceID().String())
	}
	assert.Equal(t, "Error", deliveries[0].Status.Code.String(), "the 503 attempt failed")
	for _, s := range servers {
		client, ok := byID[s.Parent.SpanID().String()]
		require.True(t, ok, "the subscriber's span has a parent in the trace")
		delivery, ok := byID[client.Parent.SpanID().String()]
		require.True(t, ok)
		assert.Equal(t, "deliver payments-on-created", delivery.Name)
	}
}

func serviceName(s tracetest.SpanStub) string {
	for _, a := range s.Resource.Attributes() {
		if a.Key == "service.name" {
			return a.Value.AsString()
		}
	}
	return ""
}
