package platform

import (
	"encoding/json"
	"math"
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

// NoVersion is what IfMatch answers for an If-Match that names no version this API issued:
// only weak tags, tags WriteVersioned never writes ("01", "abc", "0") or versions beyond the
// integer columns that hold them. It is greater than every stored version (an integer column,
// counted up from 1), so the stores' comparison fails as for any outdated version: 412 for a
// resource that exists, 404 for one that does not.
const NoVersion int64 = math.MaxInt32

// IfMatch returns the row version an If-Match header requires, 0 when there is none or "*".
//
// The header is evaluated as RFC 9110 §13.1.1 says, with the strong comparison: a list of
// entity tags (in one header line or several) matches when one of its strong tags is the
// representation's ETag, byte for byte; a weak tag (W/"3") never matches. A header that
// matches nothing this API writes is NoVersion. Decisions where the RFC is silent: a header
// that is not an entity-tag list (3, "3, garbage, "*" beside tags) is a 400 — bad input, not a
// condition; a list naming two different versions is a 400 too, as the stores compare with
// one version (no client needs two: the ETag is the row's version).
func IfMatch(r *http.Request) (int64, error) {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return 0, nil
	}
	tags, ok := parseETags(strings.Join(values, ","))
	if !ok {
		return 0, Invalid("If-Match must be \"*\" or ETags this API returned, such as \"3\"")
	}
	if len(tags) == 1 && tags[0] == "*" {
		return 0, nil
	}
	if len(tags) == 0 {
		// An empty list matches nothing (a client whose ETag came out empty keeps its
		// protection against a lost update: 412, not a write).
		return NoVersion, nil
	}
	var version int64
	for _, tag := range tags {
		if tag == "*" {
			return 0, Invalid("If-Match is either \"*\" or a list of ETags")
		}
		v, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64)
		if strings.HasPrefix(tag, "W/") || err != nil || v < 1 || tag != strconv.Quote(strconv.FormatInt(v, 10)) || v >= NoVersion {
			continue // cannot match an ETag WriteVersioned wrote
		}
		if version != 0 && version != v {
			return 0, Errorf(KindInvalid, "If-Match may name one version of the resource, not %d and %d", version, v)
		}
		version = v
	}
	if version == 0 {
		return NoVersion, nil
	}
	return version, nil
}

// IfMatchCondition is a request's If-Match as a condition, written one way: its elements
// joined by ", " (several field lines, spacing and empty elements make no difference), or
// the field as sent when it is no valid list; "" without the field. An Idempotency-Key's
// fingerprint holds it: the same condition written otherwise is the same request.
func IfMatchCondition(r *http.Request) string {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return ""
	}
	raw := strings.Join(values, ",")
	tags, ok := parseETags(raw)
	if !ok {
		return raw
	}
	return "[" + strings.Join(tags, ", ") + "]"
}

// parseETags splits an If-Match field value into its elements — "*" or entity tags, each as
// written (W/ prefix and quotes kept) — or says it is not a valid list (RFC 9110 §5.6.1,
// §8.8.3: empty elements between commas are allowed, whitespace around them too).
func parseETags(s string) (tags []string, ok bool) {
	for {
		s = strings.TrimLeft(s, " \t")
		switch {
		case s == "":
			return tags, true
		case s[0] == ',':
			s = s[1:]
			continue
		}
		n := etagLen(s)
		if n == 0 {
			return nil, false
		}
		tags = append(tags, s[:n])
		s = strings.TrimLeft(s[n:], " \t")
		if s != "" && s[0] != ',' {
			return nil, false
		}
	}
}

// etagLen is the length of the "*" or entity tag s starts with, 0 when it starts with neither.
func etagLen(s string) int {
	if s[0] == '*' {
		return 1
	}
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s) <= start || s[start] != '"' {
		return 0
	}
	for i := start + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1
		case c < 0x21 || c == 0x7f: // etagc: %x21 / %x23-7E / obs-text
			return 0
		}
	}
	return 0
}
