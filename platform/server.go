package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server is an HTTP server whose listener is open from construction, so a caller knows the
// port is bound (and can report it) before serving starts.
type Server struct {
	listener          net.Listener
	readHeaderTimeout time.Duration
	drainTimeout      time.Duration
}

// NewServer binds the configured port on all interfaces. Port "0" picks a free one.
func NewServer(cfg ServerConfig) (*Server, error) {
	l, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		return nil, fmt.Errorf("listen on port %s: %w", cfg.Port, err)
	}
	return &Server{listener: l, readHeaderTimeout: cfg.ReadHeaderTimeout, drainTimeout: cfg.DrainTimeout}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Serve serves handler until ctx is done, then stops accepting new connections, waits for
// in-flight requests (up to the drain timeout) and returns nil. Knative sends SIGTERM and
// keeps routing to the pod briefly; the queue-proxy in front of us handles that part.
func (s *Server) Serve(ctx context.Context, handler http.Handler) error {
	logger := LoggerFrom(ctx)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: s.readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.listener) }()
	logger.InfoContext(ctx, "serving", slog.String("addr", s.listener.Addr().String()))

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.InfoContext(ctx, "draining in-flight requests", slog.String("timeout", s.drainTimeout.String()))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.drainTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.InfoContext(ctx, "stopped")
	return nil
}
