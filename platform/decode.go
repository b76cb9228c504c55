package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// DefaultMaxBodyBytes bounds a JSON request body unless a handler asks for another limit.
const DefaultMaxBodyBytes = 64 << 10

// DecodeJSON reads r's body strictly into dst: the content type must be application/json
// (415; a charset other than UTF-8 too), the body at most maxBytes (413), valid UTF-8
// throughout (400), one well-formed JSON value with no unknown fields, no key named twice in
// an object or in another case than its field's (decodekeys.go), and nothing after it (400).
// maxBytes ≤ 0 means DefaultMaxBodyBytes.
//
// The UTF-8 check runs on the raw bytes before decoding: encoding/json would otherwise
// replace every invalid byte inside a string with U+FFFD and carry on, so a name or a reason
// would be stored as something the caller never sent. For the same reason a string may not
// escape a lone surrogate (`\ud800`, also decoded to U+FFFD), and no string may hold NUL
// (`\u0000`): PostgreSQL's text refuses it, so it would fail as a 500 deep in a store
// instead of a 400 here.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return Errorf(KindUnsupportedMedia, "the request body must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		// JSON is UTF-8 (RFC 8259 §8.1); a body declared otherwise would be read as
		// something its sender did not mean.
		return Errorf(KindUnsupportedMedia, "the request body must be application/json in UTF-8, not charset %s", printable(cs))
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
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if path := pathAt(body, typeErr.Offset); path != "" {
				typeErr.Field = path // with the indices encoding/json leaves out
			}
		}
		return decodeError(err, maxBytes)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return Invalid("the request body must hold a single JSON value")
	}
	if problem := BadEscape(body); problem != "" {
		return Invalid("a string of the request body " + problem)
	}
	if fe := keyProblem(body, reflect.TypeOf(dst)); fe != nil {
		return Invalid("a key of the request body is ambiguous", *fe)
	}
	return nil
}

// BadEscape finds the \u escapes that decode to something the caller did not mean:
// NUL, and a surrogate that is not half of a pair — neither of which PostgreSQL stores, in
// text or jsonb, so a body holding one would otherwise fail on its way into the database
// (a 500, retried for ever by a caller that retries 5xx). body must be well-formed JSON.
// Every JSON document taken from outside goes through it: request bodies (DecodeJSON),
// CloudEvent data a partner or a delivery brings. It returns what is wrong ("holds the NUL
// character (\u0000)"), or "" when nothing is.
func BadEscape(body []byte) string {
	if !bytes.Contains(body, []byte(`\u`)) {
		return ""
	}
	inString := false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			i++
			if body[i] != 'u' {
				continue
			}
			r := hex4(body[i+1 : i+5])
			i += 4
			switch {
			case r == 0:
				return `holds the NUL character (\u0000)`
			case r >= 0xD800 && r < 0xDC00:
				if i+6 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
					if low := hex4(body[i+3 : i+7]); low >= 0xDC00 && low < 0xE000 {
						i += 6
						continue
					}
				}
				return "escapes half of a UTF-16 surrogate pair"
			case r >= 0xDC00 && r < 0xE000:
				return "escapes half of a UTF-16 surrogate pair"
			}
		}
	}
	return ""
}

// pathAt is the path ("extras[1].quantity") of the value of body that ends at offset, as
// encoding/json counts it for an UnmarshalTypeError; "" when no value ends there.
func pathAt(body []byte, offset int64) string {
	type level struct {
		key   string
		index int // -1 in an object
		atKey bool
	}
	var stack []level
	path := func() string {
		var b strings.Builder
		for _, l := range stack {
			if l.index >= 0 {
				fmt.Fprintf(&b, "[%d]", l.index)
			} else {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(l.key)
			}
		}
		return b.String()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // a number out of float64's range (1e400) is a token too: the error is about it
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if n := len(stack); n > 0 && stack[n-1].index < 0 && stack[n-1].atKey {
			if key, ok := tok.(string); ok { // an object's key
				stack[n-1].key, stack[n-1].atKey = key, false
				continue
			}
		}
		switch tok {
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if dec.InputOffset() == offset {
				return path()
			}
		}
		if n := len(stack); n > 0 && tok != json.Delim('{') && tok != json.Delim('[') {
			// A value ended: the next one is the object's next key, or the array's next item.
			if stack[n-1].index >= 0 {
				stack[n-1].index++
			} else {
				stack[n-1].atKey = true
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{index: -1, atKey: true})
		case json.Delim('['):
			stack = append(stack, level{index: 0})
		}
	}
}

// hex4 is the value of four hexadecimal digits (well-formed: the JSON decoded).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// jsonKind says in JSON's words what a value decoded into t must be — never the Go type's
// name ("pricingapi.QuoteRequest", "int64"), which is ours. value is encoding/json's
// description of what came ("number 1e400", "string").
func jsonKind(t reflect.Type, value string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	number := strings.HasPrefix(value, "number")
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if number {
			return "a whole number in range, written without a fraction or exponent"
		}
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		if number {
			return "a number in range"
		}
		return "a number"
	}
	return "a value of another type"
}

// JSONProblem says what is wrong with JSON that encoding/json refused to unmarshal, without
// quoting any of its values — they may be personal, and the answer goes into logs and dead
// letters (an event's receiver refusing its data) — nor naming Go types.
func JSONProblem(err error) string {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end"
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return "must be " + jsonKind(typeErr.Type, typeErr.Value)
	case errors.As(err, &typeErr):
		return typeErr.Field + " must be " + jsonKind(typeErr.Type, typeErr.Value)
	}
	// A field's own decoding (a time, say) quotes the value it refused: not repeated.
	return "a value does not fit its field"
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
		want := jsonKind(typeErr.Type, typeErr.Value)
		if typeErr.Field == "" {
			return Invalid("the request body must be " + want)
		}
		return Invalid("wrong JSON type", FieldError{Field: typeErr.Field, Reason: "must be " + want})
	case strings.HasPrefix(err.Error(), invalidField):
		field := strings.Trim(strings.TrimPrefix(err.Error(), invalidField), `"`)
		return Invalid("unknown field", FieldError{Field: field, Reason: "unknown field"})
	default:
		return Invalid("malformed JSON")
	}
}
