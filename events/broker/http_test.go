package broker_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

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
		`orange_broker_queue_depth{trigger="orange/t",broker="default"} 0`,
		"# TYPE orange_broker_dead_lettered_total counter",
		`orange_broker_dead_lettered_total{trigger="orange/t",broker="default"} 1`,
		`orange_broker_delivered_total{trigger="orange/t",broker="default"} 0`,
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
