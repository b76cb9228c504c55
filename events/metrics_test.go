package events_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform/metrics"
)

// TestReceiverCountsOutcomes: each delivery lands in the receiving function's series under
// its type and what became of it; a type outside the catalogue is "other".
func TestReceiverCountsOutcomes(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	reg := metrics.NewRegistry()
	f := reg.Function("evsink")
	handler := func(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
		switch e.Subject() {
		case "poison":
			return nil, events.Permanentf("never")
		case "flaky":
			return nil, errors.New("later")
		}
		return nil, nil
	}
	recv := events.Receiver(db, consumer, handler)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recv.ServeHTTP(w, r.WithContext(metrics.With(r.Context(), f)))
	}))
	t.Cleanup(srv.Close)
	send := func(e cloudevents.Event) int {
		status, err := post(t, httpClient(1), srv.URL, e)
		require.NoError(t, err)
		return status
	}
	ok := newChange(t, "v-1", 1)
	require.Equal(t, http.StatusAccepted, send(ok))
	require.Equal(t, http.StatusOK, send(ok), "a duplicate")
	require.Equal(t, http.StatusBadRequest, send(newChange(t, "poison", 1)))
	require.Equal(t, http.StatusInternalServerError, send(newChange(t, "flaky", 1)))
	stranger := newChange(t, "v-2", 1)
	stranger.SetType("com.example.unheard-of.v1")
	require.Equal(t, http.StatusAccepted, send(stranger))

	want := `
# HELP orange_events_received_total CloudEvents delivered to the function, by type and outcome: processed, duplicate (already in the inbox), refused (4xx, never retried), failed (5xx, retried).
# TYPE orange_events_received_total counter
orange_events_received_total{function="evsink",outcome="duplicate",type="com.orangecarrental.vehicle.updated.v1"} 1
orange_events_received_total{function="evsink",outcome="failed",type="com.orangecarrental.vehicle.updated.v1"} 1
orange_events_received_total{function="evsink",outcome="processed",type="com.orangecarrental.vehicle.updated.v1"} 1
orange_events_received_total{function="evsink",outcome="processed",type="other"} 1
orange_events_received_total{function="evsink",outcome="refused",type="com.orangecarrental.vehicle.updated.v1"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "orange_events_received_total"))
}

// TestOutboxCollector: the backlog and the oldest event's age per schema, read at the
// scrape; a schema without an outbox table is an error of that scrape, not a stop.
func TestOutboxCollector(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	reg := metrics.NewRegistry()
	reg.MustRegister(events.NewOutboxCollector(db, producer, consumer))
	change(t, db, "a", 1)
	change(t, db, "b", 1)
	_, err := db.Pool.Exec(context.Background(), `UPDATE evtest.outbox SET time = now() - interval '90 seconds', attempts = 2 WHERE subject = 'a'`)
	require.NoError(t, err)

	got := outboxGauges(t, reg)
	assert.Equal(t, map[string]float64{producer: 2, consumer: 0}, got["orange_outbox_backlog_events"])
	assert.Equal(t, map[string]float64{producer: 1, consumer: 0}, got["orange_outbox_retrying_events"])
	assert.InDelta(t, 90, got["orange_outbox_oldest_unpublished_age_seconds"][producer], 30)
	assert.Zero(t, got["orange_outbox_oldest_unpublished_age_seconds"][consumer])

	_, err = db.Pool.Exec(context.Background(), `UPDATE evtest.outbox SET published_at = now()`)
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{producer: 0, consumer: 0}, outboxGauges(t, reg)["orange_outbox_backlog_events"], "published: none waits")

	broken := metrics.NewRegistry()
	broken.MustRegister(events.NewOutboxCollector(db, "no_such_schema"))
	_, err = broken.Gather()
	assert.Error(t, err, "the failed schema is reported with the scrape")
}

// outboxGauges reads the outbox gauges of reg by name and schema.
func outboxGauges(t *testing.T, reg *metrics.Registry) map[string]map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "orange_outbox_") {
			continue
		}
		got[mf.GetName()] = map[string]float64{}
		for _, m := range mf.Metric {
			got[mf.GetName()][m.Label[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return got
}
