package platform

import (
	"encoding/json"
	"net/http"
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

// WriteJSON renders v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
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
