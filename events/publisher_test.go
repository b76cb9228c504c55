package events_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
)

// fakeBroker is an httptest.Server standing in for a Knative Broker: it records each request
// and answers with status.
type fakeBroker struct {
	*httptest.Server
	mu       sync.Mutex
	requests []capturedRequest
}

type capturedRequest struct {
	method string
	header http.Header
	body   []byte
}

func newBroker(t *testing.T, status int) *fakeBroker {
	t.Helper()
	b := &fakeBroker{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.requests = append(b.requests, capturedRequest{r.Method, r.Header.Clone(), body})
		b.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *fakeBroker) received() []capturedRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]capturedRequest(nil), b.requests...)
}

func TestHTTPPublisherSendsBinaryMode(t *testing.T) {
	t.Parallel()
	broker := newBroker(t, http.StatusAccepted)
	p, err := events.NewHTTPPublisher(broker.URL, nil)
	require.NoError(t, err)
	e := newChange(t, "v-7", 3)

	require.NoError(t, p.Publish(context.Background(), e))

	got := broker.received()
	require.Len(t, got, 1)
	req := got[0]
	assert.Equal(t, http.MethodPost, req.method)
	for header, want := range map[string]string{
		"Ce-Specversion":  "1.0",
		"Ce-Id":           e.ID(),
		"Ce-Type":         events.VehicleUpdated,
		"Ce-Source":       source,
		"Ce-Subject":      "v-7",
		"Ce-Partitionkey": "v-7",
		"Content-Type":    "application/json",
	} {
		assert.Equalf(t, want, req.header.Get(header), "header %s", header)
	}
	at, err := time.Parse(time.RFC3339Nano, req.header.Get("Ce-Time"))
	require.NoError(t, err)
	assert.WithinDuration(t, e.Time(), at, time.Microsecond)
	assert.JSONEq(t, `{"vehicleId":"v-7","version":3,"category":"","locationCode":"","status":"available","licensePlate":""}`, string(req.body), "the data alone is the body")
}

func TestHTTPPublisherStatuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status  int
		wantErr bool
	}{
		{http.StatusOK, false},
		{http.StatusAccepted, false},
		{http.StatusNoContent, false},
		{http.StatusBadRequest, true},
		{http.StatusNotFound, true},
		{http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true},
		{http.StatusServiceUnavailable, true},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			broker := newBroker(t, tc.status)
			p, err := events.NewHTTPPublisher(broker.URL, nil)
			require.NoError(t, err)
			e := newChange(t, "v-1", 1)
			err = p.Publish(context.Background(), e)
			if !tc.wantErr {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), strconv.Itoa(tc.status), "the error names the status")
			assert.Contains(t, err.Error(), e.ID())
			assert.Len(t, broker.received(), 1, "no retries inside Publish: the relay retries with backoff")
		})
	}
}

func TestHTTPPublisherUnreachableSink(t *testing.T) {
	t.Parallel()
	gone := httptest.NewServer(http.NotFoundHandler())
	url := gone.URL
	gone.Close()
	p, err := events.NewHTTPPublisher(url, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = p.Publish(ctx, newChange(t, "v-1", 1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), url)
}

func TestHTTPPublisherUsesTheGivenClient(t *testing.T) {
	t.Parallel()
	broker := newBroker(t, http.StatusAccepted)
	var calls atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	p, err := events.NewHTTPPublisher(broker.URL, hc)
	require.NoError(t, err)
	require.NoError(t, p.Publish(context.Background(), newChange(t, "v-1", 1)))
	assert.Equal(t, int32(1), calls.Load())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHTTPPublisherNeedsASink(t *testing.T) {
	t.Parallel()
	p, err := events.NewHTTPPublisher("", nil)
	require.Error(t, err)
	assert.Nil(t, p)
	assert.Contains(t, err.Error(), "K_SINK")
}

// TestRelayThroughHTTPPublisher: the relay's real path to a Knative Broker — a refusing
// broker leaves the event pending, an accepting one gets it in binary mode.
func TestRelayThroughHTTPPublisher(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	var got []string
	var mu sync.Mutex
	broker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Ce-Id"))
		mu.Unlock()
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(broker.Close)
	p, err := events.NewHTTPPublisher(broker.URL, nil)
	require.NoError(t, err)
	e := change(t, db, "v-1", 1)
	r := relay(db, p)

	_, err = r.Drain(context.Background())
	require.NoError(t, err)
	s := stateOf(t, db, e.ID())
	assert.False(t, s.published)
	require.NotNil(t, s.lastError)
	assert.Contains(t, *s.lastError, "503")

	status.Store(http.StatusAccepted)
	expireBackoff(t, db)
	_, err = r.Drain(context.Background())
	require.NoError(t, err)
	assert.True(t, stateOf(t, db, e.ID()).published)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{e.ID(), e.ID()}, got)
}
