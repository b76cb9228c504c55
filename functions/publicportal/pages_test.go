package publicportal

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

// TestPagesParse: every page template parses. Pages are parsed on their first render
// (platform/web), so without this a broken page would show only when someone opens it.
func TestPagesParse(t *testing.T) {
	t.Parallel()
	var cfg Config
	require.NoError(t, envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &cfg,
		Lookuper: envconfig.MapLookuper(map[string]string{"OIDC_ISSUER_URL": "http://127.0.0.1:1/realms/orange",
			"PORTAL_SESSION_KEYS": base64.StdEncoding.EncodeToString(make([]byte, 32))})}))
	s, err := New(context.Background(), cfg, platform.Deps{})
	require.NoError(t, err)
	require.NoError(t, s.site.CheckPages())
}
