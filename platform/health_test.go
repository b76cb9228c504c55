package platform_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("database unreachable") }
	var sawDeadline bool
	deadline := func(ctx context.Context) error {
		_, sawDeadline = ctx.Deadline()
		return nil
	}
	tests := []struct {
		name       string
		checks     []platform.ReadyFunc
		path       string
		method     string
		wantStatus int
		wantBody   string
	}{
		{name: "alive even when not ready", checks: []platform.ReadyFunc{down}, path: "/healthz", method: http.MethodGet, wantStatus: 200, wantBody: `{"status":"ok"}`},
		{name: "ready without checks", path: "/readyz", method: http.MethodGet, wantStatus: 200, wantBody: `{"status":"ready"}`},
		{name: "ready when every check passes", checks: []platform.ReadyFunc{ok, ok}, path: "/readyz", method: http.MethodGet, wantStatus: 200, wantBody: `{"status":"ready"}`},
		{name: "not ready when one check fails", checks: []platform.ReadyFunc{ok, down}, path: "/readyz", method: http.MethodGet, wantStatus: 503},
		{name: "only GET", path: "/readyz", method: http.MethodPost, wantStatus: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			platform.NewHealth(tc.checks...).Mount(mux)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req = req.WithContext(platform.WithLogger(req.Context(), platform.NewLogger(io.Discard, "error", "")))
			mux.ServeHTTP(rec, req)
			require.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			if tc.wantBody != "" {
				assert.JSONEq(t, tc.wantBody, rec.Body.String())
			}
			if tc.wantStatus == http.StatusServiceUnavailable {
				resp := rec.Result()
				defer resp.Body.Close()
				p := readProblem(t, resp, http.StatusServiceUnavailable)
				assert.Contains(t, p.Detail, "database unreachable", "the failed check says why")
			}
		})
	}

	t.Run("checks get a deadline", func(t *testing.T) {
		mux := http.NewServeMux()
		platform.NewHealth(deadline).Mount(mux)
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/readyz", nil))
		assert.True(t, sawDeadline)
	})
}

func TestNewLoggerLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level     string
		wantDebug bool
		wantInfo  bool
	}{
		{level: "debug", wantDebug: true, wantInfo: true},
		{level: "DEBUG", wantDebug: true, wantInfo: true},
		{level: "info", wantInfo: true},
		{level: "warn"},
		{level: "nonsense", wantInfo: true},
		{level: "", wantInfo: true},
	}
	for _, tc := range tests {
		t.Run(tc.level, func(t *testing.T) {
			t.Parallel()
			var buf syncBuffer
			logger := platform.NewLogger(&buf, tc.level, "fleet-api")
			logger.Debug("d")
			logger.Info("i")
			lines := logLines(t, buf.String())
			assert.Equal(t, tc.wantDebug, len(linesWithMsg(lines, "d")) == 1, "debug line")
			assert.Equal(t, tc.wantInfo, len(linesWithMsg(lines, "i")) == 1, "info line")
			for _, l := range lines {
				assert.Equal(t, "fleet-api", l["service"])
			}
		})
	}
	t.Run("logger from context", func(t *testing.T) {
		t.Parallel()
		var buf syncBuffer
		logger := platform.NewLogger(&buf, "info", "")
		assert.Same(t, logger, platform.LoggerFrom(platform.WithLogger(context.Background(), logger)))
		assert.NotNil(t, platform.LoggerFrom(context.Background()), "falls back to slog's default")
	})
}
