package admission_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/admission"
)

// blocking is a handler that holds every request until release is closed, telling started
// about each one it holds.
type blocking struct {
	started chan struct{}
	release chan struct{}
}

func newBlocking() *blocking {
	return &blocking{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.started <- struct{}{}
	<-b.release
	w.WriteHeader(http.StatusNoContent)
}

// fill sends n requests to h in the background and returns once h holds all of them; the
// returned wait blocks until they are answered and returns their statuses.
func fill(t *testing.T, h http.Handler, b *blocking, n int, req func() *http.Request) (wait func() []int) {
	t.Helper()
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req())
			codes[i] = rec.Code
		}()
	}
	for range n {
		select {
		case <-b.started:
		case <-time.After(5 * time.Second):
			t.Fatal("the handler did not receive the requests within its limit")
		}
	}
	return func() []int { wg.Wait(); return codes }
}

func get() *http.Request { return httptest.NewRequest(http.MethodGet, "/api/things", nil) }

func delivery() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/cloudevents", strings.NewReader("{}"))
	r.Header.Set("Ce-Specversion", "1.0")
	return r
}

func TestTheRequestBeyondTheLimitIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	const limit = 3
	b := newBlocking()
	lim := admission.New("things-api", admission.Config{MaxInFlight: limit, MaxInFlightEvents: 1}, false)
	h := lim.Wrap(b)
	wait := fill(t, h, b, limit, get)

	start := time.Now()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, get())
	took := time.Since(start)

	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p platform.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	assert.Equal(t, platform.ProblemTypeBase+"unavailable", p.Type)
	assert.Contains(t, p.Detail, "things-api is at its limit of 3")
	assert.Less(t, took, 100*time.Millisecond, "a refusal must not wait")

	// An event delivery has a budget of its own: it still gets in.
	evWait := fill(t, h, b, 1, delivery)

	close(b.release)
	assert.Equal(t, []int{204, 204, 204}, wait())
	assert.Equal(t, []int{204}, evWait())
	s := lim.Stats(admission.Requests)
	assert.Equal(t, admission.Stats{Limit: 3, Admitted: 3, Rejected: 1}, s)
	assert.Equal(t, admission.Stats{Limit: 1, Admitted: 1}, lim.Stats(admission.Deliveries))

	// Slots come back: the next request is admitted.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, get())
	assert.Equal(t, http.StatusNoContent, rec.Code)
}

func TestAShortWaitAdmitsARequestWhenASlotFreesInTime(t *testing.T) {
	t.Parallel()
	b := newBlocking()
	lim := admission.New("things-api", admission.Config{MaxInFlight: 1, MaxWait: 5 * time.Second}, false)
	h := lim.Wrap(b)
	wait := fill(t, h, b, 1, get)

	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, get())
		done <- rec.Code
	}()
	require.Eventually(t, func() bool { return lim.Stats(admission.Requests).Waiting == 1 }, 5*time.Second, time.Millisecond)
	// A third finds as many waiting as there are slots: refused without waiting.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, get())
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)

	close(b.release) // the first ends, the waiting one takes its slot
	assert.Equal(t, []int{204}, wait())
	<-b.started
	assert.Equal(t, http.StatusNoContent, <-done)
	assert.Equal(t, admission.Stats{Limit: 1, Admitted: 1, Queued: 1, Rejected: 1}, lim.Stats(admission.Requests))
}

func TestAWaitEndsAtMaxWait(t *testing.T) {
	t.Parallel()
	b := newBlocking()
	defer close(b.release)
	const maxWait = 30 * time.Millisecond
	h := admission.New("things-api", admission.Config{MaxInFlight: 1, MaxWait: maxWait}, false).Wrap(b)
	fill(t, h, b, 1, get)

	start := time.Now()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, get())
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.GreaterOrEqual(t, time.Since(start), maxWait)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestACallerThatLeavesWhileWaitingIsNotAdmitted(t *testing.T) {
	t.Parallel()
	b := newBlocking()
	defer close(b.release)
	lim := admission.New("things-api", admission.Config{MaxInFlight: 1, MaxWait: 5 * time.Second}, false)
	h := lim.Wrap(b)
	fill(t, h, b, 1, get)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), get().WithContext(ctx))
	}()
	require.Eventually(t, func() bool { return lim.Stats(admission.Requests).Waiting == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("a request whose caller left kept waiting")
	}
	assert.Zero(t, lim.Stats(admission.Requests).Waiting)
	assert.Equal(t, 1, lim.Stats(admission.Requests).InFlight)
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		cfg            admission.Config
		public         bool
		requests, evts int
	}{
		{"function", admission.Config{}, false, admission.DefaultMaxInFlight, admission.DefaultMaxInFlight},
		{"front door", admission.Config{}, true, admission.FrontDoorFactor * admission.DefaultMaxInFlight, admission.FrontDoorFactor * admission.DefaultMaxInFlight},
		{"configured", admission.Config{MaxInFlight: 8, MaxInFlightEvents: 3}, true, 8, 3},
		{"one slot", admission.Config{MaxInFlight: 1}, false, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lim := admission.New("x", tc.cfg, tc.public)
			assert.Equal(t, tc.requests, lim.Stats(admission.Requests).Limit)
			assert.Equal(t, tc.evts, lim.Stats(admission.Deliveries).Limit)
		})
	}
}

func TestConfigIsValidated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"ADMISSION_MAX_IN_FLIGHT": "-1"}, "ADMISSION_MAX_IN_FLIGHT"},
		{map[string]string{"ADMISSION_MAX_IN_FLIGHT_EVENTS": "-2"}, "ADMISSION_MAX_IN_FLIGHT_EVENTS"},
		{map[string]string{"ADMISSION_MAX_WAIT": "1m"}, "ADMISSION_MAX_WAIT"},
		{map[string]string{"ADMISSION_MAX_WAIT": "soon"}, "ADMISSION_MAX_WAIT"},
		{map[string]string{"ADMISSION_MAX_WAIT_EVENTS": "-1s"}, "ADMISSION_MAX_WAIT_EVENTS"},
	} {
		var cfg admission.Config
		err := platform.LoadConfig(context.Background(), mapLookuper(tc.env), &cfg)
		require.Error(t, err, tc.env)
		assert.Contains(t, err.Error(), tc.want)
	}
	var cfg admission.Config
	require.NoError(t, platform.LoadConfig(context.Background(), mapLookuper(nil), &cfg))
	assert.Equal(t, admission.Config{MaxWait: 20 * time.Millisecond, MaxWaitEvents: time.Second}, cfg)
}

func TestOffAdmitsEverything(t *testing.T) {
	t.Parallel()
	b := newBlocking()
	h := admission.New("x", admission.Config{MaxInFlight: 1, Off: true}, false).Wrap(b)
	wait := fill(t, h, b, 3, get)
	close(b.release)
	assert.Equal(t, []int{204, 204, 204}, wait())
}

type mapLookuper map[string]string

func (m mapLookuper) Lookup(k string) (string, bool) { v, ok := m[k]; return v, ok }
