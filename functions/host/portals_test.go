package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

func named(service string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(service)) })
}

func fn(service string, public bool, prefixes ...string) platform.Function {
	return platform.Function{Service: service, Public: public, Prefixes: prefixes,
		New: func(context.Context, platform.Deps) (platform.API, error) { return platform.RouteTable{}, nil }}
}

// TestMountRoot: the public portal serves every path no other function claims; the API,
// the call center and the development pages keep theirs, and a cluster-local function's
// prefix is still not on the port.
func TestMountRoot(t *testing.T) {
	t.Parallel()
	fns := []platform.Function{
		fn("public-portal", true, platform.RootPrefix),
		fn("api-gateway", true, "/api"),
		fn("call-center-portal", true, "/call-center"),
		fn("notifications-api", false, "/dev/mail", "/api/notifications"),
	}
	reg, err := platform.NewRegistry(fns...)
	require.NoError(t, err)
	assert.True(t, servesRoot(reg))
	mux := http.NewServeMux()
	for _, f := range fns {
		mountPublic(mux, f, named(f.Service))
	}
	for path, want := range map[string]string{
		"/":                      "public-portal",
		"/search?x=1":            "public-portal",
		"/my-bookings/1":         "public-portal",
		"/api/locations":         "api-gateway",
		"/api":                   "api-gateway",
		"/call-center":           "call-center-portal",
		"/call-center/customers": "call-center-portal",
		"/call-centerx":          "public-portal",
		"/dev/mail":              "notifications-api",
		"/dev/mail/1":            "notifications-api",
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		assert.Equal(t, want, rec.Body.String(), path)
	}

	withoutRoot, err := platform.NewRegistry(fns[1:]...)
	require.NoError(t, err)
	assert.False(t, servesRoot(withoutRoot))
}

// TestPortalClients: the development issuer registers each portal's exact callback on the
// port under every loopback name.
func TestPortalClients(t *testing.T) {
	t.Parallel()
	portal := fn("call-center-portal", true, "/call-center")
	portal.SignInCallback = "/call-center/auth/callback"
	reg, err := platform.NewRegistry(portal, fn("api-gateway", true, "/api"))
	require.NoError(t, err)
	cs := portalClients(reg, "8080")
	require.Len(t, cs, 1)
	assert.Equal(t, "call-center-portal", cs[0].ID)
	assert.Equal(t, []string{"http://localhost:8080/call-center/auth/callback", "http://127.0.0.1:8080/call-center/auth/callback",
		"http://[::1]:8080/call-center/auth/callback"}, cs[0].RedirectURIs)
	assert.Equal(t, "http://localhost:8080/call-center/", cs[0].PostLogoutURIs[0])
}

// TestPortalKey: the key is made once and found again; a file that holds no key is refused,
// not replaced.
func TestPortalKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "portal-session-key")
	first, err := loadOrCreatePortalKey(path)
	require.NoError(t, err)
	second, err := loadOrCreatePortalKey(path)
	require.NoError(t, err)
	assert.Equal(t, first, second)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	bad := filepath.Join(t.TempDir(), "portal-session-key")
	require.NoError(t, os.WriteFile(bad, []byte("short"), 0o600))
	_, err = loadOrCreatePortalKey(bad)
	assert.Error(t, err)
	raw, _ := os.ReadFile(bad)
	assert.Equal(t, "short", string(raw))

	env := portalDefaults(nil, "http://localhost:8080/realms/x")
	v, ok := env.Lookup("OIDC_ISSUER_URL")
	assert.True(t, ok)
	assert.Equal(t, "http://localhost:8080/realms/x", v)
	k, _ := env.Lookup("PORTAL_SESSION_KEYS")
	assert.Len(t, k, 44)
}
