package all_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/platform/tracing"
)

// TestOneBookingOneTrace is issue 17's tracing acceptance: `orange dev` in this process with
// an in-memory span exporter; one guest booking through the gateway, sent with a
// traceparent, makes one trace that runs from the gateway through reservations-api, the
// outbox relay's publish, the broker's delivery and payments-api's consumer, on to
// reservations-api's payment.authorized consumer and the notifier's confirmation — every
// span's parent in the trace, every hop named by its function. No span attribute holds the
// guest's personal data.
func TestOneBookingOneTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system")
	}
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(exp), nil)
	d := startDev(t, func(env *host.Env) { env.Tracing = tr })

	var method struct{ ID string }
	require.Equal(t, http.StatusCreated, d.call(http.MethodPost, "/api/payments/methods", "",
		`{"card":{"number":"4242424242424242","expMonth":12,"expYear":2031,"cvc":"123","holder":"Tilda Spurweg"}}`, &method))
	const (
		email    = "tilda.spurweg@example.org"
		traceHex = "5ca1ab1e0ddba11d5ca1ab1e0ddba11d"
		clientID = "c1e9700000000001"
	)
	pickup := time.Now().Add(12 * 24 * time.Hour).UTC().Truncate(time.Hour)
	booking := fmt.Sprintf(`{"customer":{"firstName":"Tilda","lastName":"Spurweg","email":%q,"phone":"+49 40 5550199","dateOfBirth":"1979-11-02",
		"address":{"street":"Elbchaussee 7","postalCode":"22763","city":"Hamburg"},
		"licence":{"number":"T7R5C3E1","issuingCountry":"DE","issueDate":"2001-04-01","expiryDate":"2036-04-01"}},
		"vehicleId":"f1ee0000-0000-4000-8000-000000000003","pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"paymentMethodId":%q}`,
		email, pickup.Format(time.RFC3339), pickup.Add(72*time.Hour).Format(time.RFC3339), method.ID)
	var res struct{ ID string }
	require.Equal(t, http.StatusCreated, d.call(http.MethodPost, "/api/reservations/guest", "", booking, &res,
		"Idempotency-Key", "tracing-acceptance-1", "Traceparent", "00-"+traceHex+"-"+clientID+"-01"))
	lookup := "/api/reservations/lookup?id=" + res.ID + "&email=" + url.QueryEscape(email)
	d.eventually(20*time.Second, "the booking confirmed", func() bool {
		var got struct{ Status string }
		return d.call(http.MethodGet, lookup, "", "", &got) == http.StatusOK && got.Status == "confirmed"
	})

	// The trace is complete when the notifier has processed the confirmation.
	inTrace := func() map[trace.SpanID]tracetest.SpanStub {
		out := map[trace.SpanID]tracetest.SpanStub{}
		for _, s := range exp.GetSpans() {
			if s.SpanContext.TraceID().String() == traceHex {
				out[s.SpanContext.SpanID()] = s
			}
		}
		return out
	}
	find := func(spans map[trace.SpanID]tracetest.SpanStub, service, name string) (tracetest.SpanStub, bool) {
		for _, s := range spans {
			if spanService(s) == service && s.Name == name {
				return s, true
			}
		}
		return tracetest.SpanStub{}, false
	}
	d.eventually(20*time.Second, "the notifier's span of reservation.confirmed", func() bool {
		_, ok := find(inTrace(), "notification-worker", "process "+events.ReservationConfirmed)
		return ok
	})
	// A span is exported when it ends, and a parent ends after its child (the broker's
	// delivery after the receiver's answer): wait until the parents of the spans seen so far
	// are in too, or a delivery still finishing reads as a missing parent.
	var spans map[trace.SpanID]tracetest.SpanStub
	d.eventually(10*time.Second, "every span's parent exported", func() bool {
		spans = inTrace()
		for _, s := range spans {
			if _, ok := spans[s.Parent.SpanID()]; !ok && s.Parent.SpanID().String() != clientID {
				return false
			}
		}
		return true
	})

	// One tree: every span's parent is in the trace, but the client's span the root names.
	for _, s := range spans {
		if s.Parent.SpanID().String() == clientID {
			continue
		}
		_, ok := spans[s.Parent.SpanID()]
		assert.True(t, ok, "span %q of %s has its parent in the trace", s.Name, spanService(s))
	}
	// The hops, each the descendant of the one before.
	hops := []struct{ service, name string }{
		{"api-gateway", "POST /api/reservations/*"},
		{"reservations-api", "POST /api/reservations/guest"},
		{"reservations-api", "publish " + events.ReservationCreated},
		{host.BrokerService, "deliver payments-api-reservation-created"},
		{"payments-api", "POST /cloudevents"},
		{"payments-api", "process " + events.ReservationCreated},
		{"payments-api", "publish " + events.PaymentAuthorized},
		{"reservations-api", "process " + events.PaymentAuthorized},
		{"reservations-api", "publish " + events.ReservationConfirmed},
		{"notification-worker", "process " + events.ReservationConfirmed},
	}
	var previous tracetest.SpanStub
	for i, h := range hops {
		s, ok := find(spans, h.service, h.name)
		if !assert.True(t, ok, "a span %q of %s in the trace; the trace has %s", h.name, h.service, spanNames(spans)) {
			continue
		}
		if i > 0 && previous.Name != "" {
			assert.True(t, descends(spans, s, previous.SpanContext.SpanID()), "%q of %s descends from %q of %s",
				h.name, h.service, previous.Name, spanService(previous))
		}
		previous = s
	}
	gateway, _ := find(spans, "api-gateway", "POST /api/reservations/*")
	assert.Equal(t, clientID, gateway.Parent.SpanID().String(), "the gateway continues the client's traceparent")

	// Nothing personal in any attribute of any span (this trace or any other). The card is
	// looked for by eight of its digits: four are a random id's once in a hundred runs.
	for _, s := range exp.GetSpans() {
		for _, a := range s.Attributes {
			v := strings.ToLower(a.Value.Emit())
			for _, needle := range []string{"tilda", "spurweg", "5550199", "elbchaussee", "t7r5c3e1", "42424242", "1979-11-02"} {
				assert.NotContains(t, v, needle, "span %q attribute %s", s.Name, a.Key)
			}
		}
	}
}

func spanService(s tracetest.SpanStub) string {
	for _, a := range s.Resource.Attributes() {
		if a.Key == "service.name" {
			return a.Value.AsString()
		}
	}
	return ""
}

// descends tells whether s has ancestor among its parents in spans.
func descends(spans map[trace.SpanID]tracetest.SpanStub, s tracetest.SpanStub, ancestor trace.SpanID) bool {
	for i := 0; i < len(spans); i++ {
		if s.Parent.SpanID() == ancestor {
			return true
		}
		parent, ok := spans[s.Parent.SpanID()]
		if !ok {
			return false
		}
		s = parent
	}
	return false
}

func spanNames(spans map[trace.SpanID]tracetest.SpanStub) string {
	var out []string
	for _, s := range spans {
		out = append(out, spanService(s)+": "+s.Name)
	}
	return strings.Join(out, "; ")
}
