package devissuer_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

const (
	portal   = "public-portal"
	callback = "http://localhost:8080/auth/callback"
	home     = "http://localhost:8080/"
	verifier = "a-verifier-of-at-least-forty-three-characters-0123456789"
)

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func newLoginServer(t *testing.T) *server {
	s := newServer(t)
	s.issuer.AddPublicClients(devissuer.PublicClient{ID: portal, RedirectURIs: []string{callback}, PostLogoutURIs: []string{home}})
	return s
}

// authParams are a valid authorization request of the portal.
func authParams() url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {portal}, "redirect_uri": {callback}, "state": {"st"},
		"nonce": {"no"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"},
		"scope": {"openid profile email"},
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (s *server) call(t *testing.T, method, path string, form url.Values) answer {
	t.Helper()
	target := s.issuer.URL() + path
	var body io.Reader
	if method == http.MethodGet && form != nil {
		target += "?" + form.Encode()
	} else if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	c := *s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{resp.StatusCode, resp.Header, string(raw)}
}

// login signs user in on the login page and returns the code sent to the callback.
func (s *server) login(t *testing.T, user string) string {
	t.Helper()
	form := authParams()
	form.Set("username", user)
	form.Set("password", user)
	a := s.call(t, http.MethodPost, "/protocol/openid-connect/auth", form)
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	loc, err := url.Parse(a.header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, callback, loc.Scheme+"://"+loc.Host+loc.Path)
	assert.Equal(t, "st", loc.Query().Get("state"))
	require.NotEmpty(t, loc.Query().Get("code"))
	return loc.Query().Get("code")
}

type browserTokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
}

func (s *server) redeem(t *testing.T, form url.Values) (int, browserTokens) {
	t.Helper()
	a := s.call(t, http.MethodPost, "/protocol/openid-connect/token", form)
	var tok browserTokens
	require.NoError(t, json.Unmarshal([]byte(a.body), &tok), a.body)
	return a.status, tok
}

func codeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {portal},
		"redirect_uri": {callback}, "code_verifier": {verifier}}
}

// TestLoginPage: the authorization endpoint shows an accessible login page with no inline
// script or style, and keeps what was typed with the error in place.
func TestLoginPage(t *testing.T) {
	t.Parallel()
	s := newLoginServer(t)
	a := s.call(t, http.MethodGet, "/protocol/openid-connect/auth", authParams())
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "text/html; charset=utf-8", a.header.Get("Content-Type"))
	assert.Contains(t, a.header.Get("Content-Security-Policy"), "default-src 'none'; style-src 'self'; form-action 'self' http://localhost:8080")
	assert.Contains(t, a.body, `<label for="username">`)
	assert.Contains(t, a.body, `<label for="password">`)
	assert.Contains(t, a.body, `autocomplete="current-password"`)
	assert.NotContains(t, a.body, "<script")
	assert.NotContains(t, a.body, "style=")
	assert.Contains(t, a.body, `<input type="hidden" name="code_challenge" value="`+challenge(verifier)+`">`)

	form := authParams()
	form.Set("username", "alice")
	form.Set("password", "wrong")
	a = s.call(t, http.MethodPost, "/protocol/openid-connect/auth", form)
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.Contains(t, a.body, `role="alert">Invalid username or password.`)
	assert.Contains(t, a.body, `value="alice" aria-invalid="true" aria-describedby="login-error"`)

	// An unknown user, another user's password, an empty one: the same refusal.
	for _, cred := range [][2]string{{"mallory", "mallory"}, {"alice", "bob"}, {"alice", ""}, {"", ""}, {"alice", "alice "}} {
		f := authParams()
		f.Set("username", cred[0])
		f.Set("password", cred[1])
		r := s.call(t, http.MethodPost, "/protocol/openid-connect/auth", f)
		assert.Equal(t, http.StatusUnauthorized, r.status, cred)
		assert.Empty(t, r.header.Get("Location"), cred)
	}

	form.Set("ui_locales", "de")
	a = s.call(t, http.MethodPost, "/protocol/openid-connect/auth", form)
	assert.Contains(t, a.body, "Benutzername oder Passwort ist falsch.")
	assert.Contains(t, a.body, `<html lang="de">`)

	css := s.call(t, http.MethodGet, "/login.css", nil)
	assert.Equal(t, http.StatusOK, css.status)
	assert.Contains(t, css.header.Get("Content-Type"), "text/css")
}

// TestAuthorizeRefusals: an unknown client or redirect URI gets an error page, never a
// redirect; a request without PKCE S256 goes back to the client with an OAuth error.
func TestAuthorizeRefusals(t *testing.T) {
	t.Parallel()
	s := newLoginServer(t)
	cases := []struct {
		name   string
		change func(url.Values)
		status int
		errTo  string // the OAuth error sent back to the client, when redirected
	}{
		{"unknown client", func(v url.Values) { v.Set("client_id", "mallory") }, http.StatusBadRequest, ""},
		{"confidential client", func(v url.Values) { v.Set("client_id", testClient) }, http.StatusBadRequest, ""},
		{"other redirect URI", func(v url.Values) { v.Set("redirect_uri", "https://evil.test/auth/callback") }, http.StatusBadRequest, ""},
		{"redirect URI with more path", func(v url.Values) { v.Set("redirect_uri", callback+"/x") }, http.StatusBadRequest, ""},
		{"no PKCE", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, http.StatusSeeOther, "invalid_request"},
		{"plain PKCE", func(v url.Values) { v.Set("code_challenge_method", "plain") }, http.StatusSeeOther, "invalid_request"},
		{"implicit flow", func(v url.Values) { v.Set("response_type", "token") }, http.StatusSeeOther, "unsupported_response_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := authParams()
			tc.change(v)
			a := s.call(t, http.MethodGet, "/protocol/openid-connect/auth", v)
			assert.Equal(t, tc.status, a.status)
			if tc.errTo == "" {
				assert.Empty(t, a.header.Get("Location"))
				assert.Contains(t, a.body, "Unknown client or redirect URI.")
				return
			}
			loc, err := url.Parse(a.header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, tc.errTo, loc.Query().Get("error"))
			assert.Equal(t, "st", loc.Query().Get("state"))
		})
	}
}

// TestCodeGrant: the code is redeemed once, by its client, for its redirect URI, with the
// PKCE verifier; it yields an access token the APIs accept, an ID token for the portal with
// the nonce and profile, and a refresh token.
func TestCodeGrant(t *testing.T) {
	t.Parallel()
	s := newLoginServer(t)
	for name, change := range map[string]func(url.Values){
		"wrong verifier":     func(v url.Values) { v.Set("code_verifier", verifier+"x") },
		"no verifier":        func(v url.Values) { v.Del("code_verifier") },
		"other redirect URI": func(v url.Values) { v.Set("redirect_uri", home) },
		"other client":       func(v url.Values) { v.Set("client_id", "call-center-portal") },
	} {
		t.Run(name, func(t *testing.T) {
			form := codeForm(s.login(t, "alice"))
			change(form)
			status, tok := s.redeem(t, form)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Equal(t, "invalid_grant", tok.Error)
		})
	}

	code := s.login(t, "alice")
	status, tok := s.redeem(t, codeForm(code))
	require.Equal(t, http.StatusOK, status)
	caller, err := s.verifier.Verify(context.Background(), tok.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, devissuer.CustomerAlice, caller.CustomerID)
	assert.Equal(t, []platform.Role{platform.RoleCustomer}, caller.Roles)

	ctx := oidc.ClientContext(context.Background(), s.srv.Client())
	idv := oidc.NewVerifier(s.issuer.URL(), oidc.NewRemoteKeySet(ctx, s.issuer.URL()+"/protocol/openid-connect/certs"), &oidc.Config{ClientID: portal})
	id, err := idv.Verify(ctx, tok.IDToken)
	require.NoError(t, err)
	assert.Equal(t, "no", id.Nonce)
	var claims struct{ Name, Email string }
	require.NoError(t, id.Claims(&claims))
	assert.Equal(t, "Alice Hartmann", claims.Name)
	assert.Equal(t, "alice@example.com", claims.Email)
	_, err = s.verifier.Verify(context.Background(), tok.IDToken)
	assert.Error(t, err, "an ID token is no access token for the APIs")
	_, err = s.verifier.Verify(context.Background(), tok.RefreshToken)
	assert.Error(t, err, "nor is a refresh token")

	status, again := s.redeem(t, codeForm(code))
	assert.Equal(t, http.StatusBadRequest, status, "a code is good once")
	assert.Equal(t, "invalid_grant", again.Error)

	// Refresh: the same client gets new tokens; another client, an access token in its
	// place, or a session ended at the end-session endpoint get none.
	refresh := func(client, token string) (int, browserTokens) {
		return s.redeem(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {client}, "refresh_token": {token}})
	}
	status, fresh := refresh(portal, tok.RefreshToken)
	require.Equal(t, http.StatusOK, status)
	_, err = s.verifier.Verify(context.Background(), fresh.AccessToken)
	require.NoError(t, err)
	status, _ = refresh("call-center-portal", tok.RefreshToken)
	assert.Equal(t, http.StatusBadRequest, status)
	status, _ = refresh(portal, tok.AccessToken)
	assert.Equal(t, http.StatusBadRequest, status)

	end := s.call(t, http.MethodGet, "/protocol/openid-connect/logout", url.Values{
		"client_id": {portal}, "post_logout_redirect_uri": {home}, "id_token_hint": {tok.IDToken}})
	assert.Equal(t, http.StatusSeeOther, end.status)
	assert.Equal(t, home, end.header.Get("Location"))
	status, _ = refresh(portal, fresh.RefreshToken)
	assert.Equal(t, http.StatusBadRequest, status, "the sign-in ended: its refresh tokens are refused")

	// Another sign-in of the same user is not affected.
	_, other := s.redeem(t, codeForm(s.login(t, "alice")))
	status, _ = refresh(portal, other.RefreshToken)
	assert.Equal(t, http.StatusOK, status)

	// An unregistered return address is not followed.
	end = s.call(t, http.MethodGet, "/protocol/openid-connect/logout", url.Values{
		"client_id": {portal}, "post_logout_redirect_uri": {"https://evil.test/"}})
	assert.Equal(t, http.StatusOK, end.status)
	assert.Empty(t, end.header.Get("Location"))
	assert.Contains(t, end.body, "You are signed out.")
}
