package platform

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Kind classifies an error for callers across the HTTP boundary. It is deliberately small:
// handlers say what went wrong, and one table (statusByKind) decides what that means in HTTP.
type Kind string

// The error kinds a handler may return. Anything else is internal.
const (
	KindInvalid          Kind = "invalid"
	KindNotFound         Kind = "not-found"
	KindConflict         Kind = "conflict"
	KindUnauthorized     Kind = "unauthorized"
	KindForbidden        Kind = "forbidden"
	KindUnsupportedMedia Kind = "unsupported-media-type"
	KindTooLarge         Kind = "payload-too-large"
	KindMethodNotAllowed Kind = "method-not-allowed"
	KindPrecondition     Kind = "precondition-failed"
	KindUnprocessable    Kind = "unprocessable"
	KindUnavailable      Kind = "unavailable"
	KindTooManyRequests  Kind = "too-many-requests"
	KindBadGateway       Kind = "bad-gateway"
	KindGatewayTimeout   Kind = "gateway-timeout"
	KindInternal         Kind = "internal"
)

// statusByKind is the single error→status table of the whole system.
var statusByKind = map[Kind]int{
	KindInvalid:          http.StatusBadRequest,
	KindNotFound:         http.StatusNotFound,
	KindConflict:         http.StatusConflict,
	KindUnauthorized:     http.StatusUnauthorized,
	KindForbidden:        http.StatusForbidden,
	KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	KindTooLarge:         http.StatusRequestEntityTooLarge,
	KindMethodNotAllowed: http.StatusMethodNotAllowed,
	KindPrecondition:     http.StatusPreconditionFailed,
	KindUnprocessable:    http.StatusUnprocessableEntity,
	KindUnavailable:      http.StatusServiceUnavailable,
	KindTooManyRequests:  http.StatusTooManyRequests,
	KindBadGateway:       http.StatusBadGateway,
	KindGatewayTimeout:   http.StatusGatewayTimeout,
	KindInternal:         http.StatusInternalServerError,
}

// Status returns the HTTP status for a kind; unknown kinds are internal errors.
func (k Kind) Status() int {
	if s, ok := statusByKind[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// FieldError names one invalid input field and why it is invalid.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is an error with a kind and a message safe to show to the caller. Wrapped errors are
// logged, never shown.
type Error struct {
	Kind    Kind
	Message string
	Fields  []FieldError
	Err     error
	// RetryAfter, when set, is sent as Retry-After (whole seconds, rounded up): when a
	// refusal for now (429, 503) may be worth asking again.
	RetryAfter time.Duration
	// Code, when set, names the refusal for programs (the problem's "code"): a client tells
	// one 409 from another by it, and a portal words it in its page's language, where the
	// message is English and may change.
	Code string
}

// WithCode sets e's Code and returns e.
func (e *Error) WithCode(code string) *Error {
	e.Code = code
	return e
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind with a formatted, caller-safe message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a KindInvalid error listing the offending fields.
func Invalid(message string, fields ...FieldError) *Error {
	return &Error{Kind: KindInvalid, Message: message, Fields: fields}
}

// NotFound returns a KindNotFound error for the named thing.
func NotFound(format string, args ...any) *Error {
	return Errorf(KindNotFound, format, args...)
}

// Conflict returns a KindConflict error.
func Conflict(format string, args ...any) *Error {
	return Errorf(KindConflict, format, args...)
}

// Stale is the 412 of a conditional request (If-Match) on what (with id) that has changed
// since the version the caller named.
func Stale(what, id string) *Error {
	return Errorf(KindPrecondition, "%s %s has changed since the version given in If-Match", what, id)
}

// ConflictForNow returns a KindConflict error that passes: the resource changed while the
// request was being decided (a confirmation landing between a cancel's read and its write),
// or is in a state that moves on by itself (a card still being authorized). The caller may
// send the same request again. It carries Retry-After: 1, so an idempotency key does not
// keep it as the request's answer — the retry it asks for runs again.
func ConflictForNow(format string, args ...any) *Error {
	e := Conflict(format, args...)
	e.RetryAfter = time.Second
	return e
}

// IsConflictForNow tells whether err is a ConflictForNow.
func IsConflictForNow(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == KindConflict && e.RetryAfter > 0
}

// KindOf reports the kind of err: the kind of the first *Error in its chain; unavailable for
// a dependency that could not be reached; else internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if unreachable(err) {
		return KindUnavailable
	}
	return KindInternal
}

// unreachable reports whether err says PostgreSQL (or another dependency) could not be
// reached or went away (restart, failover, a connection cut mid-query): the request may
// succeed when retried, so it is a 503 — a client backs off and tries again — not a 500 that says the code is wrong.
func unreachable(err error) bool {
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08: connection exception; 57P01–57P03: shutdown, crash, not accepting yet.
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03"
	}
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}
