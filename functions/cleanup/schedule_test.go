package cleanup_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/functions/cleanup"
	"github.com/orangecarrental/orange/knative"
)

// TestTheManifestsPingIsANightlyRun reads the PingSource as `orange dev` fires it from
// knative/base: 03:30 Berlin time, summer and winter, sent to cleanup-worker's receiver
// with the function's audience; the very event it builds is a nightly run, claimed for the
// Berlin date of its time.
func TestTheManifestsPingIsANightlyRun(t *testing.T) {
	t.Parallel()
	sources, err := broker.LoadPingSources(knative.Manifests, "base")
	require.NoError(t, err)
	var p *broker.PingSource
	for i := range sources {
		if sources[i].Name == cleanup.PingSourceName {
			p = &sources[i]
		}
	}
	require.NotNil(t, p, "knative/base has no PingSource %s", cleanup.PingSourceName)
	assert.Equal(t, cleanup.ServiceName, p.Sink.Service)
	assert.Equal(t, events.ReceivePath, p.Sink.Path)
	assert.Equal(t, "serving.knative.dev/service/orange/"+cleanup.ServiceName, p.Sink.Audience)
	for from, want := range map[string]string{
		"2026-03-28T12:00:00Z": "2026-03-29T01:30:00Z", // the night the clocks go forward: 03:30 CEST
		"2026-10-24T12:00:00Z": "2026-10-25T02:30:00Z", // the night they go back: 03:30 CET
		"2026-12-03T02:29:59Z": "2026-12-03T02:30:00Z",
	} {
		f, _ := time.Parse(time.RFC3339, from)
		next, err := p.Next(f)
		require.NoError(t, err)
		assert.Equal(t, want, next.UTC().Format(time.RFC3339), "after %s", from)
	}

	w := newWorld(t)
	h := w.replica(cleanup.Config{})
	at := w.now
	e, err := p.Event("scheduled-1", at)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, events.ReceivePath, nil)
	require.NoError(t, cehttp.WriteRequest(binding.WithForceBinary(context.Background()), binding.ToMessage(&e), req))
	req.Header.Set("Authorization", w.id.DeliveryBearer(t, nightly, cleanup.ServiceName))
	r := serve(h, req)
	require.Equal(t, http.StatusOK, r.status, r.String())
	out := decode[cleanup.Outcome](t, r)
	require.NotNil(t, out.Run, r.String())
	assert.Equal(t, cleanup.TriggerPing, out.Run.Trigger)
	require.NotNil(t, out.Run.Night)
	assert.Equal(t, at.In(berlin(t)).Format(time.DateOnly), *out.Run.Night)
}
