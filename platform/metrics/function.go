package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Function is one function's series. Its methods are safe on a nil *Function (they record
// nothing), so code that runs outside a host — a unit test's handler — needs no registry.
type Function struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec

	events   *prometheus.CounterVec
	replays  prometheus.Counter
	calls    *prometheus.CounterVec
	callTime *prometheus.HistogramVec
	messages *prometheus.CounterVec
}

// durationBuckets reach down to a millisecond: most requests here never leave the process
// or the database.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newFunction(reg prometheus.Registerer) *Function {
	f := &Function{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by route template, method and status code."}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help: "Time from a request's arrival to its handler's return, by route template and method.", Buckets: durationBuckets},
			[]string{"route", "method"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "http", Name: "requests_in_flight",
			Help: "Requests being handled now, by route template."}, []string{"route"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "events", Name: "received_total",
			Help: "CloudEvents delivered to the function, by type and outcome: processed, duplicate (already in the inbox), refused (4xx, never retried), failed (5xx, retried)."},
			[]string{"type", "outcome"}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "idempotency", Name: "replays_total",
			Help: "Requests answered with the stored response of an earlier request with the same Idempotency-Key."}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "payment_provider", Name: "calls_total",
			Help: "Calls to the payment provider, by provider, operation and outcome: ok, declined, refused, unavailable, error."},
			[]string{"provider", "operation", "outcome"}),
		callTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "payment_provider", Name: "call_duration_seconds",
			Help: "Duration of calls to the payment provider, by provider and operation.", Buckets: durationBuckets},
			[]string{"provider", "operation"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "notifications", Name: "sent_total",
			Help: "Attempts to send a notification, by channel (email, sms) and outcome: sent, retry (tried again later), failed (given up)."},
			[]string{"channel", "outcome"}),
	}
	reg.MustRegister(f.requests, f.duration, f.inFlight, f.events, f.replays, f.calls, f.callTime, f.messages)
	return f
}

// Event outcomes.
const (
	EventProcessed = "processed"
	EventDuplicate = "duplicate"
	EventRefused   = "refused"
	EventFailed    = "failed"
)

// EventReceived counts one delivery of an event of type eventType (a catalogued type, or
// "other": the caller bounds it) with its outcome.
func (f *Function) EventReceived(eventType, outcome string) {
	if f != nil {
		f.events.WithLabelValues(eventType, outcome).Inc()
	}
}

// IdempotencyReplay counts one response replayed from a stored Idempotency-Key.
func (f *Function) IdempotencyReplay() {
	if f != nil {
		f.replays.Inc()
	}
}

// ProviderCall records one call to the payment provider.
func (f *Function) ProviderCall(provider, operation, outcome string, took time.Duration) {
	if f != nil {
		f.calls.WithLabelValues(provider, operation, outcome).Inc()
		f.callTime.WithLabelValues(provider, operation).Observe(took.Seconds())
	}
}

// Notification outcomes.
const (
	MessageSent   = "sent"
	MessageRetry  = "retry"
	MessageFailed = "failed"
)

// NotificationSent records one attempt to send a notification on channel.
func (f *Function) NotificationSent(channel, outcome string) {
	if f != nil {
		f.messages.WithLabelValues(channel, outcome).Inc()
	}
}

type functionKey struct{}

// With returns ctx carrying f: the host puts each function's bundle into the contexts of its
// requests, its constructor and its background work, as it puts the logger there.
func With(ctx context.Context, f *Function) context.Context {
	return context.WithValue(ctx, functionKey{}, f)
}

// From returns the bundle of the function ctx belongs to, or nil (records nothing).
func From(ctx context.Context) *Function {
	f, _ := ctx.Value(functionKey{}).(*Function)
	return f
}
