package platform_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orangecarrental/orange/platform"
)

// TestIfMatch: the header as RFC 9110 §13.1.1 evaluates it with the strong comparison, read
// into the one version the stores compare with.
func TestIfMatch(t *testing.T) {
	none := platform.NoVersion
	for _, tc := range []struct {
		name    string
		headers []string // one field line each; nil: no If-Match
		want    int64
		invalid bool
	}{
		{name: "absent", want: 0},
		{name: "empty: a list of no tags matches nothing", headers: []string{""}, want: none},
		{name: "only commas", headers: []string{" , ,"}, want: none},
		{name: "any", headers: []string{"*"}, want: 0},
		{name: "an ETag this API wrote", headers: []string{`"3"`}, want: 3},
		{name: "whitespace around it", headers: []string{` "3"  `}, want: 3},
		{name: "a list: the one that can match", headers: []string{`"x", "3", W/"4"`}, want: 3},
		{name: "the same version twice", headers: []string{`"3", "3"`}, want: 3},
		{name: "a list over two field lines", headers: []string{`"abc"`, `"7"`}, want: 7},
		{name: "empty list elements", headers: []string{`, "3" ,,`}, want: 3},
		{name: "weak: never matches", headers: []string{`W/"3"`}, want: none},
		{name: "not the bytes written (leading zero)", headers: []string{`"03"`}, want: none},
		{name: "a sign", headers: []string{`"+3"`}, want: none},
		{name: "a tag this API never writes", headers: []string{`"abc"`}, want: none},
		{name: "version 0", headers: []string{`"0"`}, want: none},
		{name: "an empty tag", headers: []string{`""`}, want: none},
		{name: "beyond any stored version", headers: []string{`"3000000000"`}, want: none},
		{name: "beyond int64", headers: []string{`"99999999999999999999"`}, want: none},
		{name: "unquoted", headers: []string{`3`}, invalid: true},
		{name: "garbage", headers: []string{`garbage`}, invalid: true},
		{name: "an open quote", headers: []string{`"3`}, invalid: true},
		{name: "two tags without a comma", headers: []string{`"3" "4"`}, invalid: true},
		{name: "a space inside the tag", headers: []string{`"3 4"`}, invalid: true},
		{name: "a lower-case weak prefix", headers: []string{`w/"3"`}, invalid: true},
		{name: "star among tags", headers: []string{`*, "3"`}, invalid: true},
		{name: "two versions", headers: []string{`"3", "4"`}, invalid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPut, "/x", nil)
			for _, h := range tc.headers {
				req.Header.Add("If-Match", h)
			}
			got, err := platform.IfMatch(req)
			if tc.invalid {
				var perr *platform.Error
				if assert.True(t, errors.As(err, &perr), "want a 400, got %v", err) {
					assert.Equal(t, platform.KindInvalid, perr.Kind)
				}
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
