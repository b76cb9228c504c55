package platform

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// HandlerFunc is an HTTP handler that returns its error instead of writing it, so that every
// error reaches the caller through the one error→status table.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP lets a HandlerFunc be mounted wherever an http.Handler goes.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// WriteJSON renders v as JSON with the given status. An answer that says nothing of caching
// is "no-store": what the API answers is someone's booking, profile, payment or secret, some
// of it to a request without an Authorization header (a guest's link, the public lookup)
// that a shared cache would otherwise keep (RFC 9111 §3.5). An answer meant to be cached
// sets its own Cache-Control first (the gateway's catalogue).
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(body, '\n'))
	return err
}

// NotFoundHandler answers unknown paths with a problem+json 404.
func NotFoundHandler() http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return NotFound("no route for %s", r.URL.Path)
	})
}

// MethodNotAllowedHandler answers a known path with a wrong method with a problem+json 405.
func MethodNotAllowedHandler() http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return Errorf(KindMethodNotAllowed, "method %s is not allowed on %s", r.Method, r.URL.Path)
	})
}

// WriteVersioned renders v with its row version as a strong ETag, so a client can make its
// next change conditional with If-Match (see IfMatch).
func WriteVersioned(w http.ResponseWriter, status int, version int64, v any) error {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(version, 10)))
	return WriteJSON(w, status, v)
}

// IfMatch returns the row version an If-Match header requires, 0 when there is none (or
// "*"). Anything but an ETag WriteVersioned made is a 400.
func IfMatch(r *http.Request) (int64, error) {
	raw := strings.TrimSpace(r.Header.Get("If-Match"))
	if raw == "" || raw == "*" {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.Trim(raw, `"`), 10, 64)
	if err != nil || v < 1 {
		return 0, Invalid("If-Match must be an ETag this API returned, such as \"3\"")
	}
	return v, nil
}
