package platform_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

func TestParseTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want string // RFC 3339 in UTC; "" for an error
	}{
		{"2027-03-28T10:00:00+02:00", "2027-03-28T08:00:00Z"},
		{" 2027-03-28T10:00:00Z ", "2027-03-28T10:00:00Z"},
		{"2027-03-28T10:00:00.25+01:00", "2027-03-28T09:00:00.25Z"},
		{"2027-03-28T10:00:00+23:59", "2027-03-27T10:01:00Z"},
		{"2027-03-28T10:00:00-23:59", "2027-03-29T09:59:00Z"},
		// Rounded to the microsecond, as PostgreSQL stores it.
		{"2027-04-06T11:00:00.0000004+02:00", "2027-04-06T09:00:00Z"},
		{"2027-04-06T11:00:00.0000006+02:00", "2027-04-06T09:00:00.000001Z"},
		{"2027-03-28T17:59:59.9999996+01:00", "2027-03-28T17:00:00Z"},
		// Offsets Go's parser takes and cannot write back.
		{"2027-03-28T10:00:00+24:00", ""},
		{"2027-03-28T10:00:00-24:00", ""},
		{"2027-03-28T10:00:00+23:60", ""},
		{"2027-03-28T10:00:00+24:59", ""},
		{"2027-03-28T10:00:00+25:00", ""},
		{"2027-03-28T10:00:00+00:60", ""}, // Go reads it as +01:00
		{"2027-03-28T10:00:00-12:60", ""},
		{"2027-03-28T10:00:00", ""},
		// What RFC 3339 allows and Go's parser does not.
		{"2027-03-28t10:00:00z", "2027-03-28T10:00:00Z"},
		{"2027-03-28t10:00:00.5+01:00", "2027-03-28T09:00:00.5Z"},
		{"2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"}, // a leap second, as PostgreSQL reads it
		{"2017-01-01T00:59:60+01:00", "2017-01-01T00:00:00Z"},
		{"2016-12-31T23:59:60.5Z", "2017-01-01T00:00:00.5Z"},
		{"2027-03-28T10:00:60Z", ""},   // a second 60 anywhere but at 23:59 UTC
		{"2027-03-28T10:00:00,5Z", ""}, // Go takes a comma before the fraction
		{"2027-03-28", ""},
		{"", ""},
	} {
		got, err := platform.ParseTime(tc.raw)
		if tc.want == "" {
			assert.Error(t, err, tc.raw)
			continue
		}
		require.NoError(t, err, tc.raw)
		assert.Equal(t, tc.want, got.UTC().Format(time.RFC3339Nano), tc.raw)
		_, err = got.MarshalJSON()
		assert.NoError(t, err, "%s is written back", tc.raw)
	}
}
