package knative_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/orangecarrental/orange/functions/all"
)

// portalClient is what the realm says of a portal's browser client.
type portalClient struct {
	ClientID                  string            `json:"clientId"`
	Enabled                   bool              `json:"enabled"`
	PublicClient              bool              `json:"publicClient"`
	StandardFlowEnabled       bool              `json:"standardFlowEnabled"`
	ImplicitFlowEnabled       bool              `json:"implicitFlowEnabled"`
	DirectAccessGrantsEnabled bool              `json:"directAccessGrantsEnabled"`
	ServiceAccountsEnabled    bool              `json:"serviceAccountsEnabled"`
	RedirectURIs              []string          `json:"redirectUris"`
	Attributes                map[string]string `json:"attributes"`
	ProtocolMappers           []struct {
		ProtocolMapper string            `json:"protocolMapper"`
		Config         map[string]string `json:"config"`
	} `json:"protocolMappers"`
}

// TestRealmPortalClients: every function with a browser sign-in (SignInCallback) has a
// public client of its own in the realm — authorization code only, PKCE S256 — whose only
// redirect URI is its callback below its origin placeholder and whose sign-out returns to
// its home page, with the API audience in its access tokens (docs/portals.md).
func TestRealmPortalClients(t *testing.T) {
	t.Parallel()
	modDir, _ := moduleRoot(t)
	raw, err := os.ReadFile(filepath.Join(modDir, filepath.FromSlash(realmFile)))
	if err != nil {
		t.Fatal(err)
	}
	var rl struct {
		Clients []portalClient `json:"clients"`
	}
	if err := json.Unmarshal(raw, &rl); err != nil {
		t.Fatal(err)
	}
	aud := apiAudience(t)
	readme, err := os.ReadFile(filepath.Join(modDir, "knative", "keycloak", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	portals := 0
	for _, fn := range all.Functions() {
		if fn.SignInCallback == "" {
			continue
		}
		portals++
		i := slices.IndexFunc(rl.Clients, func(c portalClient) bool { return c.ClientID == fn.Service })
		if i < 0 {
			t.Errorf("%s: no client %s (the portal signs users in as it)", realmFile, fn.Service)
			continue
		}
		c := rl.Clients[i]
		origin := "${" + strings.ToUpper(strings.ReplaceAll(fn.Service, "-", "_")) + "_ORIGIN}"
		home := strings.TrimSuffix(fn.SignInCallback, "auth/callback")
		for _, f := range []struct {
			field     string
			got, want bool
		}{
			{"enabled", c.Enabled, true},
			{"publicClient", c.PublicClient, true},
			{"standardFlowEnabled", c.StandardFlowEnabled, true},
			{"implicitFlowEnabled", c.ImplicitFlowEnabled, false},
			{"directAccessGrantsEnabled", c.DirectAccessGrantsEnabled, false},
			{"serviceAccountsEnabled", c.ServiceAccountsEnabled, false},
		} {
			if f.got != f.want {
				t.Errorf("%s: client %s: %s = %v, want %v", realmFile, c.ClientID, f.field, f.got, f.want)
			}
		}
		if !slices.Equal(c.RedirectURIs, []string{origin + fn.SignInCallback}) {
			t.Errorf("%s: client %s: redirectUris = %v, want exactly [%s] (no wildcard)", realmFile, c.ClientID, c.RedirectURIs, origin+fn.SignInCallback)
		}
		if got := c.Attributes["pkce.code.challenge.method"]; got != "S256" {
			t.Errorf("%s: client %s: pkce.code.challenge.method = %q, want S256", realmFile, c.ClientID, got)
		}
		if got := c.Attributes["post.logout.redirect.uris"]; got != origin+home {
			t.Errorf("%s: client %s: post.logout.redirect.uris = %q, want %q (the portal's home)", realmFile, c.ClientID, got, origin+home)
		}
		if !slices.ContainsFunc(c.ProtocolMappers, func(m struct {
			ProtocolMapper string            `json:"protocolMapper"`
			Config         map[string]string `json:"config"`
		}) bool {
			return m.ProtocolMapper == "oidc-audience-mapper" && m.Config["included.custom.audience"] == aud && m.Config["access.token.claim"] == "true"
		}) {
			t.Errorf("%s: client %s: no audience mapper putting %q into access tokens", realmFile, c.ClientID, aud)
		}
		if !strings.Contains(string(readme), strings.Trim(origin, "${}")) {
			t.Errorf("knative/keycloak/README.md: does not name %s", strings.Trim(origin, "${}"))
		}
	}
	if portals == 0 {
		t.Skip("no portal registered in functions/all yet")
	}
}
