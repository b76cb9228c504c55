package platform_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

func TestLoadZone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		wantErr bool
	}{
		{name: "Europe/Berlin"},
		{name: "UTC"},
		{name: "Mars/Olympus_Mons", wantErr: true},
		{name: "../../etc/passwd", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, err := platform.LoadZone(tc.name)
			if tc.wantErr {
				require.Error(t, err)
				_, err = platform.LoadZone(tc.name)
				require.Error(t, err, "a name that failed fails again: it was not kept")
				return
			}
			require.NoError(t, err)
			want, err := time.LoadLocation(tc.name)
			require.NoError(t, err)
			assert.Equal(t, want.String(), first.String())
			instant := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
			assert.Equal(t, instant.In(want).Format(time.RFC3339), instant.In(first).Format(time.RFC3339))
			again, err := platform.LoadZone(tc.name)
			require.NoError(t, err)
			assert.Same(t, first, again, "loaded once")
		})
	}
}
