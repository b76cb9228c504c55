package platform_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

func TestObserveRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		incoming string
		wantKept bool
	}{
		{name: "valid id is kept", incoming: "abc-DEF_123.x", wantKept: true},
		{name: "longest valid id is kept", incoming: strings.Repeat("a", 128), wantKept: true},
		{name: "missing id is made"},
		{name: "oversized id is replaced", incoming: strings.Repeat("a", 129)},
		{name: "id with spaces is replaced", incoming: "abc def"},
		{name: "id with a quote is replaced", incoming: `abc"def`},
		{name: "id with non-ASCII is replaced", incoming: "abcé"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			var seen string
			h := platform.Observe(platform.NewLogger(&logs, "info", "svc"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = platform.RequestIDFrom(r.Context())
				platform.LoggerFrom(r.Context()).InfoContext(r.Context(), "inside")
				w.WriteHeader(http.StatusNoContent)
			}))
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tc.incoming != "" {
				req.Header.Set(platform.RequestIDHeader, tc.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			echoed := rec.Header().Get(platform.RequestIDHeader)
			require.NotEmpty(t, echoed)
			assert.Equal(t, echoed, seen, "the context carries the echoed id")
			if tc.wantKept {
				assert.Equal(t, tc.incoming, echoed)
			} else {
				assert.NotEqual(t, tc.incoming, echoed)
				assert.Regexp(t, `^[0-9a-f]{32}$`, echoed)
			}
			// The handler's own log lines carry the id too.
			inside := linesWithMsg(logLines(t, logs.String()), "inside")
			require.Len(t, inside, 1)
			assert.Equal(t, echoed, inside[0]["requestId"])
		})
	}
}

func TestObserveMadeIDsDiffer(t *testing.T) {
	t.Parallel()
	h := platform.Observe(platform.NewLogger(&syncBuffer{}, "info", ""), http.NotFoundHandler())
	seen := map[string]bool{}
	for range 20 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		seen[rec.Header().Get(platform.RequestIDHeader)] = true
	}
	assert.Len(t, seen, 20)
}

func TestObserveLogLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		method     string
		path       string
		handler    http.HandlerFunc
		wantStatus int
		wantBytes  int
	}{
		{
			name: "explicit status", method: http.MethodPost, path: "/api/cars", wantStatus: http.StatusCreated, wantBytes: 2,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte("ok"))
			},
		},
		{
			name: "implicit 200 on write", method: http.MethodGet, path: "/api/cars/1", wantStatus: http.StatusOK, wantBytes: 5,
			handler: func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) },
		},
		{
			name: "nothing written", method: http.MethodDelete, path: "/api/cars/1", wantStatus: http.StatusOK,
			handler: func(w http.ResponseWriter, r *http.Request) {},
		},
		{
			name: "first status wins", method: http.MethodGet, path: "/twice", wantStatus: http.StatusAccepted,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				w.WriteHeader(http.StatusTeapot) // ignored (and logged as superfluous by net/http)
			},
		},
		{
			name: "problem from a HandlerFunc", method: http.MethodGet, path: "/missing", wantStatus: http.StatusNotFound,
			handler: platform.NotFoundHandler().ServeHTTP,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			h := platform.Observe(platform.NewLogger(&logs, "info", "cars-api"), tc.handler)
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.Header.Set(platform.RequestIDHeader, "rid-1")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			lines := logLines(t, logs.String())
			reqLines := linesWithMsg(lines, "request")
			require.Len(t, reqLines, 1, "one request line per request; got %v", lines)
			l := reqLines[0]
			assert.Equal(t, "INFO", l["level"])
			assert.Equal(t, tc.method, l["method"])
			assert.Equal(t, tc.path, l["path"])
			assert.EqualValues(t, tc.wantStatus, l["status"])
			if tc.wantBytes > 0 {
				assert.EqualValues(t, tc.wantBytes, l["bytes"])
			}
			assert.Equal(t, "rid-1", l["requestId"])
			assert.Equal(t, "cars-api", l["service"])
			assert.Contains(t, l, "durationMs")
			assert.Equal(t, tc.wantStatus, rec.Code)
		})
	}
}

func TestObservePanic(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	h := platform.Observe(platform.NewLogger(&logs, "info", ""), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("nil map in pricing")
	}))
	req := httptest.NewRequest(http.MethodGet, "/api/quotes", nil)
	req.Header.Set(platform.RequestIDHeader, "rid-panic")
	rec := httptest.NewRecorder()
	require.NotPanics(t, func() { h.ServeHTTP(rec, req) })

	resp := rec.Result()
	defer resp.Body.Close()
	p := readProblem(t, resp, http.StatusInternalServerError)
	assert.Equal(t, "rid-panic", p.RequestID)
	assert.NotContains(t, rec.Body.String(), "nil map", "the panic value is not shown")

	lines := logLines(t, logs.String())
	panics := linesWithMsg(lines, "panic serving request")
	require.Len(t, panics, 1)
	assert.Equal(t, "nil map in pricing", panics[0]["panic"])
	assert.Equal(t, "ERROR", panics[0]["level"])
	reqLines := linesWithMsg(lines, "request")
	require.Len(t, reqLines, 1)
	assert.EqualValues(t, http.StatusInternalServerError, reqLines[0]["status"])
}

func TestObservePanicAfterHeaders(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	h := platform.Observe(platform.NewLogger(&logs, "info", ""), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		panic(errors.New("late"))
	}))
	rec := httptest.NewRecorder()
	require.NotPanics(t, func() { h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil)) })
	// Too late for a problem document: the body is not corrupted with one.
	assert.Equal(t, "partial", rec.Body.String())
	require.Len(t, linesWithMsg(logLines(t, logs.String()), "panic serving request"), 1)
}

func TestObserveAbortHandlerPropagates(t *testing.T) {
	t.Parallel()
	h := platform.Observe(platform.NewLogger(&syncBuffer{}, "info", ""), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	rec := httptest.NewRecorder()
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() {
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	})
	assert.Empty(t, rec.Body.String(), "an aborted response gets no problem body")
}

func TestObserveAbortHandlerOverNetwork(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(platform.Observe(platform.NewLogger(&syncBuffer{}, "info", ""), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})))
	t.Cleanup(srv.Close)
	// net/http aborts the connection: the client sees an error, not a response.
	resp, err := srv.Client().Get(srv.URL)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
}

func TestTraceID(t *testing.T) {
	t.Parallel()
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name   string
		header string
		want   string // "" means not a valid traceparent
	}{
		{name: "valid", header: "00-" + trace + "-00f067aa0ba902b7-01", want: trace},
		{name: "unsampled", header: "00-" + trace + "-00f067aa0ba902b7-00", want: trace},
		{name: "empty", header: ""},
		{name: "unknown version", header: "01-" + trace + "-00f067aa0ba902b7-01"},
		{name: "upper case hex", header: "00-" + strings.ToUpper(trace) + "-00f067aa0ba902b7-01"},
		{name: "all-zero trace id", header: "00-" + strings.Repeat("0", 32) + "-00f067aa0ba902b7-01"},
		{name: "all-zero span id", header: "00-" + trace + "-0000000000000000-01"},
		{name: "short trace id", header: "00-" + trace[:30] + "-00f067aa0ba902b7-01"},
		{name: "extra part", header: "00-" + trace + "-00f067aa0ba902b7-01-x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := platform.TraceID(tc.header)
			assert.Equal(t, tc.want != "", ok)
			assert.Equal(t, tc.want, got)

			child := platform.ChildTraceparent(tc.header)
			childTrace, ok := platform.TraceID(child)
			require.True(t, ok, "a child traceparent is always valid: %q", child)
			if tc.want != "" {
				assert.Equal(t, tc.want, childTrace, "the trace continues")
				assert.NotEqual(t, tc.header, child, "with a new span id")
				assert.Equal(t, tc.header[len(tc.header)-2:], child[len(child)-2:], "keeping the flags")
			} else {
				assert.True(t, strings.HasSuffix(child, "-01"), "a new trace is sampled")
			}
		})
	}
}

func TestObserveLogsTraceID(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	h := platform.Observe(platform.NewLogger(&logs, "info", ""), http.NotFoundHandler())
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	lines := linesWithMsg(logLines(t, logs.String()), "request")
	require.Len(t, lines, 1)
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", lines[0]["traceId"])
}
