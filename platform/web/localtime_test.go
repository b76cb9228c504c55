package web_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/web"
)

func TestParseLocal(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	for _, tc := range []struct {
		in   string
		want string // the instant in UTC
		err  error
	}{
		{in: "2027-05-01T10:00", want: "2027-05-01T08:00:00Z"},
		{in: " 2027-05-01T10:00:30 ", want: "2027-05-01T08:00:30Z"},
		{in: "2027-01-01T10:00", want: "2027-01-01T09:00:00Z"},
		// Clocks go forward at 02:00 on 28 March 2027: 02:00–02:59 never happen.
		{in: "2027-03-28T01:59", want: "2027-03-28T00:59:00Z"},
		{in: "2027-03-28T02:30", err: web.ErrSkippedLocalTime},
		{in: "2027-03-28T02:00:00", err: web.ErrSkippedLocalTime},
		{in: "2027-03-28T03:00", want: "2027-03-28T01:00:00Z"},
		// Clocks go back at 03:00 on 31 October 2027: 02:00–02:59 happen twice; the first.
		{in: "2027-10-31T02:30", want: "2027-10-31T00:30:00Z"},
		{in: "2027-10-31T03:00", want: "2027-10-31T02:00:00Z"},
		{in: "2027-10-31T01:30", want: "2027-10-30T23:30:00Z"},
		{in: "2027-05-01", err: web.ErrBadLocalTime},
		{in: "2027-05-01T25:00", err: web.ErrBadLocalTime},
		{in: "tomorrow", err: web.ErrBadLocalTime},
	} {
		got, err := web.ParseLocal(tc.in, berlin)
		if tc.err != nil {
			assert.ErrorIs(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got.UTC().Format(time.RFC3339), tc.in)
	}
}
