package customers_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSearchQueryIsStrict: the customer search reads its query string with
// platform.ParseQuery, so nothing is silently dropped: a ';' used as a separator, a repeated
// or unknown parameter, a bad %-escape is a 400 problem naming it (issue 13:
// `?page=1;pageSize=9999999` answered 200 with the ';' part dropped), and nothing is written.
func TestSearchQueryIsStrict(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	before := a.snapshot()
	tests := []struct {
		query  string
		fields []string
	}{
		{"page=1;pageSize=9999999", []string{"page"}},
		{"status=active;name=alice", []string{"status"}},
		{"name=alice&name=bob", []string{"name"}},
		{"status=active&sort=name", []string{"sort"}},
		{"email=%ZZ", []string{"email"}},
		{"page=1;pageSize=5&colour=orange&status=gone", []string{"page", "colour", "status"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := a.do(agent, http.MethodGet, "/api/customers?"+tt.query, "", "")
			require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			assert.ElementsMatch(t, tt.fields, problemFields(t, r))
		})
	}
	assert.Equal(t, before, a.snapshot(), "a rejected search wrote")

	// Well-formed queries still answer.
	r := a.do(agent, http.MethodGet, "/api/customers?name=sch&status=active&page=1&pageSize=5", "", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
}
