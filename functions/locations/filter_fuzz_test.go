package locations

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/orangecarrental/orange/platform"
)

// FuzzParseFilter feeds fuzzed query strings to the location list's parser (status, city).
// It must never panic; a refusal is a 400 naming a field; an accepted filter holds only the
// known parameters, a valid status, and a city PostgreSQL can take as a query argument
// (valid UTF-8, no NUL: anything else failed the query with a 500).
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "status=active", "status=ACTIVE&city=Berlin", "city=%20M%C3%BCnchen%20", "status=gone",
		"sort=name", "city=%00", "city=%FF", "city=a&city=b", "&&&=", "city", "status=active;city=Berlin", "city=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest(http.MethodGet, "/api/locations", nil)
		r.URL.RawQuery = raw
		q, _ := url.ParseQuery(raw) // the pairs that parse
		got, err := parseFilter(r)
		if err != nil {
			var perr *platform.Error
			if !errors.As(err, &perr) || perr.Kind != platform.KindInvalid || len(perr.Fields) == 0 {
				t.Fatalf("parseFilter(%q): %v, want a 400 naming the field", raw, err)
			}
			return
		}
		for k, v := range q {
			if k != "status" && k != "city" || len(v) > 1 {
				t.Fatalf("parseFilter(%q) accepted parameter %q (%d times)", raw, k, len(v))
			}
		}
		if got.Status != "" && !got.Status.valid() {
			t.Fatalf("status %q", got.Status)
		}
		if !utf8.ValidString(got.City) || strings.ContainsRune(got.City, 0) {
			t.Fatalf("parseFilter(%q) accepted city %q, which PostgreSQL refuses as text", raw, got.City)
		}
	})
}
