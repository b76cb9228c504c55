package platform

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// ProblemTypeBase prefixes every problem type URI. The kinds are stable, so clients may
// switch on the type.
const ProblemTypeBase = "https://orangecarrental.com/problems/"

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"requestId,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	// Code names the refusal for programs, where the function gives it one (Error.Code):
	// stable, unlike the English detail.
	Code string `json:"code,omitempty"`
}

// ProblemFor builds the problem document for err as seen by the caller of r. Internal errors
// get a generic detail: their text may hold SQL or other internals.
func ProblemFor(r *http.Request, err error) Problem {
	kind := KindOf(err)
	status := kind.Status()
	p := Problem{
		Type:      ProblemTypeBase + string(kind),
		Title:     http.StatusText(status),
		Status:    status,
		Instance:  r.URL.Path,
		RequestID: RequestIDFrom(r.Context()),
	}
	var e *Error
	if errors.As(err, &e) && kind != KindInternal {
		p.Detail = e.Message
		p.Errors = e.Fields
		p.Code = e.Code
	} else {
		p.Detail = "an internal error occurred; quote the request id when reporting it"
	}
	return p
}

// WriteError renders err as problem+json. 5xx errors are logged with their full chain; 4xx
// are the caller's business and only show in the request log line.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemFor(r, err)
	if k := KindOf(err); (k == KindInternal || k == KindUnavailable) && callerGone(r.Context(), p.Status) != "" {
		// The caller hung up or its deadline passed, and the handler failed because its
		// context ended (a deliberate 502/504 of the gateway's stays what it is): not a failure of ours to log, and nobody reads the answer. 499 keeps
		// the metrics and the request log truthful (the caller's 504 is the caller's).
		p.Type, p.Title, p.Status = ProblemTypeBase+"client-closed-request", "Client Closed Request", StatusClientClosed
		p.Detail = "the caller went away before the answer"
		LoggerFrom(r.Context()).DebugContext(r.Context(), "caller gone", slog.String("error", err.Error()))
	} else if p.Status >= 500 {
		LoggerFrom(r.Context()).ErrorContext(r.Context(), "request failed",
			slog.String("error", err.Error()), slog.Int("status", p.Status))
	}
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
