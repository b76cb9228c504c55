package broker_test

import (
	"encoding/base64"
	"log/slog"
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

// TestEventDisplayStandsInForTheDeadLetterService: a dead letter reaches the sink with its
// Knative error extensions and is logged — as a pointer (id, type, source, subject, the
// error code), not as a copy: a log cannot be erased, so neither the data nor the
// subscriber's answer quoting it (knativeerrordata) reaches it.
func TestEventDisplayStandsInForTheDeadLetterService(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	var mu sync.Mutex
	h := broker.EventDisplay(slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil)))
	answer := []byte(`{"detail":"email \"Zelda Quist <zelda.quist@example.org>\" is not a mail address"}`)
	sub := &recorder{respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(answer)
	}}
	b := start(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 0, "dead-letter")}, broker.Options{},
		map[string]http.Handler{"worker": sub, "dead-letter": h})
	e := event(events.CustomerRegistered)
	require.NoError(t, e.SetData("application/json", events.Customer{CustomerID: "c-1", Version: 1,
		Email: "Zelda Quist <zelda.quist@example.org>", FirstName: "Zelda", LastName: "Quist", PreferredLanguage: "en"}))
	e.SetSubject("c-1")
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), e))
	assert.Equal(t, int64(1), statsOf(b, "t").DeadLettered)
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, logs.String(), `"msg":"dead letter"`)
	assert.Contains(t, logs.String(), `"id":"`+e.ID()+`"`)
	assert.Contains(t, logs.String(), `"subject":"c-1"`)
	assert.Contains(t, logs.String(), `"ext.knativeerrorcode":"400"`)
	assert.Contains(t, logs.String(), `"ext.knativeerrordest":`)
	for _, personal := range []string{"zelda", "Zelda", "Quist", base64.StdEncoding.EncodeToString(answer)[:24]} {
		assert.NotContains(t, logs.String(), personal)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
