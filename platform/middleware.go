package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/orangecarrental/orange/platform/tracing"
)

// RequestIDHeader carries the request id between callers, the gateway and functions.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// RequestIDFrom returns the request id of the request that ctx belongs to.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID stores id in ctx; the transport forwards it on calls to other functions.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// newRequestID returns 16 random bytes in hex.
func newRequestID() string { return randomHex(16) }

// validRequestID accepts caller-supplied ids that are safe to log and echo.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// statusRecorder remembers what a handler wrote, for the request log line.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Observe wraps next with what every request needs: a request id (taken from the caller when
// well-formed, else made), a logger in the context, recovery from panics as a 500 problem, and
// one JSON log line per request.
func Observe(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		reqLogger := logger.With(slog.String("requestId", id))
		if trace, ok := TraceID(r.Header.Get("Traceparent")); ok {
			reqLogger = reqLogger.With(slog.String("traceId", trace))
		}
		ctx := WithInbound(WithLogger(WithRequestID(r.Context(), id), reqLogger), r.Header)
		ctx, note := withSpanNote(ctx, r.Header.Get("Traceparent"))
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				reqLogger.ErrorContext(ctx, "panic serving request", slog.String("panic", fmt.Sprint(v)))
				if rec.status == 0 {
					WriteError(rec, r, fmt.Errorf("panic: %v", v))
				}
			}
			status := rec.status
			aborted := callerGone(ctx, status)
			if aborted != "" {
				status = StatusClientClosed
			} else if status == 0 {
				status = http.StatusOK
			}
			// Room for the span's ids and "aborted": the line's one allocation.
			line := note.attrs(make([]slog.Attr, 0, 9),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int("bytes", rec.bytes),
				slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000),
				slog.String("remote", r.RemoteAddr),
			)
			if aborted != "" {
				line = append(line, slog.String("aborted", aborted))
			}
			reqLogger.LogAttrs(ctx, slog.LevelInfo, "request", line...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// StatusClientClosed is the status the request log (and the metrics) give a request whose
// caller went away before it was answered: nginx's 499 "client closed request". Nobody
// receives it; it keeps a client that hung up, or a caller whose own deadline passed (the
// gateway's 504), apart from a failure of ours (500) and from a success with 0 bytes (200).
const StatusClientClosed = 499

// callerGone names why a request's caller is gone ("client closed", "caller deadline"), or
// returns "" when it is still there or was answered before it left: a handler that wrote
// nothing, or a 5xx that the aborted context caused, is the caller's doing, not ours.
func callerGone(ctx context.Context, status int) string {
	err := ctx.Err()
	if err == nil || status != 0 && status < 500 && status != StatusClientClosed {
		return ""
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "caller deadline"
	}
	return "client closed"
}

// Traced runs each request to one function in a server span of tp (tracing.Off when
// tracing is off): a child of the caller's traceparent, named by the route template once the
// router has matched, with the response status. The first span under Observe is the one its
// request log line names (spanId; traceId too when the caller sent no traceparent). Hosts
// wrap each function's handler in it, so in `orange dev` a call through the in-process
// transport gets the callee's span as a call over the network does.
func Traced(tp trace.TracerProvider, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracing.StartServer(tp, r)
		if note, ok := ctx.Value(spanNoteKey{}).(*spanNote); ok {
			note.set(span.SpanContext())
		}
		if span.IsRecording() {
			serveRecorded(span, next, w, r.WithContext(ctx))
			return
		}
		// Nothing to record (tracing off, or sampled out): no status to capture, and End
		// does nothing, so a panic need not reach it. This frame stays small: every
		// in-process call's goroutine starts with a small stack that grows by copying.
		next.ServeHTTP(w, r.WithContext(ctx))
		span.End()
	})
}

// serveRecorded serves r in a recording server span, which gets the response status.
func serveRecorded(span trace.Span, next http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		status := rec.status
		if v := recover(); v != nil {
			tracing.EndServer(span, http.StatusInternalServerError)
			panic(v) // Observe answers it
		}
		if status == 0 {
			status = http.StatusOK
		}
		tracing.EndServer(span, status)
	}()
	next.ServeHTTP(rec, r)
}

type spanNoteKey struct{}

// spanNote carries the first server span's ids from Traced out to Observe's log line.
type spanNote struct {
	claimed   atomic.Bool // calls fanned out in-process may race for the note: the first wins
	done      atomic.Bool // sc is written
	sc        trace.SpanContext
	headTrace bool // the request's own traceparent already put traceId on the logger
}

// set notes sc unless a span was noted already (no allocation: a request's hot path).
func (n *spanNote) set(sc trace.SpanContext) {
	if !n.claimed.Load() && n.claimed.CompareAndSwap(false, true) {
		n.sc = sc
		n.done.Store(true)
	}
}

func withSpanNote(ctx context.Context, traceparent string) (context.Context, *spanNote) {
	n := &spanNote{}
	_, n.headTrace = TraceID(traceparent)
	return context.WithValue(ctx, spanNoteKey{}, n), n
}

// attrs adds the span's ids to the request log line's attributes.
func (n *spanNote) attrs(line []slog.Attr, attrs ...slog.Attr) []slog.Attr {
	line = append(line, attrs...)
	if !n.done.Load() || !n.sc.IsValid() {
		return line
	}
	sc := n.sc
	if !n.headTrace {
		line = append(line, slog.String("traceId", sc.TraceID().String()))
	}
	return append(line, slog.String("spanId", sc.SpanID().String()))
}

// TraceID returns the trace id of a W3C traceparent header (version 00).
func TraceID(traceparent string) (string, bool) {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return "", false
	}
	if !isLowerHex(parts[1]) || !isLowerHex(parts[2]) || !isLowerHex(parts[3]) ||
		parts[1] == strings.Repeat("0", 32) || parts[2] == strings.Repeat("0", 16) {
		return "", false
	}
	return parts[1], true
}

// ChildTraceparent continues the trace of an inbound traceparent with a new span id, or
// starts a new sampled trace when there is none (or it is malformed).
func ChildTraceparent(inbound string) string {
	trace, ok := TraceID(inbound)
	flags := "01"
	if ok {
		flags = inbound[len(inbound)-2:]
	} else {
		trace = randomHex(16)
	}
	return "00-" + trace + "-" + randomHex(8) + "-" + flags
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
