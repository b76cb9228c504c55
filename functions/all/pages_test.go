package all_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/platform"
)

// TestPortalPagesParse: every page of every portal parses. Pages parse on their first
// render (platform/web), so without this a broken page would show only when someone opens
// it. A portal is a public function with a sign-in callback; each must offer CheckPages.
func TestPortalPagesParse(t *testing.T) {
	t.Parallel()
	env := envconfig.MapLookuper(map[string]string{
		"OIDC_ISSUER_URL":     "http://127.0.0.1:1/realms/orange",
		"PORTAL_SESSION_KEYS": base64.StdEncoding.EncodeToString(make([]byte, 32)),
	})
	portals := 0
	for _, fn := range all.Functions() {
		if !fn.Public || fn.SignInCallback == "" {
			continue
		}
		portals++
		t.Run(fn.Service, func(t *testing.T) {
			api, err := fn.New(context.Background(), platform.Deps{Env: env})
			require.NoError(t, err)
			pages, ok := api.(interface{ CheckPages() error })
			require.True(t, ok, "%s serves pages: it must offer CheckPages", fn.Service)
			require.NoError(t, pages.CheckPages())
		})
	}
	require.Equal(t, 2, portals, "the call center and the public portal")
}
