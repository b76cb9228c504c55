package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/admission"
)

// An upstream at its admission limit answers 503 with Retry-After; the gateway passes that
// answer on as it is — not a 502 or 504 of its own — so a client backs off and retries.
func TestUpstreamOverloadPassesThrough(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"in-process", "network"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			held := make(chan struct{}, 1)
			release := make(chan struct{})
			defer close(release)
			// As a host serves a function: the request log outside, admission in front of it.
			fn := platform.Observe(platform.NewLogger(&syncBuffer{}, "info", service),
				admission.New(service, admission.Config{MaxInFlight: 1}, false).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					held <- struct{}{}
					<-release
					w.WriteHeader(http.StatusNoContent)
				})))
			transport := inProcess(fn)
			if mode == "network" {
				srv := httptest.NewServer(fn)
				t.Cleanup(srv.Close)
				transport = network(srv.URL)
			}
			h := newHarness(t, nil, transport)
			go h.do(httptest.NewRequest(http.MethodGet, "/api/locations/BER", nil)) // takes the one slot
			<-held

			start := time.Now()
			resp := h.do(httptest.NewRequest(http.MethodGet, "/api/locations/MUC", nil))
			p := readProblem(t, resp, platform.KindUnavailable)
			assert.Less(t, time.Since(start), time.Second, "refused at once, not after a wait")
			assert.Equal(t, "1", resp.Header.Get("Retry-After"))
			assert.Contains(t, p.Detail, service+" is at its limit of 1")
			assert.Equal(t, resp.Header.Get(platform.RequestIDHeader), p.RequestID, "the gateway's request id")
			assert.Empty(t, h.logs.lines(t, "forward failed"), "an answer, not a failed forward")
			logged := h.logs.lines(t, "request")
			require.NotEmpty(t, logged)
			assert.EqualValues(t, http.StatusServiceUnavailable, logged[len(logged)-1]["status"])
		})
	}
}

// An upstream that does not answer in time: the gateway answers and logs 504; the upstream
// logs its own truth — its caller gave up (499), not a failure of its own (500).
func TestUpstreamTimeoutIsLoggedTruthfullyOnBothSides(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ mode, aborted string }{
		{"in-process", "caller deadline"}, // the gateway's deadline travels with the call
		{"network", "client closed"},      // the gateway hangs up
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			upLogs := &syncBuffer{}
			answered := make(chan struct{})
			fn := platform.Observe(platform.NewLogger(upLogs, "info", service), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(answered)
				<-r.Context().Done() // a query stuck behind a lock, cut off by the caller
				platform.WriteError(w, r, r.Context().Err())
			}))
			transport := inProcess(fn)
			if tc.mode == "network" {
				srv := httptest.NewServer(fn)
				t.Cleanup(srv.Close)
				transport = network(srv.URL)
			}
			h := newHarness(t, map[string]string{"UPSTREAM_TIMEOUT": "100ms"}, transport)
			readProblem(t, h.do(httptest.NewRequest(http.MethodGet, "/api/locations/BER", nil)), platform.KindGatewayTimeout)
			gw := h.logs.lines(t, "request")
			require.Len(t, gw, 1)
			assert.EqualValues(t, http.StatusGatewayTimeout, gw[0]["status"])

			select {
			case <-answered:
			case <-time.After(5 * time.Second):
				t.Fatal("the upstream never saw its caller leave")
			}
			require.Eventually(t, func() bool { return len(upLogs.lines(t, "request")) == 1 }, 5*time.Second, 5*time.Millisecond)
			up := upLogs.lines(t, "request")[0]
			assert.EqualValues(t, platform.StatusClientClosed, up["status"])
			assert.Equal(t, tc.aborted, up["aborted"])
			assert.Empty(t, upLogs.lines(t, "request failed"), "not an error of the upstream's")
		})
	}
}

// A client that hangs up while the upstream works is logged 499 by the gateway, not 200
// with 0 bytes.
func TestClientHangUpIsLogged499(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, inProcess(http.HandlerFunc(hang)))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel) // net/http cancels a request's context when its client hangs up
	h.do(httptest.NewRequest(http.MethodGet, "/api/locations/BER", nil).WithContext(ctx))
	logged := h.logs.lines(t, "request")
	require.Len(t, logged, 1)
	assert.EqualValues(t, platform.StatusClientClosed, logged[0]["status"])
	assert.Equal(t, "client closed", logged[0]["aborted"])
	assert.Empty(t, h.logs.lines(t, "forward failed"))
}
