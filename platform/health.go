package platform

import (
	"context"
	"net/http"
	"time"
)

// ReadyFunc reports whether a function can serve: its database reachable, its migrations
// applied. It returns a reason when not.
type ReadyFunc func(ctx context.Context) error

// Health serves /healthz (the process is alive) and /readyz (every check passes).
type Health struct {
	checks []ReadyFunc
}

// NewHealth returns health endpoints backed by the given readiness checks.
func NewHealth(checks ...ReadyFunc) *Health { return &Health{checks: checks} }

// Mount adds /healthz and /readyz to mux.
func (h *Health) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_ = WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", HandlerFunc(h.ready))
}

func (h *Health) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	for _, check := range h.checks {
		if err := check(ctx); err != nil {
			return &Error{Kind: KindUnavailable, Message: "not ready: " + err.Error(), Err: err}
		}
	}
	return WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
