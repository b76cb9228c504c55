package customers

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/orangecarrental/orange/platform"
)

// FuzzParseFilter feeds fuzzed query strings to the customer search's parser (name, email,
// status, page, pageSize). It must never panic; a refusal is a 400 naming fields; an
// accepted filter holds only known parameters, each once, within their ranges, and text
// PostgreSQL can take as a query argument (valid UTF-8, no NUL: anything else failed the
// query with a 500); and the filter parses the same again from its re-encoded query.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"", "name=ada", "name=Ada+Lovelace&status=ACTIVE&page=2&pageSize=100", "email=%20ada@example.com%20",
		"page=0", "page=10001", "pageSize=101", "page=1&page=2", "sort=name", "status=gone",
		"name=a+b+c+d+e+f", "name=" + strings.Repeat("x", 201), "name=%00", "email=%FF", "name=%E2%80",
		"page=+1", "page=0x10", "&&&=", "name",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // the pairs that parse, to check what was accepted
		got, err := parseFilter(queryRequest(raw))
		if err != nil {
			var perr *platform.Error
			if !errors.As(err, &perr) || perr.Kind != platform.KindInvalid || len(perr.Fields) == 0 {
				t.Fatalf("parseFilter(%q): %v, want a 400 naming the fields", raw, err)
			}
			return
		}
		for k, vs := range q {
			if !searchParams[k] || len(vs) != 1 {
				t.Fatalf("parseFilter(%q) accepted parameter %q given %d times", raw, k, len(vs))
			}
		}
		if got.Page < 1 || got.Page > 10000 || got.PageSize < 1 || got.PageSize > maxPageSize {
			t.Fatalf("page %d, size %d", got.Page, got.PageSize)
		}
		if got.Status != "" && !got.Status.valid() || len(got.NameTerms) > 5 {
			t.Fatalf("status %q, %d name terms", got.Status, len(got.NameTerms))
		}
		for _, s := range append([]string{got.Email}, got.NameTerms...) {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				t.Fatalf("parseFilter(%q) accepted %q, which PostgreSQL refuses as text", raw, s)
			}
		}
		again, err := parseFilter(queryRequest(q.Encode()))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("re-encoded %q: %+v, %v; want %+v", q.Encode(), again, err, got)
		}
	})
}

// queryRequest is a search request with the raw query string, as it arrives.
func queryRequest(raw string) *http.Request {
	return &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/api/customers", RawQuery: raw}}
}
