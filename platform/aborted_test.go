package platform_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

// A request whose caller went away is logged 499 with why, not 200 with 0 bytes nor a 500
// of ours; what was answered before, and a deliberate 504, stay as they are.
func TestObserveLogsACallerThatLeftAs499(t *testing.T) {
	t.Parallel()
	gone := func(ctx context.Context) { <-ctx.Done() }
	tests := []struct {
		name        string
		stays       bool // the test does not hang up for the caller
		deadline    bool // the caller's deadline passes instead of a hang-up
		handler     func(w http.ResponseWriter, r *http.Request)
		wantStatus  int
		wantAborted string
		wantFailed  bool // an error line "request failed"
	}{
		{name: "nothing written", handler: func(w http.ResponseWriter, r *http.Request) { gone(r.Context()) },
			wantStatus: 499, wantAborted: "client closed"},
		{name: "handler failed because of it", handler: func(w http.ResponseWriter, r *http.Request) {
			gone(r.Context())
			platform.WriteError(w, r, fmt.Errorf("select vehicle: %w", r.Context().Err()))
		}, wantStatus: 499, wantAborted: "client closed"},
		{name: "caller's deadline", stays: true, deadline: true, handler: func(w http.ResponseWriter, r *http.Request) {
			gone(r.Context())
			platform.WriteError(w, r, fmt.Errorf("select vehicle: %w", r.Context().Err()))
		}, wantStatus: 499, wantAborted: "caller deadline"},
		{name: "answered before", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("ok"))
			gone(r.Context())
		}, wantStatus: 200},
		{name: "a deliberate 504 under its own deadline", handler: func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), time.Millisecond)
			defer cancel()
			<-ctx.Done()
			platform.WriteError(w, r.WithContext(ctx), &platform.Error{Kind: platform.KindGatewayTimeout, Message: "x did not answer in time", Err: ctx.Err()})
		}, stays: true, wantStatus: 504, wantFailed: true},
		{name: "still there, nothing written", stays: true, handler: func(w http.ResponseWriter, r *http.Request) {}, wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			h := platform.Observe(platform.NewLogger(&logs, "info", "svc"), http.HandlerFunc(tc.handler))
			ctx, cancel := context.WithCancel(context.Background())
			if tc.deadline {
				ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
			}
			defer cancel()
			rec := httptest.NewRecorder()
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/vehicles/1", nil).WithContext(ctx))
			}()
			if !tc.stays {
				cancel() // the handlers above wait for it
			}
			<-done

			lines := logLines(t, logs.String())
			reqs := linesWithMsg(lines, "request")
			require.Len(t, reqs, 1)
			assert.EqualValues(t, tc.wantStatus, reqs[0]["status"])
			if tc.wantAborted != "" {
				assert.Equal(t, tc.wantAborted, reqs[0]["aborted"])
			} else {
				assert.NotContains(t, reqs[0], "aborted")
			}
			assert.Equal(t, tc.wantFailed, len(linesWithMsg(lines, "request failed")) == 1, "error line")
		})
	}
}

// Over a real connection: net/http cancels the request's context when the client hangs up.
func TestObserveLogsAHangUpOverTheNetworkAs499(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	logged := make(chan struct{})
	inner := platform.Observe(platform.NewLogger(&logs, "info", "svc"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		platform.WriteError(w, r, r.Context().Err())
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(logged)
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/vehicles/1", nil)
	require.NoError(t, err)
	_, err = srv.Client().Do(req)
	require.Error(t, err)
	select {
	case <-logged:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not notice the hang-up")
	}
	reqs := linesWithMsg(logLines(t, logs.String()), "request")
	require.Len(t, reqs, 1)
	assert.EqualValues(t, platform.StatusClientClosed, reqs[0]["status"])
	assert.Equal(t, "client closed", reqs[0]["aborted"])
	assert.Empty(t, linesWithMsg(logLines(t, logs.String()), "request failed"))
}
