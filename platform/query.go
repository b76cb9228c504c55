package platform

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Query reads a request's query string strictly, the one way every list endpoint reads it:
// an unknown parameter, a repeated one, a malformed pair (a ';' used as a separator, a bad
// %-escape) is an error that names it, and every problem is collected so that one 400
// answer lists them all. Nothing is silently dropped: `?page=1;pageSize=9999999` is a 400
// naming the malformed pair ("page"), not page 1 of the default size.
type Query struct {
	values url.Values
	errs   []FieldError
}

// ParseQuery reads r's query string, allowing only the named parameters.
func ParseQuery(r *http.Request, allowed ...string) *Query {
	q := &Query{values: url.Values{}}
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, kerr := url.QueryUnescape(rawKey)
		value, verr := url.QueryUnescape(rawValue)
		switch {
		case strings.Contains(pair, ";"):
			q.Fail(printable(rawKey), "malformed: parameters are separated by '&', not ';'")
		case kerr != nil || verr != nil:
			q.Fail(printable(rawKey), "malformed %-escape")
		case !textOK(key) || !textOK(value):
			// PostgreSQL stores neither (a 500 where the value reaches a query).
			q.Fail(printable(strings.ToValidUTF8(key, "?")), "must be valid UTF-8 without NUL characters")
		default:
			q.values[key] = append(q.values[key], value)
		}
	}
	keys := make([]string, 0, len(q.values))
	for k := range q.values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case !slices.Contains(allowed, k):
			q.Fail(printable(k), "unknown parameter; supported: "+strings.Join(allowed, ", "))
		case len(q.values[k]) > 1:
			q.Fail(k, "give it once")
		}
	}
	return q
}

// textOK tells whether s is text PostgreSQL can hold: valid UTF-8 without NUL.
func textOK(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// printable bounds a name taken from the request before it goes into an answer.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return s
}

// Fail records a problem with parameter field.
func (q *Query) Fail(field, reason string) {
	q.errs = append(q.errs, FieldError{Field: field, Reason: reason})
}

// Has reports whether the parameter was given (even empty).
func (q *Query) Has(key string) bool { _, ok := q.values[key]; return ok }

// Get is the parameter's value, trimmed; "" when absent.
func (q *Query) Get(key string) string { return strings.TrimSpace(q.values.Get(key)) }

// UUID reads an optional UUID, in lower case — the form every function stores ids in, so
// that an id given in capitals (as valid: RFC 9562) finds what it names; "" when absent.
func (q *Query) UUID(key string) string {
	raw := q.Get(key)
	if raw == "" {
		return ""
	}
	if !ValidUUID(raw) {
		q.Fail(key, "must be a UUID")
		return ""
	}
	return strings.ToLower(raw)
}

// Time reads an RFC 3339 time; required says whether it must be given. The zero time
// answers an absent or bad one.
func (q *Query) Time(key string, required bool) time.Time {
	raw := q.Get(key)
	if raw == "" {
		if required {
			q.Fail(key, "required: an RFC 3339 time such as 2026-06-01T10:00:00+02:00")
		}
		return time.Time{}
	}
	// An unencoded "+02:00" in a URL arrives as " 02:00"; there is no other space in a time.
	t, err := ParseTime(strings.Replace(raw, " ", "+", 1))
	if err != nil {
		q.Fail(key, "must be an RFC 3339 time such as 2026-06-01T10:00:00+02:00")
		return time.Time{}
	}
	return t
}

// Int reads an optional whole number within [lo, hi], def when absent.
func (q *Query) Int(key string, lo, hi, def int64) int64 {
	raw := q.Get(key)
	if raw == "" {
		return def
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < lo || n > hi {
		q.Fail(key, "must be a whole number from "+strconv.FormatInt(lo, 10)+" to "+strconv.FormatInt(hi, 10))
		return def
	}
	return n
}

// Bool reads an optional true/false, def when absent.
func (q *Query) Bool(key string, def bool) bool {
	switch strings.ToLower(q.Get(key)) {
	case "":
		return def
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	q.Fail(key, "must be true or false")
	return def
}

// PageSizeMax is the largest page any list answers.
const PageSizeMax = 100

// Paging reads page (from 1, default 1) and pageSize (1…PageSizeMax, default 20).
func (q *Query) Paging() (page, size int) {
	return int(q.Int("page", 1, 1_000_000, 1)), int(q.Int("pageSize", 1, PageSizeMax, 20))
}

// Err is nil when every parameter was fine, else an Invalid error with message listing
// every problem.
func (q *Query) Err(message string) error {
	if len(q.errs) == 0 {
		return nil
	}
	if n := len(q.errs); n > maxQueryErrors {
		// A query string of thousands of bad parameters is answered in a bounded problem:
		// its first errors, and how many more there were.
		return Invalid(fmt.Sprintf("%s (%d more errors not listed)", message, n-maxQueryErrors), q.errs[:maxQueryErrors]...)
	}
	return Invalid(message, q.errs...)
}

// maxQueryErrors bounds the field errors one answer lists.
const maxQueryErrors = 20
