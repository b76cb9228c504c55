package events_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/extensions"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/tracing"
)

func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q among %d", name, len(spans))
	return tracetest.SpanStub{}
}

// TestTraceCrossesTheOutbox: an event recorded inside a span keeps that span's context in
// the outbox (same transaction); the relay's publish span is its child and the published
// event carries the publish span as its traceparent; a publish that fails and is retried
// makes a second publish span under the same parent.
func TestTraceCrossesTheOutbox(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(exp), nil)

	ctx, work := tr.Provider("evtest").Tracer("test").Start(context.Background(), "POST /things")
	e := newChange(t, "v-1", 1)
	require.NoError(t, db.InTx(ctx, func(tx pgx.Tx) error { return events.Record(ctx, tx, producer, e) }))
	work.End()
	var stored string
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT traceparent FROM evtest.outbox WHERE id = $1`, e.ID()).Scan(&stored))
	want, _ := tracing.Traceparent(ctx)
	assert.Equal(t, want, stored, "the outbox row holds the recording span's traceparent")

	pub := &recorder{decide: func(_ context.Context, _ cloudevents.Event, attempt int) error {
		if attempt == 1 {
			return assert.AnError
		}
		return nil
	}}
	r := relay(db, pub)
	r.Tracer = tr.Provider("evtest")
	r.Backoff = time.Millisecond
	_, err := r.Drain(context.Background())
	require.NoError(t, err)
	expireBackoff(t, db)
	_, err = r.Drain(context.Background())
	require.NoError(t, err)
	require.Len(t, pub.accepted(), 1)

	var publishes []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "publish "+events.VehicleUpdated {
			publishes = append(publishes, s)
		}
	}
	require.Len(t, publishes, 2, "one span per publish attempt")
	for _, p := range publishes {
		assert.Equal(t, work.SpanContext().SpanID(), p.Parent.SpanID(), "a child of the span that recorded the event")
		assert.Equal(t, trace.SpanKindProducer, p.SpanKind)
	}
	assert.Equal(t, "Error", publishes[0].Status.Code.String())
	ext, ok := extensions.GetDistributedTracingExtension(pub.accepted()[0])
	require.True(t, ok, "the published event carries the distributed-tracing extension")
	sent := publishes[1].SpanContext
	assert.Equal(t, "00-"+sent.TraceID().String()+"-"+sent.SpanID().String()+"-01", ext.TraceParent)
}

// TestRecordKeepsAnEventsOwnTrace: an event that already carries a valid traceparent (a
// dead letter being replayed) keeps it; one recorded outside any span has none.
func TestRecordKeepsAnEventsOwnTrace(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	const original = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	replayed := newChange(t, "v-1", 1)
	replayed.SetExtension("traceparent", original)
	plain := newChange(t, "v-2", 1)
	ctx, span := tracing.Off.Tracer("test").Start(context.Background(), "replay")
	defer span.End()
	require.NoError(t, db.InTx(ctx, func(tx pgx.Tx) error { return events.RecordReplay(ctx, tx, producer, replayed) }))
	require.NoError(t, db.InTx(context.Background(), func(tx pgx.Tx) error { return events.Record(context.Background(), tx, producer, plain) }))
	var got *string
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT traceparent FROM evtest.outbox WHERE id = $1`, replayed.ID()).Scan(&got))
	require.NotNil(t, got)
	assert.Equal(t, original, *got)
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT traceparent FROM evtest.outbox WHERE id = $1`, plain.ID()).Scan(&got))
	assert.Nil(t, got, "no span, no traceparent")

	junk := newChange(t, "v-3", 1)
	junk.SetExtension("traceparent", "not-a-traceparent")
	require.NoError(t, db.InTx(ctx, func(tx pgx.Tx) error { return events.Record(ctx, tx, producer, junk) }))
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT traceparent FROM evtest.outbox WHERE id = $1`, junk.ID()).Scan(&got))
	require.NotNil(t, got)
	want, _ := tracing.Traceparent(ctx)
	assert.Equal(t, want, *got, "a malformed traceparent gives way to the recording span's")
}

// TestConsumerSpanParent: the consumer span continues the delivery's server span when the
// delivery carries the event's trace, and the event's own traceparent (linking the
// delivery) when it does not.
func TestConsumerSpanParent(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(exp), nil)
	mux := http.NewServeMux()
	mux.Handle("POST "+events.ReceivePath, events.Receiver(db, consumer, applyEffect))
	srv := httptest.NewServer(platform.Traced(tr.Provider("evsink"), mux))
	t.Cleanup(srv.Close)

	const (
		eventTrace  = "0af7651916cd43dd8448eb211c80319c"
		eventParent = "00-" + eventTrace + "-b7ad6b7169203331-01"
	)
	for _, tc := range []struct {
		name, header string
		viaServer    bool
	}{
		{"the broker continued the trace", "00-" + eventTrace + "-00f067aa0ba902b7-01", true},
		{"the broker started its own", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"the broker sent none", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			e := newChange(t, "v-"+tc.name, 1)
			e.SetExtension("traceparent", eventParent)
			req := binaryRequest(t, context.Background(), srv.URL+events.ReceivePath, e)
			if tc.header != "" {
				req.Header.Set("Traceparent", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusAccepted, resp.StatusCode)

			spans := exp.GetSpans()
			process := spanNamed(t, spans, "process "+events.VehicleUpdated)
			server := spanNamed(t, spans, "POST")
			assert.Equal(t, trace.SpanKindConsumer, process.SpanKind)
			assert.Equal(t, eventTrace, process.SpanContext.TraceID().String(), "always in the event's trace")
			if tc.viaServer {
				assert.Equal(t, server.SpanContext.SpanID(), process.Parent.SpanID())
				assert.Empty(t, process.Links)
			} else {
				assert.Equal(t, "b7ad6b7169203331", process.Parent.SpanID().String())
				require.Len(t, process.Links, 1, "the delivery's span is linked")
				assert.Equal(t, server.SpanContext.SpanID(), process.Links[0].SpanContext.SpanID())
			}
		})
	}
}

// TestHTTPPublisherSendsTraceparent: on Knative the relay's publish span also travels as
// the HTTP traceparent header to the Broker, beside the event's own extension.
func TestHTTPPublisherSendsTraceparent(t *testing.T) {
	t.Parallel()
	seen := make(chan http.Header, 1)
	broker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer broker.Close()
	pub, err := events.NewHTTPPublisher(broker.URL, nil)
	require.NoError(t, err)
	ctx, span := tracing.Off.Tracer("test").Start(context.Background(), "publish")
	defer span.End()
	e := newChange(t, "v-1", 1)
	events.SetTrace(ctx, &e)
	require.NoError(t, pub.Publish(ctx, e))
	h := <-seen
	want, _ := tracing.Traceparent(ctx)
	assert.Equal(t, want, h.Get("Traceparent"))
	assert.Equal(t, want, h.Get("Ce-Traceparent"), "the distributed-tracing extension, binary mode")
}
