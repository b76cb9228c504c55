package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
)

// Server is an HTTP server whose listener is open from construction, so a caller knows the
// port is bound (and can report it) before serving starts.
type Server struct {
	listener net.Listener
	cfg      ServerConfig
}

// NewServer binds the configured port on the configured host (every interface when empty).
// Port "0" picks a free one.
func NewServer(cfg ServerConfig) (*Server, error) {
	addr := net.JoinHostPort(cfg.Host, cfg.Port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return &Server{listener: l, cfg: cfg}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Close releases the listener of a server that will not Serve.
func (s *Server) Close() error { return s.listener.Close() }

// Serve serves handler until ctx is done, then stops accepting new connections, waits for
// in-flight requests (up to the drain timeout) and returns nil. Knative sends SIGTERM and
// keeps routing to the pod briefly; the queue-proxy in front of us handles that part. Every
// connection is bounded by the configured read, write and idle timeouts; a request body
// that is still arriving at the read timeout is answered 408.
func (s *Server) Serve(ctx context.Context, handler http.Handler) error {
	logger := LoggerFrom(ctx)
	srv := &http.Server{
		Handler:           answerSlowBodies(logger, handler),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
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
	// New connections are refused before any in-flight answer says "Connection: close":
	// a client told to reconnect then gets a refusal it can act on, not a reset.
	stopListening(s.listener)
	logger.InfoContext(ctx, "draining in-flight requests", slog.String("timeout", s.cfg.DrainTimeout.String()))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DrainTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	// The stopped listener may have ended Serve's accept loop with an error of its own
	// (EINVAL) before Shutdown marked the server closed: expected, not a failure.
	<-errc
	logger.InfoContext(ctx, "stopped")
	return nil
}

// answerSlowBodies turns a request body that outlasts the read timeout into a 408. net/http
// only fails the body's Read (and cancels the request's context); left alone, each handler
// would answer that its own way — a 400 "malformed JSON", a 502 from the gateway, or nothing.
// Here the first Read that times out marks the request, and whatever the handler then
// writes is replaced by one 408 problem with Connection: close.
func answerSlowBodies(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		sw := &slowBodyWriter{ResponseWriter: w, path: r.URL.Path}
		r.Body = &slowBody{ReadCloser: r.Body, timedOut: &sw.timedOut}
		next.ServeHTTP(sw, r)
		if sw.timedOut.Load() {
			sw.answer()
			logger.WarnContext(r.Context(), "request body too slow: answered 408",
				slog.String("requestId", w.Header().Get(RequestIDHeader)),
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("remote", r.RemoteAddr))
		}
	})
}

// slowBody notes a Read that failed on the connection's read deadline.
type slowBody struct {
	io.ReadCloser
	timedOut *atomic.Bool
}

func (b *slowBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.timedOut.Store(true)
	}
	return n, err
}

// slowBodyWriter passes the handler's response through until the body timed out; from then
// on the response is the 408. Only the handler's goroutine writes; the body may be read on
// another (a reverse proxy's transport), hence the atomic flag.
type slowBodyWriter struct {
	http.ResponseWriter
	path     string
	timedOut atomic.Bool
	started  bool // the handler's status line is out: too late for a 408
	answered bool
}

func (s *slowBodyWriter) WriteHeader(code int) {
	if !s.started && s.timedOut.Load() {
		s.answer()
		return
	}
	if !s.answered {
		s.started = code >= 200 // an informational answer (103) still leaves room for the 408
		s.ResponseWriter.WriteHeader(code)
	}
}

func (s *slowBodyWriter) Write(b []byte) (int, error) {
	if !s.started && s.timedOut.Load() {
		s.answer()
	}
	if s.answered {
		return len(b), nil // the handler's answer to a request that never fully arrived
	}
	s.started = true
	return s.ResponseWriter.Write(b)
}

// answer writes the 408, once, unless the handler's own response has already begun.
func (s *slowBodyWriter) answer() {
	if s.started || s.answered {
		return
	}
	s.answered = true
	// What the handler meant for its own answer goes; the request id and CORS stay, so a
	// browser can read the 408 and the caller can quote the id.
	h := s.ResponseWriter.Header()
	for k := range h {
		if k != RequestIDHeader && k != "Vary" && !strings.HasPrefix(k, "Access-Control-") {
			delete(h, k)
		}
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("Connection", "close")
	s.ResponseWriter.WriteHeader(http.StatusRequestTimeout)
	_ = json.NewEncoder(s.ResponseWriter).Encode(Problem{
		Type:      ProblemTypeBase + "request-timeout",
		Title:     http.StatusText(http.StatusRequestTimeout),
		Status:    http.StatusRequestTimeout,
		Detail:    "the request body did not arrive within the server's read timeout",
		Instance:  s.path,
		RequestID: h.Get(RequestIDHeader),
	})
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *slowBodyWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ClientAddressHeader carries, from the gateway to the functions behind it, the address of
// the client the gateway decided on: its peer, or behind a trusted proxy the right-most
// untrusted X-Forwarded-For hop. The gateway removes whatever a client sends in it.
const ClientAddressHeader = "Orange-Client-Address"

// ClientAddress is the address of the client r is made for, as far as this process can tell:
// the gateway's ClientAddressHeader when it holds an IP address, else the peer's address.
// It keys what belongs to anonymous callers (idempotency scopes, per-address limits) and
// never grants anything: a caller that reaches a function without passing the gateway can
// choose it (docs/security.md), while a signed-in caller is always its verified token's
// subject.
func ClientAddress(r *http.Request) string {
	if a, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get(ClientAddressHeader))); err == nil {
		return a.Unmap().String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
