package platform_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

// TestParseQuery: every malformed, unknown or repeated parameter is named, nothing dropped.
func TestParseQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		query      string
		wantFields []string
		page, size int
	}{
		{"empty", "", nil, 1, 20},
		{"paging", "page=3&pageSize=50", nil, 3, 50},
		{"semicolon", "page=1;pageSize=9999999", []string{"page"}, 1, 20},
		{"semicolon later", "page=2&pageSize=10;x=1", []string{"pageSize"}, 2, 20},
		{"unknown", "page=1&sort=name&limit=5", []string{"limit", "sort"}, 1, 20},
		{"repeated", "page=1&page=2", []string{"page"}, 1, 20},
		{"bad escape", "page=%zz", []string{"page"}, 1, 20},
		{"too large", "pageSize=101", []string{"pageSize"}, 1, 20},
		{"not a number", "page=two", []string{"page"}, 1, 20},
		{"stray ampersands", "&&page=2&", nil, 2, 20},
		// Text PostgreSQL cannot hold: a 500 where it reached a query (dead letters' filters).
		{"NUL", "page=1&pageSize=%00", []string{"pageSize"}, 1, 20},
		{"invalid UTF-8", "page=%ff", []string{"page"}, 1, 20},
		{"invalid UTF-8 name", "%ff=1", []string{"?"}, 1, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := platform.ParseQuery(httptest.NewRequest("GET", "/x?"+tt.query, nil), "page", "pageSize")
			page, size := q.Paging()
			err := q.Err("bad query")
			if tt.wantFields == nil {
				require.NoError(t, err)
				assert.Equal(t, []int{tt.page, tt.size}, []int{page, size})
				return
			}
			var pe *platform.Error
			require.True(t, errors.As(err, &pe), "%v", err)
			var got []string
			for _, f := range pe.Fields {
				got = append(got, f.Field)
			}
			for _, f := range tt.wantFields {
				assert.Contains(t, got, f)
			}
		})
	}
}

func TestQueryTime(t *testing.T) {
	t.Parallel()
	q := platform.ParseQuery(httptest.NewRequest("GET", "/x?from=2027-05-01T10:00:00.250%2B02:00&to=2027-05-02T10:00:00+02:00&bad=yesterday", nil), "from", "to", "bad")
	from := q.Time("from", true)
	assert.Equal(t, 250_000_000, from.Nanosecond(), "sub-second precision kept")
	assert.False(t, q.Time("to", true).IsZero(), "an unencoded + arrives as a space")
	assert.True(t, q.Time("bad", false).IsZero())
	assert.True(t, q.Time("missing", true).IsZero())
	assert.Error(t, q.Err("bad"))
}

// TestQueryErrorsBounded: 3,000 unknown parameters were answered with 3,000 errors.
func TestQueryErrorsBounded(t *testing.T) {
	t.Parallel()
	raw := ""
	for i := range 3000 {
		raw += fmt.Sprintf("&x%d=1", i)
	}
	err := platform.ParseQuery(httptest.NewRequest("GET", "/x?"+raw, nil), "page").Err("bad query")
	var pe *platform.Error
	require.True(t, errors.As(err, &pe), "%v", err)
	assert.Len(t, pe.Fields, 20)
	assert.Equal(t, "x0", pe.Fields[0].Field)
	assert.Contains(t, pe.Message, "2980 more errors not listed")
}
