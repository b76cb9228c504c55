package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/web"
)

// TestSignIn walks the authorization code flow with PKCE against the development issuer:
// a guest asking for a signed-in page is sent to sign in, comes back to that page, and the
// APIs then see the user's token.
func TestSignIn(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	b := s.browser(t)

	// A guest's calls carry no token at all: not the portal's, not anybody's.
	assert.Equal(t, `<p id="auth"></p>`, regexpAuth(b.get("/api").Body))

	first := b.get("/secret")
	require.Equal(t, http.StatusSeeOther, first.StatusCode)
	assert.Equal(t, "/auth/login?next=%2Fsecret", first.Header.Get("Location"))

	toIssuer := b.get(first.Header.Get("Location"))
	require.Equal(t, http.StatusSeeOther, toIssuer.StatusCode)
	authURL, err := url.Parse(toIssuer.Header.Get("Location"))
	require.NoError(t, err)
	q := authURL.Query()
	assert.Equal(t, s.issuer.URL()+"/protocol/openid-connect/auth", authURL.Scheme+"://"+authURL.Host+authURL.Path)
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, "public-portal", q.Get("client_id"))
	assert.Equal(t, s.srv.URL+"/auth/callback", q.Get("redirect_uri"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Len(t, q.Get("code_challenge"), 43)
	assert.NotEmpty(t, q.Get("state"))
	assert.NotEmpty(t, q.Get("nonce"))
	assert.Contains(t, q.Get("scope"), "openid")
	assert.Equal(t, "no-referrer", toIssuer.Header.Get("Referrer-Policy"))
	login := b.cookie("/auth/", "public-portal-login")
	require.NotNil(t, login, "the sign-in in progress is kept in a cookie below /auth/")
	assert.NotContains(t, login.Value, q.Get("state"), "the login cookie is encrypted")

	page := b.signIn("/", "alice", "/secret")
	require.Equal(t, http.StatusOK, page.StatusCode, page.Body)
	assert.Equal(t, s.srv.URL+"/secret", page.Request.URL.String())
	assert.Equal(t, "Alice Hartmann|11111111-1111-4111-8111-111111111111", who(t, page))

	auth := regexpAuth(b.get("/api").Body)
	assert.True(t, strings.HasPrefix(auth, `<p id="auth">Bearer ey`), "the API call carries the user's token: %s", auth)
}

// regexpAuth cuts the echoed Authorization out of the api page.
func regexpAuth(body string) string {
	i := strings.Index(body, `<p id="auth">`)
	if i < 0 {
		return body
	}
	j := strings.Index(body[i:], "</p>")
	return body[i : i+j+4]
}

// TestSignInRefusesOtherRoles: each portal admits its own people only — an agent has no
// session in the public portal, a customer none in the call center.
func TestSignInRefusesOtherRoles(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	cases := []struct {
		name, base, user string
		admitted         bool
	}{
		{"customer at the public portal", "/", "alice", true},
		{"agent at the public portal", "/", "carla", false},
		{"admin at the public portal", "/", "ada", false},
		{"agent at the call center", "/call-center/", "carla", true},
		{"fleet manager at the call center", "/call-center/", "frank", true},
		{"admin at the call center", "/call-center/", "ada", true},
		{"customer at the call center", "/call-center/", "bob", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := s.browser(t)
			b.header.Set("Accept-Language", "en")
			p := b.signIn(tc.base, tc.user, tc.base)
			if tc.admitted {
				require.Equal(t, http.StatusOK, p.StatusCode, p.Body)
				assert.NotEqual(t, "guest", who(t, p))
				return
			}
			assert.Equal(t, http.StatusForbidden, p.StatusCode)
			assert.Contains(t, p.Body, "This account cannot sign in to this portal.")
			assert.Equal(t, "guest", who(t, b.get(tc.base)))
		})
	}
}

// TestSessionCookies: the session cookie is HttpOnly and SameSite=Lax, one per portal by
// name and path; a cookie that was tampered with, that belongs to the other portal, that
// outlived the sign-in or was sealed with a key no longer configured is no session.
func TestSessionCookies(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	b := s.browser(t)
	raw := b.get("/auth/login?next=/")
	require.Equal(t, http.StatusSeeOther, raw.StatusCode)

	agent := s.browser(t)
	p := agent.signIn("/call-center/", "carla", "/call-center/")
	require.Equal(t, "Carla Agent|", who(t, p))
	set := agent.lastSet("call-center-portal-session")
	require.NotNil(t, set, "the callback sets the session cookie")
	assert.True(t, set.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, set.SameSite)
	assert.Equal(t, "/call-center/", set.Path)
	assert.False(t, set.Secure, "plain http: no Secure (see TestTLS)")
	// The cookie outlives the sign-in (12 h): a form sent after it ended finds its CSRF
	// token and meets "please sign in", not "form expired" (the expired subtest below).
	assert.Greater(t, set.MaxAge, int((12 * time.Hour).Seconds()))

	// The session may span several cookies (chunks): each case changes the first one and
	// sends the rest as they are.
	own := agent.cookies("/call-center/")
	require.NotEmpty(t, own)
	first := own[0].Value
	tamper := []byte(first)
	tamper[len(tamper)/2] ^= 1
	renamed := func(c *http.Cookie) string {
		return strings.Replace(c.Name, "call-center-portal", "public-portal", 1)
	}
	cases := []struct {
		name   string
		path   string
		first  string
		rename bool
		want   string
	}{
		{"the agent's own cookie", "/call-center/", first, false, "Carla Agent|"},
		{"the agent's cookie under the public portal's name", "/", first, true, "guest"},
		{"tampered", "/call-center/", string(tamper), false, "guest"},
		{"truncated", "/call-center/", first[:len(first)-5], false, "guest"},
		{"not ours at all", "/call-center/", "v1.aGVsbG8", false, "guest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, s.srv.URL+tc.path, nil)
			require.NoError(t, err)
			for i, c := range own {
				c := &http.Cookie{Name: c.Name, Value: c.Value}
				if i == 0 {
					c.Value = tc.first
				}
				if tc.rename {
					c.Name = renamed(c)
				}
				req.AddCookie(c)
			}
			resp, err := s.srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body := readAll(t, resp)
			assert.Equal(t, tc.want, who(t, page{Response: resp, Body: body}))
		})
	}

	t.Run("expired", func(t *testing.T) {
		s := newSystem(t)
		b := s.browser(t)
		require.Equal(t, "Carla Agent|", who(t, b.signIn("/call-center/", "carla", "/call-center/")))
		token := csrf(t, b.get("/call-center/form"))
		s.clock.advance(13 * time.Hour) // past PORTAL_SESSION_TTL (12 h)
		// A form from a page opened before still is this browser's own: it meets the page's
		// own rules (here none: 303), not the CSRF refusal.
		sent := b.post("/call-center/form/ok", url.Values{"csrf": {token}})
		assert.Equal(t, http.StatusSeeOther, sent.StatusCode, sent.Body)
		assert.Equal(t, "guest", who(t, b.get("/call-center/")))
		assert.Equal(t, http.StatusSeeOther, b.get("/call-center/secret").StatusCode, "a guest is sent to sign in")
	})
}

// TestKeyRotation: a cookie sealed with the old key still opens while the old key is
// configured second; once it is dropped, the cookie is no session.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	old := newKey()
	s := newSystem(t, func(o *web.Options) { o.Config.SessionKeys = []string{old} })
	b := s.browser(t)
	require.Equal(t, "Alice Hartmann|11111111-1111-4111-8111-111111111111", who(t, b.signIn("/", "alice", "/")))
	cookies := b.cookies("/")
	require.Len(t, cookies, 2, "the development issuer's three tokens fill two cookies")

	for _, tc := range []struct {
		name string
		keys []string
		want string
	}{
		{"new key first, old one kept", []string{newKey(), old}, "Alice Hartmann|11111111-1111-4111-8111-111111111111"},
		{"old key dropped", []string{newKey()}, "guest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rotated := newSystem(t, func(o *web.Options) { o.Config.SessionKeys = tc.keys })
			req, err := http.NewRequest(http.MethodGet, rotated.srv.URL+"/", nil)
			require.NoError(t, err)
			for _, c := range cookies {
				req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			}
			resp, err := rotated.srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			// The access token was issued by the other system's issuer, but a session is what
			// the cookie says until the token is used or refreshed.
			assert.Equal(t, tc.want, who(t, page{Response: resp, Body: readAll(t, resp)}))
		})
	}
}

// TestNext: sign-in comes back only to a path of the same portal; anything else (another
// host, a scheme, the other portal) goes to the portal's home.
func TestNext(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	pub, center := s.browser(t), s.browser(t)
	require.Equal(t, http.StatusOK, pub.signIn("/", "alice", "/").StatusCode)
	require.Equal(t, http.StatusOK, center.signIn("/call-center/", "carla", "/call-center/").StatusCode)
	cases := []struct {
		b          *browser
		base, next string
		want       string
	}{
		{pub, "/", "/secret?x=1", "/secret?x=1"},
		{pub, "/", "https://evil.test/", "/"},
		{pub, "/", "//evil.test/x", "/"},
		{pub, "/", `/\evil.test`, "/"},
		{pub, "/", "javascript:alert(1)", "/"},
		{pub, "/", "", "/"},
		{center, "/call-center/", "/call-center/secret", "/call-center/secret"},
		{center, "/call-center/", "/secret", "/call-center/"},
		{center, "/call-center/", "http://evil.test/call-center/", "/call-center/"},
		// Encoded and dot-segment forms, which http.Redirect or the browser resolve.
		{pub, "/", "/%2f%2fevil.test", "/"},
		{pub, "/", "/%5cevil.test", "/"},
		{pub, "/", "/./secret", "/"},
		{center, "/call-center/", "/call-center/../secret", "/call-center/"},
		{center, "/call-center/", "/call-center/%2e%2e/secret", "/call-center/"},
		{center, "/call-center/", "/call-center/%2E%2E%2fsecret", "/call-center/"},
		// Only the portal's own pages: not the other portal's, the API, or a sign-in route.
		{pub, "/", "/call-center/secret", "/"},
		{pub, "/", "/api/echo", "/"},
		{pub, "/", "/auth/callback?code=x&state=y", "/"},
		{center, "/call-center/", "/call-center/auth/login", "/call-center/"},
		{center, "/call-center/", "/call-center/no/such/page", "/call-center/"},
	}
	for _, tc := range cases {
		t.Run(tc.base+" "+tc.next, func(t *testing.T) {
			p := tc.b.get(tc.base + "auth/login?next=" + url.QueryEscape(tc.next))
			require.Equal(t, http.StatusSeeOther, p.StatusCode)
			assert.Equal(t, tc.want, p.Header.Get("Location"))
		})
	}

	// The same rule holds through a whole sign-in.
	b := s.browser(t)
	p := b.signIn("/", "bob", "//evil.test/")
	assert.Equal(t, s.srv.URL+"/", p.Request.URL.String())
}

// TestCallbackRefusals: a callback that does not belong to this browser's sign-in — no
// login cookie, another state, a code used before — starts no session.
func TestCallbackRefusals(t *testing.T) {
	t.Parallel()
	s := newSystem(t)

	t.Run("no sign-in started", func(t *testing.T) {
		b := s.browser(t)
		p := b.get("/auth/callback?code=x&state=y")
		assert.Equal(t, http.StatusBadRequest, p.StatusCode)
		assert.Contains(t, p.Body, "Anmeldung nicht abgeschlossen")
		assert.Contains(t, p.Body, `href="/auth/login?next=%2F"`, "the page offers to sign in again")
	})
	t.Run("state of another sign-in", func(t *testing.T) {
		b := s.browser(t)
		b.get("/auth/login?next=/")
		p := b.get("/auth/callback?code=x&state=forged")
		assert.Equal(t, http.StatusBadRequest, p.StatusCode)
		assert.Equal(t, "guest", who(t, b.get("/")))
	})
	t.Run("code replayed", func(t *testing.T) {
		b := s.browser(t)
		p := b.get("/auth/login?next=/")
		login := b.follow(p)
		form := formValues(login.Body)
		form.Set("username", "alice")
		form.Set("password", "alice")
		back := b.post(login.Request.URL.String(), form)
		require.Equal(t, http.StatusSeeOther, back.StatusCode)
		callback := back.Header.Get("Location")
		require.Equal(t, "Alice Hartmann|11111111-1111-4111-8111-111111111111", who(t, b.follow(b.get(callback))))

		// Another browser that got hold of the URL has neither the login cookie nor a
		// code that still works.
		thief := s.browser(t)
		p = thief.get(callback)
		assert.Equal(t, http.StatusBadRequest, p.StatusCode)
		assert.Equal(t, "guest", who(t, thief.get("/")))
	})
	t.Run("cancelled at the issuer", func(t *testing.T) {
		b := s.browser(t)
		p := b.get("/auth/login?next=/secret")
		u, err := url.Parse(p.Header.Get("Location"))
		require.NoError(t, err)
		back := b.get("/auth/callback?error=access_denied&state=" + url.QueryEscape(u.Query().Get("state")))
		assert.Equal(t, http.StatusSeeOther, back.StatusCode)
		assert.Equal(t, "/secret", back.Header.Get("Location"))
		assert.Equal(t, "guest", who(t, b.get("/")))
	})
}

// TestRefresh: an access token about to expire is replaced with the refresh token before
// the page calls any API; a refresh the issuer refuses leaves a guest.
func TestRefresh(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	s.issuer.SetTokenLifetime(5 * time.Minute)
	b := s.browser(t)
	require.Equal(t, http.StatusOK, b.signIn("/", "alice", "/").StatusCode)
	before := regexpAuth(b.get("/api").Body)
	again := regexpAuth(b.get("/api").Body)
	assert.Equal(t, before, again, "a fresh token is used as it is")

	// The issuer's tokens carry seconds: move past that, into the last minute of the token.
	time.Sleep(1100 * time.Millisecond)
	s.clock.advance(4*time.Minute + 30*time.Second)
	p := b.get("/api")
	require.Equal(t, http.StatusOK, p.StatusCode, p.Body)
	after := regexpAuth(p.Body)
	assert.NotEqual(t, before, after, "the token was refreshed")
	assert.Contains(t, after, "Bearer ey")
	assert.Equal(t, "Alice Hartmann|11111111-1111-4111-8111-111111111111", who(t, b.get("/")), "the same user, name kept")

	// A refresh the issuer refuses — the sign-in was ended there (signed out in another
	// tab, which had the same cookie) — leaves a guest.
	other := s.browser(t)
	u, _ := url.Parse(s.srv.URL + "/")
	other.client.Jar.SetCookies(u, b.cookies("/"))
	require.Equal(t, "Alice Hartmann|11111111-1111-4111-8111-111111111111", who(t, other.get("/")))
	out := b.post("/auth/logout", url.Values{"csrf": {csrf(t, b.get("/form"))}})
	require.Equal(t, http.StatusOK, out.StatusCode)
	require.Equal(t, http.StatusSeeOther, b.post(s.issuer.URL()+"/protocol/openid-connect/logout", formValues(out.Body)).StatusCode)
	s.clock.advance(5 * time.Minute)
	assert.Equal(t, "guest", who(t, other.get("/")))
}

// TestSignOut: the sign-out form (POST, CSRF) ends the session here, then at the issuer,
// which sends the browser back to the portal's home.
func TestSignOut(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	b := s.browser(t)
	home := b.signIn("/call-center/", "ada", "/call-center/")
	require.Equal(t, "Ada Admin|", who(t, home))
	assert.Contains(t, home.Body, `action="/call-center/auth/logout"`)

	// Without the token the form is refused, and nothing changes.
	refused := b.post("/call-center/auth/logout", url.Values{})
	assert.Equal(t, http.StatusForbidden, refused.StatusCode)
	assert.Equal(t, "Ada Admin|", who(t, b.get("/call-center/")))

	// The sign-out continues at the issuer through a posted form, not a redirect: the ID
	// token (the user's name and e-mail address) goes in no URL.
	out := b.post("/call-center/auth/logout", url.Values{"csrf": {csrf(t, home)}})
	require.Equal(t, http.StatusOK, out.StatusCode, out.Body)
	assert.Empty(t, out.Header.Get("Location"))
	assert.Equal(t, "no-referrer", out.Header.Get("Referrer-Policy"))
	assert.Contains(t, out.Header.Get("Content-Security-Policy"), "form-action 'self' "+s.srv.URL)
	assert.Contains(t, out.Body, `<form method="post" action="`+s.issuer.URL()+`/protocol/openid-connect/logout" id="signout-form" data-autopost>`)
	assert.NotContains(t, out.Body, `action="/call-center/auth/logout"`, "the page is a guest's")
	end := formValues(out.Body)
	assert.Equal(t, "call-center-portal", end.Get("client_id"))
	assert.Equal(t, s.srv.URL+"/call-center/", end.Get("post_logout_redirect_uri"))
	assert.NotEmpty(t, end.Get("id_token_hint"))
	assert.Equal(t, "guest", who(t, b.get("/call-center/")), "signed out here before the issuer is asked")
	back := b.post(s.issuer.URL()+"/protocol/openid-connect/logout", end)
	require.Equal(t, http.StatusSeeOther, back.StatusCode)
	assert.Equal(t, s.srv.URL+"/call-center/", back.Header.Get("Location"))
}

// TestRoles: a page for some roles shows the 403 page to the others; admins pass.
func TestRoles(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	for user, want := range map[string]int{"carla": http.StatusForbidden, "frank": http.StatusOK, "ada": http.StatusOK} {
		t.Run(user, func(t *testing.T) {
			t.Parallel()
			b := s.browser(t)
			require.Equal(t, http.StatusOK, b.signIn("/call-center/", user, "/call-center/").StatusCode)
			assert.Equal(t, want, b.get("/call-center/admins").StatusCode)
		})
	}
	guest := s.browser(t)
	p := guest.get("/call-center/admins")
	assert.Equal(t, http.StatusSeeOther, p.StatusCode, "a guest is sent to sign in")
	// A page with roles but without SignIn: roles imply a signed-in user.
	p = guest.get("/call-center/roles-only")
	assert.Equal(t, http.StatusSeeOther, p.StatusCode, "a guest is sent to sign in")
	assert.Equal(t, "/call-center/auth/login?next=%2Fcall-center%2Froles-only", p.Header.Get("Location"))
}

// TestSignInTabs: sign-ins started in two tabs both complete, in either order; each state
// is good once, and the login cookie is gone when none is pending.
func TestSignInTabs(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	b := s.browser(t)
	start := func() string {
		p := b.get("/auth/login?next=/secret")
		require.Equal(t, http.StatusSeeOther, p.StatusCode)
		return p.Header.Get("Location")
	}
	finish := func(issuerURL string) page {
		login := b.get(issuerURL)
		require.Equal(t, http.StatusOK, login.StatusCode)
		form := formValues(login.Body)
		form.Set("username", "alice")
		form.Set("password", "alice")
		back := b.post(login.Request.URL.String(), form)
		require.Equal(t, http.StatusSeeOther, back.StatusCode)
		return b.get(back.Header.Get("Location"))
	}
	first, second := start(), start()
	p := finish(second)
	require.Equal(t, http.StatusSeeOther, p.StatusCode, p.Body)
	assert.Equal(t, "/secret", p.Header.Get("Location"))
	require.NotNil(t, b.cookie("/auth/", "public-portal-login"), "the first tab's sign-in is still pending")
	p = finish(first)
	require.Equal(t, http.StatusSeeOther, p.StatusCode, p.Body)
	assert.Nil(t, b.cookie("/auth/", "public-portal-login"), "nothing pending: the login cookie is gone")
	assert.Equal(t, "Alice Hartmann|11111111-1111-4111-8111-111111111111", who(t, b.get("/")))
}
