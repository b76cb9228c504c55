package broker_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform"
)

const pingYAML = `apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: expire-holds
  namespace: orange
spec:
  schedule: "*/5 * * * *"
  contentType: application/json
  data: '{"job":"expire-holds"}'
  sink:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: cleanup-worker
    uri: /cloudevents
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: monthly-report
  namespace: orange
spec:
  schedule: "0 6 1 * *"
  timezone: Europe/Berlin
  contentType: text/plain
  dataBase64: aGVsbG8=
  ceOverrides:
    extensions:
      job: monthly
  sink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: default
`

func TestLoadPingSources(t *testing.T) {
	t.Parallel()
	got, err := broker.LoadPingSources(fstest.MapFS{"m/ping.yaml": {Data: []byte(pingYAML)}, "m/broker.yaml": {Data: []byte(brokerYAML)}}, "m")
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, broker.PingSource{
		Name: "expire-holds", Namespace: "orange", File: "m/ping.yaml", Schedule: "*/5 * * * *",
		ContentType: "application/json", Data: `{"job":"expire-holds"}`,
		Sink: broker.Destination{Namespace: "orange", Service: "cleanup-worker", Path: "/cloudevents"},
	}, got[0])
	assert.Equal(t, broker.PingSource{
		Name: "monthly-report", Namespace: "orange", File: "m/ping.yaml", Schedule: "0 6 1 * *", Timezone: "Europe/Berlin",
		ContentType: "text/plain", DataBase64: "aGVsbG8=", Extensions: map[string]string{"job": "monthly"},
		Sink: broker.Destination{Namespace: "orange", Broker: "default"},
	}, got[1])

	head := "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {name: bad, namespace: orange}\nspec:\n"
	sink := "  sink:\n    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: w}\n"
	for _, tc := range []struct{ name, spec, want string }{
		{"bad schedule", "  schedule: \"61 * * * *\"\n" + sink, "spec.schedule"},
		{"@every", "  schedule: \"@every 1m\"\n" + sink, "@every is not supported"},
		{"bad timezone", "  timezone: Mars/Olympus\n" + sink, `spec.timezone "Mars/Olympus"`},
		{"data and dataBase64", "  data: x\n  dataBase64: eA==\n" + sink, "set data or dataBase64, not both"},
		{"bad base64", "  dataBase64: '%%%'\n" + sink, "spec.dataBase64"},
		{"JSON that is not an object", "  contentType: application/json\n  data: '[1]'\n" + sink, "not a JSON object"},
		{"no sink", "  schedule: \"* * * * *\"\n", "spec.sink.ref is not set"},
		{"sink not reachable", "  sink:\n    ref: {apiVersion: v1, kind: Service, name: w}\n", "spec.sink.ref is v1 Service"},
		{"bad extension name", "  ceOverrides:\n    extensions: {Job: x}\n" + sink, "spec.ceOverrides.extensions.Job"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := broker.LoadPingSources(fstest.MapFS{"m/p.yaml": {Data: []byte(head + tc.spec)}}, "m")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "m/p.yaml: PingSource orange/bad: ")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestPingScheduleHonoursTimezone(t *testing.T) {
	t.Parallel()
	berlin := broker.PingSource{Schedule: "0 9 * * *", Timezone: "Europe/Berlin"}
	utc := broker.PingSource{Schedule: "0 9 * * *"}
	for _, tc := range []struct {
		p          broker.PingSource
		from, want time.Time
	}{
		// Winter (CET, UTC+1), then the night the clocks go forward (CEST, UTC+2).
		{berlin, time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC), time.Date(2026, 1, 11, 8, 0, 0, 0, time.UTC)},
		{berlin, time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC)},
		// No time zone: UTC, the zone of Knative's ping adapter, whatever the local zone.
		{utc, time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 9, 0, 0, 0, time.UTC)},
		// Seconds are optional, as in Knative's parser.
		{broker.PingSource{Schedule: "30 0 9 * * *"}, time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 9, 0, 30, 0, time.UTC)},
		{broker.PingSource{Schedule: "@hourly", Timezone: "Asia/Kolkata"}, time.Date(2026, 3, 28, 12, 10, 0, 0, time.UTC), time.Date(2026, 3, 28, 12, 30, 0, 0, time.UTC)},
	} {
		got, err := tc.p.Next(tc.from)
		require.NoError(t, err)
		assert.True(t, tc.want.Equal(got), "%s %s after %s: got %s, want %s", tc.p.Schedule, tc.p.Timezone, tc.from, got, tc.want)
	}
}

func TestPingEventIsWhatTheClusterSends(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		p    broker.PingSource
		data string
		ct   string
	}{
		{"data", broker.PingSource{Name: "expire-holds", Namespace: "orange", ContentType: "application/json", Data: `{"job":"x"}`}, `{"job":"x"}`, "application/json"},
		{"dataBase64", broker.PingSource{Name: "blob", Namespace: "orange", ContentType: "application/octet-stream", DataBase64: base64.StdEncoding.EncodeToString([]byte{0, 1, 2})}, "\x00\x01\x02", "application/octet-stream"},
		{"no data", broker.PingSource{Name: "tick", Namespace: "orange", Extensions: map[string]string{"job": "tick"}}, "", ""},
	} {
		e, err := tc.p.Event("id-1", at)
		require.NoError(t, err, tc.name)
		assert.Equal(t, sourcesv1.PingSourceEventType, e.Type(), tc.name)
		assert.Equal(t, events.Ping, e.Type(), tc.name)
		assert.Equal(t, sourcesv1.PingSourceSource(tc.p.Namespace, tc.p.Name), e.Source(), tc.name)
		assert.Equal(t, "1.0", e.SpecVersion())
		assert.Equal(t, "id-1", e.ID())
		assert.True(t, at.Equal(e.Time()))
		assert.Equal(t, tc.data, string(e.Data()), tc.name)
		assert.Equal(t, tc.ct, e.DataContentType(), tc.name)
		for k, v := range tc.p.Extensions {
			assert.Equal(t, v, e.Extensions()[k])
		}
	}
}

// TestRunPingSourcesFires drives a every-second schedule: one source to a Service through
// the in-process transport, one to the Broker (a Trigger on the ping type delivers it).
func TestRunPingSourcesFires(t *testing.T) {
	t.Parallel()
	direct := &recorder{}
	viaBroker := &recorder{}
	tr := platform.NewTransport(nil, nil)
	tr.Mount("cleanup-worker", direct)
	tr.Mount("report-worker", viaBroker)
	deliver := broker.HTTPDeliverer(tr, nil)
	pingTrigger := trigger("report-ping", events.Ping, "report-worker", 0, "")
	pingTrigger.Filter = map[string]string{"type": events.Ping, "source": sourcesv1.PingSourceSource("orange", "report")}
	b := broker.New([]broker.Trigger{pingTrigger}, deliver, broker.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = b.Run(ctx) })

	sources := []broker.PingSource{
		{Name: "expire-holds", Namespace: "orange", Schedule: "* * * * * *", ContentType: "application/json", Data: `{"job":"expire"}`,
			Sink: broker.Destination{Namespace: "orange", Service: "cleanup-worker", Path: events.ReceivePath}},
		{Name: "report", Namespace: "orange", Schedule: "* * * * * *", Timezone: "Europe/Berlin",
			Sink: broker.Destination{Namespace: "orange", Broker: "default"}},
	}
	done := make(chan error, 1)
	go func() { done <- broker.RunPingSources(ctx, sources, broker.Sender(b, deliver), nil) }()

	require.Eventually(t, func() bool { return len(direct.got()) >= 2 && len(viaBroker.got()) >= 1 }, 4*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	wg.Wait()

	got := direct.got()
	assert.NotEqual(t, got[0].ID(), got[1].ID(), "a fresh id per fire")
	for _, e := range got {
		assert.Equal(t, events.Ping, e.Type())
		assert.Equal(t, "/apis/v1/namespaces/orange/pingsources/expire-holds", e.Source())
		assert.JSONEq(t, `{"job":"expire"}`, string(e.Data()))
		assert.Equal(t, "application/json", e.DataContentType())
		assert.WithinDuration(t, time.Now(), e.Time(), 5*time.Second)
		assert.Less(t, e.Time().Nanosecond(), int(500*time.Millisecond), "fired on a whole second: %s", e.Time())
	}
	assert.Equal(t, "/apis/v1/namespaces/orange/pingsources/report", viaBroker.got()[0].Source())
}

func TestPingSendIsRetriedLikeTheAdapter(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var attempts []time.Time
	send := func(_ context.Context, _ broker.Destination, e cloudevents.Event) error {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, time.Now())
		if len(attempts) < 3 {
			return &broker.ResponseError{Status: http.StatusServiceUnavailable}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := []broker.PingSource{{Name: "p", Namespace: "orange", Schedule: "* * * * * *", Sink: broker.Destination{Service: "w"}}}
	go func() { _ = broker.RunPingSources(ctx, src, send, nil) }()
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(attempts) >= 3 }, 4*time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	// sdk-go's exponential backoff from 50 ms: 100 ms, then 200 ms.
	assert.GreaterOrEqual(t, attempts[1].Sub(attempts[0]), 100*time.Millisecond)
	assert.GreaterOrEqual(t, attempts[2].Sub(attempts[1]), 200*time.Millisecond)
}
