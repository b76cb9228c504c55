package up

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetryable(t *testing.T) {
	t.Parallel()
	reset := errors.New("connection reset by peer")
	refused := &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
	tests := []struct {
		method, key string
		err         error
		want        bool
	}{
		{http.MethodGet, "", reset, true},
		{http.MethodPut, "", reset, true},
		{http.MethodDelete, "", reset, true},
		{http.MethodPost, "", reset, false},
		{http.MethodPatch, "", reset, false},
		{http.MethodPost, "k-1", reset, true},
		{http.MethodPost, "", refused, true},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(tc.method, "/", nil)
		if tc.key != "" {
			req.Header.Set("Idempotency-Key", tc.key)
		}
		assert.Equal(t, tc.want, retryable(req, tc.err), "%s key=%q %v", tc.method, tc.key, tc.err)
	}
}

// fakeReplica is a replica served by an httptest server (no process).
func fakeReplica(t *testing.T, id int, h http.HandlerFunc) *replica {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	r := &replica{id: id, exited: make(chan struct{}), addr: strings.TrimPrefix(srv.URL, "http://")}
	r.ready.Store(true)
	return r
}

// deadReplica is ready as far as the proxy knows, but nothing listens on its port.
func deadReplica(t *testing.T, id int) *replica {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	r := &replica{id: id, exited: make(chan struct{}), addr: addr}
	r.ready.Store(true)
	return r
}

func TestProxyRetriesARefusedPOSTOnAnotherReplica(t *testing.T) {
	t.Parallel()
	var got string
	ok := fakeReplica(t, 1, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		w.WriteHeader(http.StatusCreated)
	})
	p := newProxy("svc", func() {}, time.Second)
	for range 20 { // the pick is random: make sure the dead one is tried first sometimes
		dead := deadReplica(t, 2)
		p.setReplicas([]*replica{dead, ok})
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/x", strings.NewReader(`{"a":1}`)))
		require.Equal(t, http.StatusCreated, rec.Code)
		assert.Equal(t, `{"a":1}`, got, "the body is sent again in full")
	}
	assert.Positive(t, p.retries.Load())
	assert.Equal(t, int64(20), ok.served.Load())
	assert.Zero(t, ok.inFlight.Load())
}

func TestProxyHoldsUntilAReplicaIsReady(t *testing.T) {
	t.Parallel()
	r := fakeReplica(t, 1, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	r.ready.Store(false)
	poked := make(chan struct{}, 1)
	var p *proxy
	p = newProxy("svc", func() {
		select {
		case poked <- struct{}{}:
		default:
		}
	}, 5*time.Second)
	p.setReplicas([]*replica{r})
	go func() {
		<-poked // the scaler starts a replica; it becomes ready a little later
		time.Sleep(100 * time.Millisecond)
		r.ready.Store(true)
		p.readied()
	}()
	rec := httptest.NewRecorder()
	start := time.Now()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)

	// With nothing ever ready the request ends with 503 and Retry-After at the hold limit.
	p2 := newProxy("svc", func() {}, 100*time.Millisecond)
	rec = httptest.NewRecorder()
	p2.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
}

func TestProxyPrefersTheLessBusyReplica(t *testing.T) {
	t.Parallel()
	busy := fakeReplica(t, 1, func(w http.ResponseWriter, _ *http.Request) {})
	idle := fakeReplica(t, 2, func(w http.ResponseWriter, _ *http.Request) {})
	busy.inFlight.Store(50)
	p := newProxy("svc", func() {}, time.Second)
	p.setReplicas([]*replica{busy, idle})
	for range 50 {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		require.Equal(t, http.StatusOK, rec.Code)
	}
	assert.Equal(t, int64(50), idle.served.Load(), "of two, the one with fewer in flight")
}

func TestConcurrencyIsTheTimeAverage(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	c := concurrency{clock: func() time.Time { return now }}
	c.take()
	c.add(4) // 4 in flight for the first half second,
	now = now.Add(500 * time.Millisecond)
	c.add(-2) // 2 for the second half:
	now = now.Add(500 * time.Millisecond)
	assert.InDelta(t, 3, c.take(), 1e-9) // 3 on average
	c.add(-2)
	now = now.Add(time.Second)
	assert.InDelta(t, 0, c.take(), 1e-9)
	assert.Zero(t, c.current())
}

// TestCrashLoop is the kubelet's restart back-off: the first exit in a row is replaced at
// once, further quick ones wait 10 s doubling to 5 min, and a replica that ran 10 minutes
// starts the count anew.
func TestCrashLoop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		crashes     int
		ran         time.Duration
		wantCrashes int
		wantWait    time.Duration
	}{
		{0, time.Millisecond, 1, 0}, // the first: at once (a killed replica too)
		{0, time.Hour, 1, 0},        // a long run, then an exit: at once
		{1, 50 * time.Millisecond, 2, 10 * time.Second},
		{1, 9 * time.Minute, 2, 10 * time.Second}, // ready or not, short or not: it counts
		{2, time.Second, 3, 20 * time.Second},
		{3, time.Second, 4, 40 * time.Second},
		{5, time.Second, 6, 160 * time.Second},
		{6, time.Second, 7, 5 * time.Minute}, // 320 s, capped
		{40, time.Second, 41, 5 * time.Minute},
		{40, 10 * time.Minute, 1, 0}, // it stayed up 10 minutes: forgotten
	}
	for _, tc := range tests {
		crashes, wait := crashLoop(tc.crashes, tc.ran)
		assert.Equal(t, tc.wantCrashes, crashes, "%+v", tc)
		assert.Equal(t, tc.wantWait, wait, "%+v", tc)
	}
}
