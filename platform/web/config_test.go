package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/web"
)

// TestConfigValidate: a portal does not start with keys it cannot use or URLs it cannot
// redirect to, and never prints its keys.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := web.Config{SessionKeys: []string{newKey()}, IssuerURL: "https://id.example.com/realms/orange-car-rental", SessionTTL: time.Hour}
	require.NoError(t, good.Validate())
	cases := []struct {
		name   string
		change func(*web.Config)
		want   string
	}{
		{"no keys", func(c *web.Config) { c.SessionKeys = nil }, "PORTAL_SESSION_KEYS is required"},
		{"short key", func(c *web.Config) { c.SessionKeys = []string{"c2hvcnQ="} }, "key 1 is not 32 bytes"},
		{"second key not base64", func(c *web.Config) { c.SessionKeys = append(c.SessionKeys, "not base64!") }, "key 2 is not 32 bytes"},
		{"no issuer", func(c *web.Config) { c.IssuerURL = "" }, "OIDC_ISSUER_URL"},
		{"server issuer not http", func(c *web.Config) { c.ServerIssuerURL = "keycloak:8080" }, "PORTAL_OIDC_SERVER_URL"},
		{"public URL not http", func(c *web.Config) { c.PublicURL = "rent.example.com" }, "PORTAL_PUBLIC_URL"},
		{"no session life", func(c *web.Config) { c.SessionTTL = 0 }, "PORTAL_SESSION_TTL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			c.SessionKeys = append([]string(nil), good.SessionKeys...)
			tc.change(&c)
			err := c.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, err = web.New(context.Background(), web.Options{Service: "public-portal", BasePath: "/", Config: c})
			assert.Error(t, err, "New refuses it too")
		})
	}
	assert.NotContains(t, good.String(), good.SessionKeys[0])
	_, err := web.New(context.Background(), web.Options{Service: "public-portal", BasePath: "/call-center", Config: good})
	assert.ErrorContains(t, err, "must start and end with /")
	// Keys sent in clear text to a host on the network: refused at start.
	plain := good
	plain.IssuerURL = "http://id.example.com/realms/orange-car-rental"
	_, err = web.New(context.Background(), web.Options{Service: "public-portal", BasePath: "/", Config: plain})
	assert.Error(t, err)
}

// TestPublicURL: with PORTAL_PUBLIC_URL set, the redirect URI is below it whatever Host the
// request names.
func TestPublicURL(t *testing.T) {
	t.Parallel()
	s := newSystem(t, func(o *web.Options) { o.Config.PublicURL = "https://rent.example.com" })
	p := s.browser(t).get("/auth/login?next=/")
	require.Equal(t, http.StatusSeeOther, p.StatusCode)
	u, err := url.Parse(p.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "https://rent.example.com/auth/callback", u.Query().Get("redirect_uri"))
}

// TestRedirectAfterPost: a handled post answers 303 to a page of the portal.
func TestRedirectAfterPost(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	b := s.browser(t)
	p := b.post("/call-center/form/ok", url.Values{"csrf": {csrf(t, b.get("/call-center/form"))}})
	assert.Equal(t, http.StatusSeeOther, p.StatusCode)
	assert.Equal(t, "/call-center/?done=1", p.Header.Get("Location"), "rel is below the portal's base")
	p = b.post("/form/ok", url.Values{"csrf": {csrf(t, b.get("/form"))}})
	assert.Equal(t, "/?done=1", p.Header.Get("Location"))
}
