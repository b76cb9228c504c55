package broker_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
)

func TestDevAndMetricsHandlers(t *testing.T) {
	t.Parallel()
	sub := &recorder{respond: func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) }}
	tg := trigger("t", events.CustomerRegistered, "worker", 0, "dead-letter")
	b := start(t, []broker.Trigger{tg}, broker.Options{}, map[string]http.Handler{"worker": sub, "dead-letter": &recorder{}})
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.CustomerRegistered)))

	rec := httptest.NewRecorder()
	b.DevHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/broker", nil))
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Body.String(), `"trigger":"orange/t"`)
	assert.Contains(t, rec.Body.String(), `"deadLettered":1`)
	assert.Contains(t, rec.Body.String(), `"outcome":"dead-lettered to dead-letter/cloudevents"`)

	rec = httptest.NewRecorder()
	b.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4"))
	for _, line := range []string{
		"# TYPE orange_broker_queue_depth gauge",
		`orange_broker_queue_depth{broker="default",trigger="orange/t"} 0`,
		"# TYPE orange_broker_dead_lettered_total counter",
		`orange_broker_dead_lettered_total{broker="default",trigger="orange/t"} 1`,
		`orange_broker_delivered_total{broker="default",trigger="orange/t"} 0`,
		"# TYPE orange_broker_delivery_lag_seconds histogram",
		`orange_broker_delivery_lag_seconds_count{broker="default",trigger="orange/t"} 0`,
	} {
		assert.Contains(t, rec.Body.String(), line+"\n")
	}
}

func TestHTTPDelivererSendsBinaryModeLikeKnative(t *testing.T) {
	t.Parallel()
	var got http.Header
	var mu sync.Mutex
	sub := &recorder{respond: func(_ int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}}
	b := start(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 0, "")}, broker.Options{},
		map[string]http.Handler{"worker": sub})
	e := event(events.CustomerRegistered)
	e.SetExtension("partitionkey", "c-1")
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), e))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, e.ID(), got.Get("Ce-Id"), "binary mode: attributes in ce- headers")
	assert.Equal(t, "c-1", got.Get("Ce-Partitionkey"))
	assert.Equal(t, "application/json", got.Get("Content-Type"))
	assert.Equal(t, "reply", got.Get("Prefer"))
	assert.Equal(t, "orange", got.Get("Kn-Namespace"))
	require.Len(t, sub.got(), 1)
	assert.JSONEq(t, string(e.Data()), string(sub.got()[0].Data()))
}

// TestCollectorCountsAndLints delivers one event and finds it in the Trigger's series —
// delivered once, its lag observed once — and holds every broker series to promlint.
func TestCollectorCountsAndLints(t *testing.T) {
	t.Parallel()
	tg := trigger("t", events.CustomerRegistered, "worker", 0, "")
	b := start(t, []broker.Trigger{tg}, broker.Options{}, map[string]http.Handler{"worker": &recorder{}})
	e := event(events.CustomerRegistered)
	e.SetTime(time.Now().Add(-2 * time.Second)) // recorded in the outbox two seconds ago
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), e))
	require.Eventually(t, func() bool { return b.Stats()[0].Delivered == 1 }, 5*time.Second, 10*time.Millisecond)

	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Collector())
	mfs, err := reg.Gather()
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
	var lag, delivered bool
	for _, mf := range mfs {
		switch mf.GetName() {
		case "orange_broker_delivery_lag_seconds":
			h := mf.Metric[0].GetHistogram()
			assert.Equal(t, uint64(1), h.GetSampleCount())
			assert.InDelta(t, 2.0, h.GetSampleSum(), 1.5, "the lag counts from the event's time")
			lag = true
		case "orange_broker_delivered_total":
			assert.Equal(t, 1.0, mf.Metric[0].GetCounter().GetValue())
			delivered = true
		}
	}
	assert.True(t, lag && delivered, "both families are exposed")
}
