package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/admission"
)

// Once a function refuses for overload, the gateway holds no more requests to it than it
// had in flight then (less a tenth), and refuses the rest itself: 503 with Retry-After,
// nothing forwarded, the function's budget and the gateway's CPU not spent on them.
func TestTheGatewayRefusesASaturatedFunctionsExcessItself(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	held := make(chan struct{}, 16)
	release := make(chan struct{})
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Query().Get("answer") {
		case "refused": // as admission control refuses
			w.Header().Set(admission.RefusedHeader, "1")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case "unavailable": // its own dependency is down: not a sign of overload
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		held <- struct{}{}
		<-release
		w.WriteHeader(http.StatusNoContent)
	})
	h := newHarness(t, map[string]string{"GATEWAY_UPSTREAM_MAX_IN_FLIGHT": "6"}, inProcess(fn))

	done := make(chan int, 16)
	send := func(target string) {
		go func() { done <- h.do(httptest.NewRequest(http.MethodGet, target, nil)).StatusCode }()
	}
	for range 5 {
		send("/api/locations/BER")
		<-held
	}
	// A 503 that is not a refusal for overload changes nothing.
	resp := h.do(httptest.NewRequest(http.MethodGet, "/api/locations/BER?answer=unavailable", nil))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	// The next is refused by the function with six in flight (five held and itself): the
	// limit becomes 5 (0.9 × 6).
	resp = h.do(httptest.NewRequest(http.MethodGet, "/api/locations/BER?answer=refused", nil))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Empty(t, resp.Header.Get(admission.RefusedHeader), "not passed on to clients")
	require.EqualValues(t, 7, calls.Load())

	// Five in flight, limit 5: the gateway refuses at once without forwarding.
	resp = h.do(httptest.NewRequest(http.MethodGet, "/api/locations/MUC", nil))
	p := readProblem(t, resp, platform.KindUnavailable)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Contains(t, p.Detail, "locations-api is busy")
	assert.Equal(t, resp.Header.Get(platform.RequestIDHeader), p.RequestID)
	assert.EqualValues(t, 7, calls.Load(), "not forwarded")
	assert.Empty(t, h.logs.lines(t, "forward failed"))

	// Once the function answers again, the gateway forwards again.
	close(release)
	for range 5 {
		select {
		case code := <-done:
			assert.Equal(t, http.StatusNoContent, code)
		case <-time.After(5 * time.Second):
			t.Fatal("a held request was not answered")
		}
	}
	go func() { <-held }()
	resp = h.do(httptest.NewRequest(http.MethodGet, "/api/locations/BER", nil))
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.EqualValues(t, 8, calls.Load())
}
