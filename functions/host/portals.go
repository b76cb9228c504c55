package host

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// portalClients are the development issuer's public clients: every function with a browser
// sign-in (the portals), with its callback on this machine's port under each loopback name
// a browser may use, matched exactly as Keycloak does.
func portalClients(reg *platform.Registry, port string) []devissuer.PublicClient {
	var out []devissuer.PublicClient
	for _, fn := range reg.Functions() {
		if fn.SignInCallback == "" {
			continue
		}
		home := strings.TrimSuffix(fn.SignInCallback, "auth/callback")
		c := devissuer.PublicClient{ID: fn.Service}
		for _, host := range []string{"localhost", "127.0.0.1", "[::1]"} {
			origin := "http://" + host + ":" + port
			c.RedirectURIs = append(c.RedirectURIs, origin+fn.SignInCallback)
			c.PostLogoutURIs = append(c.PostLogoutURIs, origin+home)
		}
		out = append(out, c)
	}
	return out
}

// portalDefaults gives the portals, when one process hosts them, the issuer every function
// trusts and a session key made for this process — unless env sets them (Dev sets the key
// from its data folder, so that sessions survive a restart).
func portalDefaults(env envconfig.Lookuper, issuerURL string) envconfig.Lookuper {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	defaults := envconfig.MapLookuper(map[string]string{
		"OIDC_ISSUER_URL":     issuerURL,
		"PORTAL_SESSION_KEYS": base64.StdEncoding.EncodeToString(key),
	})
	if env == nil {
		return defaults
	}
	return envconfig.MultiLookuper(env, defaults)
}

// loadOrCreatePortalKey keeps the portals' session key in path (like the issuer's signing
// key), so a restart of `orange dev` signs nobody out.
func loadOrCreatePortalKey(path string) (string, error) {
	if raw, err := os.ReadFile(path); err == nil {
		k := strings.TrimSpace(string(raw))
		if b, err := base64.StdEncoding.DecodeString(k); err != nil || len(b) != 32 {
			return "", fmt.Errorf("%s does not hold a base64 32-byte key", path)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	k := base64.StdEncoding.EncodeToString(key)
	return k, os.WriteFile(path, []byte(k+"\n"), 0o600)
}
