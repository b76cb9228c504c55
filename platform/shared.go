package platform

import (
	"net/http"
	"regexp"
	"strings"
)

// FieldErrors collects every bad field of a request, so that one answer (and a form) shows
// them all at once.
type FieldErrors []FieldError

// Add records that field is bad for reason.
func (e *FieldErrors) Add(field, reason string) {
	*e = append(*e, FieldError{Field: field, Reason: reason})
}

// uuidPattern is a UUID in its canonical lower-case form.
var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidUUID reports whether s is a UUID in canonical form (any case).
func ValidUUID(s string) bool { return uuidPattern.MatchString(strings.ToLower(s)) }

// PathUUID returns the {id} of the path in lower case, or a not-found error naming what for
// an id that cannot exist: a malformed id is as absent as an unknown one.
func PathUUID(r *http.Request, what string) (string, error) {
	id := strings.ToLower(PathVar(r, "id"))
	if !uuidPattern.MatchString(id) {
		return "", NotFound("no %s with id %s", what, printable(id))
	}
	return id, nil
}

// Document serves a fixed JSON document (a function's OpenAPI description).
func Document(doc []byte) HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		_, err := w.Write(doc)
		return err
	}
}
