package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// DefaultMaxBodyBytes bounds a JSON request body unless a handler asks for another limit.
const DefaultMaxBodyBytes = 64 << 10

// DecodeJSON reads r's body strictly into dst: the content type must be application/json
// (415), the body at most maxBytes (413), valid UTF-8 throughout (400), one well-formed JSON
// value with no unknown fields and nothing after it (400). maxBytes ≤ 0 means
// DefaultMaxBodyBytes.
//
// The UTF-8 check runs on the raw bytes before decoding: encoding/json would otherwise
// replace every invalid byte inside a string with U+FFFD and carry on, so a name or a reason
// would be stored as something the caller never sent.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return Errorf(KindUnsupportedMedia, "the request body must be application/json")
	}
	if r.ContentLength > maxBytes {
		return Errorf(KindTooLarge, "the request body exceeds %d bytes", maxBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		return decodeError(err, maxBytes)
	}
	if !utf8.Valid(body) {
		return Invalid("the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, maxBytes)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return Invalid("the request body must hold a single JSON value")
	}
	return nil
}

// decodeError turns encoding/json's errors into caller-safe messages.
func decodeError(err error, maxBytes int64) error {
	var (
		syntaxErr    *json.SyntaxError
		typeErr      *json.UnmarshalTypeError
		tooLargeErr  *http.MaxBytesError
		invalidField = "json: unknown field "
	)
	switch {
	case errors.As(err, &tooLargeErr):
		return Errorf(KindTooLarge, "the request body exceeds %d bytes", maxBytes)
	case errors.As(err, &syntaxErr):
		return Invalid(fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("malformed JSON: unexpected end of body")
	case errors.Is(err, io.EOF):
		return Invalid("the request body is empty")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		return Invalid("wrong JSON type", FieldError{Field: field, Reason: "must be " + typeErr.Type.String()})
	case strings.HasPrefix(err.Error(), invalidField):
		field := strings.Trim(strings.TrimPrefix(err.Error(), invalidField), `"`)
		return Invalid("unknown field", FieldError{Field: field, Reason: "unknown field"})
	default:
		return Invalid("malformed JSON")
	}
}
