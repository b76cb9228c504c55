package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCSRF: a form post is admitted only from the portal's own page — the session's token
// in the form, and the browser saying it is same-origin; anything else is the friendly 403
// page, and the handler never runs.
func TestCSRF(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	b := s.browser(t)
	b.header.Set("Accept-Language", "en")
	form := b.get("/form")
	require.Equal(t, http.StatusOK, form.StatusCode)
	token := csrf(t, form)
	cases := []struct {
		name   string
		token  string
		header map[string]string
		want   int
	}{
		{"own page", token, nil, http.StatusUnprocessableEntity}, // the echo refuses the e-mail: the handler ran
		{"no token", "", nil, http.StatusForbidden},
		{"another token", "x" + token[1:], nil, http.StatusForbidden},
		{"cross-site by Sec-Fetch-Site", token, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site but other origin", token, map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"other Origin, no Sec-Fetch-Site", token, map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.test"}, http.StatusForbidden},
		{"same Origin, no Sec-Fetch-Site", token, map[string]string{"Sec-Fetch-Site": "", "Origin": s.srv.URL}, http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			saved := b.header.Clone()
			defer func() { b.header = saved }()
			for k, v := range tc.header {
				if v == "" {
					b.header.Del(k)
				} else {
					b.header.Set(k, v)
				}
			}
			p := b.post("/form", url.Values{"csrf": {tc.token}, "email": {"nope"}})
			assert.Equal(t, tc.want, p.StatusCode)
			if tc.want == http.StatusForbidden {
				assert.Contains(t, p.Body, "Form expired")
				assert.NotContains(t, p.Body, "nope", "the handler never ran")
			}
		})
	}

	// A form sent as multipart/form-data is read as well (its token was missed: "form
	// expired").
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	require.NoError(t, mw.WriteField("csrf", token))
	require.NoError(t, mw.WriteField("email", "nope"))
	require.NoError(t, mw.Close())
	multi := b.send(http.MethodPost, "/form", mw.FormDataContentType(), &mp)
	assert.Equal(t, http.StatusUnprocessableEntity, multi.StatusCode, "the handler ran")

	// A form larger than a page takes is told so (413), not "form expired".
	big := b.post("/form", url.Values{"csrf": {token}, "email": {strings.Repeat("x", 70<<10)}})
	assert.Equal(t, http.StatusRequestEntityTooLarge, big.StatusCode)
	assert.Contains(t, big.Body, "Form too large")

	// The token belongs to the session: another visitor's page has another one.
	assert.NotEqual(t, token, csrf(t, s.browser(t).get("/form")))
	// Signing in starts a new session with a new token.
	b.signIn("/", "alice", "/")
	assert.NotEqual(t, token, csrf(t, b.get("/form")))
}

// TestFormErrors: an API's field errors are shown next to the input, in the page's
// language, with what was typed kept.
func TestFormErrors(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	for lang, msg := range map[string]string{"de": "Bitte eine gültige E-Mail-Adresse angeben.", "en": "Please enter a valid e-mail address."} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			b := s.browser(t)
			b.header.Set("Accept-Language", lang)
			token := csrf(t, b.get("/form"))
			p := b.post("/form", url.Values{"csrf": {token}, "email": {`typed <"value">`}})
			require.Equal(t, http.StatusUnprocessableEntity, p.StatusCode)
			assert.Contains(t, p.Body, `value="typed &lt;&#34;value&#34;&gt;"`, "what was typed is kept, escaped")
			assert.Contains(t, p.Body, `aria-invalid="true" aria-describedby="f-email-error"`)
			assert.Contains(t, p.Body, `<p class="field-error" id="f-email-error">`+escapeHTML(msg)+`</p>`)
			// The title says the page came back with errors (the first thing a screen reader
			// reads), and the address field lets a browser fill it in (WCAG 1.3.5).
			assert.Regexp(t, `<title>(Fehler|Error): form – `, p.Body)
			assert.Contains(t, p.Body, `autocomplete="email"`)
			// The language switch of a posted form's page goes to the page the form was on
			// (a GET of the form's action was a 404 or a 405), never to another site.
			assert.Contains(t, p.Body, `href="/?lang=de"`, "no Referer: home")
			b.header.Set("Referer", s.srv.URL+"/form?step=2")
			assert.Contains(t, b.post("/form", url.Values{"csrf": {token}, "email": {"x"}}).Body, `href="/form?lang=en&amp;step=2"`)
			b.header.Set("Referer", "https://elsewhere.example/form")
			assert.Contains(t, b.post("/form", url.Values{"csrf": {token}, "email": {"x"}}).Body, `href="/?lang=en"`)
			b.header.Set("Referer", s.srv.URL+"//elsewhere.example/form")
			other := b.post("/form", url.Values{"csrf": {token}, "email": {"x"}}).Body
			assert.Contains(t, other, `href="/?lang=en"`)
			assert.NotContains(t, other, "elsewhere", "a path of two slashes is another site")
			b.header.Del("Referer")
		})
	}
}

// TestRefusals: another function's refusal is worded by its problem code in the page's
// language, "%s" standing for the function's own detail; without a text for its code, or
// without a code, the detail is shown as it is.
func TestRefusals(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	for _, tc := range []struct{ lang, code, want string }{
		{"de", "vehicle_booked", "Das Auto ist vergeben."},
		{"en", "vehicle_booked", "the car is taken"},
		{"de", "hold_expired", "Abgelaufen (the car is taken)."},
		{"en", "hold_expired", "Expired: the car is taken"},
		{"de", "unworded", "the car is taken"},
		{"de", "none", "the car is taken"},
	} {
		t.Run(tc.lang+"/"+tc.code, func(t *testing.T) {
			t.Parallel()
			b := s.browser(t)
			b.header.Set("Accept-Language", tc.lang)
			p := b.get("/refusal/" + tc.code)
			require.Equal(t, http.StatusConflict, p.StatusCode, p.Body)
			assert.Contains(t, p.Body, `<p id="auth">`+escapeHTML(tc.want)+`</p>`)
		})
	}
}

// TestRefusalPages: a refusal that reaches the error page is worded there by its code, where
// the 409 page's text could only guess ("someone changed this, reload").
func TestRefusalPages(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	for _, tc := range []struct{ lang, code, want string }{
		{"de", "vehicle_booked", "Das Auto ist vergeben."},
		{"en", "hold_expired", "Expired: the car is taken"},
		{"de", "unworded", "Jemand hat diese Angaben inzwischen geändert"},
	} {
		b := s.browser(t)
		b.header.Set("Accept-Language", tc.lang)
		p := b.get("/refused-page/" + tc.code)
		require.Equal(t, http.StatusConflict, p.StatusCode, p.Body)
		assert.Contains(t, p.Body, escapeHTML(tc.want), tc.code)
	}
}

func escapeHTML(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")
	return r.Replace(s)
}

// TestErrorPages: what an API answers becomes one friendly page per status, in German or
// English, with the request id for support and nothing of the cause.
func TestErrorPages(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	cases := []struct {
		path   string
		status int
		de, en string
	}{
		{"/fail/400", 400, "Eingabe nicht möglich", "That did not work"},
		{"/fail/422", 400, "Eingabe nicht möglich", "That did not work"},
		{"/fail/401", 401, "Bitte melden Sie sich an", "Please sign in"},
		{"/fail/403", 403, "Kein Zugriff", "No access"},
		{"/fail/404", 404, "Seite nicht gefunden", "Page not found"},
		{"/fail/409", 409, "Das hat sich inzwischen geändert", "This has changed in the meantime"},
		{"/fail/412", 409, "Das hat sich inzwischen geändert", "This has changed in the meantime"},
		{"/fail/500", 503, "Vorübergehend nicht erreichbar", "Temporarily unavailable"},
		{"/fail/503", 503, "Vorübergehend nicht erreichbar", "Temporarily unavailable"},
		{"/unreachable", 503, "Vorübergehend nicht erreichbar", "Temporarily unavailable"},
		{"/broken", 500, "Etwas ist schiefgegangen", "Something went wrong"},
		{"/no/such/page", 404, "Seite nicht gefunden", "Page not found"},
		{"/call-center/no/such/page", 404, "Seite nicht gefunden", "Page not found"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			for lang, title := range map[string]string{"de": tc.de, "en": tc.en} {
				b := s.browser(t)
				b.header.Set("Accept-Language", lang+";q=0.9")
				p := b.get(tc.path)
				assert.Equal(t, tc.status, p.StatusCode)
				assert.Equal(t, "text/html; charset=utf-8", p.Header.Get("Content-Type"))
				assert.Contains(t, p.Body, "<h1 id=\"error-title\">"+escapeHTML(title)+"</h1>")
				assert.Contains(t, p.Body, `<html lang="`+lang+`">`)
				assert.Contains(t, p.Body, p.Header.Get("X-Request-Id"), "the page quotes the request id")
				assert.NotContains(t, p.Body, "Nope", "no internals on the page")
			}
		})
	}
}

// TestMethods: a page's path asked with a method none of its pages takes is 405 with Allow
// and the error page (before any form token check); HEAD is GET without the body; a path
// without pages stays 404 whatever the method.
func TestMethods(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	cases := []struct {
		method, path string
		status       int
		allow, title string
	}{
		{http.MethodPost, "/", 405, "GET, HEAD", "Not possible this way"},
		{http.MethodDelete, "/form", 405, "GET, HEAD, POST", "Not possible this way"},
		{http.MethodGet, "/form/ok", 405, "POST", "Not possible this way"},
		{http.MethodPost, "/no/such/page", 404, "", "Page not found"},
		{http.MethodHead, "/", 200, "", ""},
		{http.MethodHead, "/form", 200, "", ""},
		{http.MethodHead, "/no/such/page", 404, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			b := s.browser(t)
			b.header.Set("Accept-Language", "en")
			p := b.do(tc.method, tc.path, nil)
			assert.Equal(t, tc.status, p.StatusCode)
			assert.Equal(t, tc.allow, p.Header.Get("Allow"))
			if tc.method == http.MethodHead {
				assert.Empty(t, p.Body)
				assert.Equal(t, "text/html; charset=utf-8", p.Header.Get("Content-Type"))
				return
			}
			assert.Contains(t, p.Body, "<h1 id=\"error-title\">"+escapeHTML(tc.title)+"</h1>")
		})
	}
}

// TestErrorLogsNoSecrets: a failed call's error is logged without its URL's query, which
// may hold a guest link's token or what an agent searched for.
func TestErrorLogsNoSecrets(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	p := s.browser(t).get("/leak")
	assert.Equal(t, http.StatusServiceUnavailable, p.StatusCode)
	assert.NotContains(t, p.Body, "s3cret")
	logs := s.logs.String()
	assert.Contains(t, logs, "page failed")
	assert.Contains(t, logs, "dying-api/api/x/guest?…")
	assert.NotContains(t, logs, "s3cret-link-token")
}

// TestLanguage: Accept-Language chooses, ?lang= switches and is remembered, German when
// neither says anything we speak.
func TestLanguage(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	cases := []struct{ accept, want string }{
		{"", "de"}, {"en-US,en;q=0.9", "en"}, {"de-AT", "de"}, {"fr-FR,fr", "de"}, {"fr, en;q=0.5", "en"},
	}
	for _, tc := range cases {
		b := s.browser(t)
		b.header.Set("Accept-Language", tc.accept)
		assert.Contains(t, b.get("/").Body, `<html lang="`+tc.want+`">`, tc.accept)
	}
	b := s.browser(t)
	b.header.Set("Accept-Language", "de")
	p := b.get("/?lang=en")
	assert.Contains(t, p.Body, "<h1>Welcome</h1>")
	assert.Contains(t, p.Body, `href="/?lang=de"`)
	assert.Contains(t, b.get("/").Body, "<h1>Welcome</h1>", "the choice is remembered")
	assert.Contains(t, b.get("/?lang=de").Body, "<h1>Willkommen</h1>")
	assert.Contains(t, b.get("/?lang=xx").Body, "<h1>Willkommen</h1>", "an unknown language changes nothing")
}

// TestHeaders: every answer of a portal carries the security headers; HSTS only over TLS.
func TestHeaders(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	b := s.browser(t)
	for _, path := range []string{"/", "/no/such/page", "/call-center/", s.public.Asset("app.css")} {
		p := b.get(path)
		h := p.Header
		assert.Equal(t, "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self' "+
			s.srv.URL+"; frame-ancestors 'none'; base-uri 'none'; object-src 'none'", h.Get("Content-Security-Policy"), path)
		assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
		assert.Equal(t, "DENY", h.Get("X-Frame-Options"), path)
		assert.Equal(t, "strict-origin-when-cross-origin", h.Get("Referrer-Policy"), path)
		assert.Contains(t, h.Get("Permissions-Policy"), "camera=()", path)
		assert.Empty(t, h.Get("Strict-Transport-Security"), "no HSTS over plain http")
	}
	assert.Equal(t, "no-referrer", b.get("/manage").Header.Get("Referrer-Policy"), "pages with a secret in the URL")
	assert.Equal(t, "no-store", b.get("/").Header.Get("Cache-Control"))
	// No inline script or style anywhere in the layout.
	home := b.get("/").Body
	assert.NotContains(t, home, "<script>")
	assert.NotContains(t, home, "style=")
	assert.NotContains(t, home, "<style")
	assert.Contains(t, home, `<a class="skip-link" href="#main">`)
}

// TestTLS: behind a TLS-terminating proxy (X-Forwarded-Proto: https) or on TLS itself, the
// cookies are Secure with the __Host- (Path=/) or __Secure- prefix, and HSTS is sent.
func TestTLS(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	for _, tc := range []struct{ base, cookie string }{
		{"/", "__Host-public-portal-session"},
		{"/call-center/", "__Secure-call-center-portal-session"},
	} {
		b := s.browser(t)
		b.header.Set("X-Forwarded-Proto", "https")
		p := b.get(tc.base)
		require.Equal(t, http.StatusOK, p.StatusCode)
		assert.Equal(t, "max-age=31536000", p.Header.Get("Strict-Transport-Security"))
		set := b.lastSet(tc.cookie)
		require.NotNil(t, set, "cookie %s", tc.cookie)
		assert.True(t, set.Secure)
		assert.True(t, set.HttpOnly)
		assert.Equal(t, tc.base, set.Path)
	}
}

// TestAssets: the shared files are served under content-hashed names, cached for a year;
// other names are 404.
func TestAssets(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	css := s.public.Asset("app.css")
	assert.Regexp(t, `^/static/app\.[0-9a-f]{12}\.css$`, css)
	assert.Regexp(t, `^/call-center/static/app\.[0-9a-f]{12}\.js$`, s.center.Asset("app.js"))
	assert.Empty(t, s.public.Asset("nope.css"))
	b := s.browser(t)
	p := b.get(css)
	require.Equal(t, http.StatusOK, p.StatusCode)
	assert.Equal(t, "public, max-age=31536000, immutable", p.Header.Get("Cache-Control"))
	assert.Contains(t, p.Header.Get("Content-Type"), "text/css")
	assert.Contains(t, p.Body, ":focus-visible")
	assert.Equal(t, http.StatusNotFound, b.get("/static/app.css").StatusCode, "only hashed names are served")
	assert.Contains(t, b.get("/").Body, `<link rel="stylesheet" href="`+css+`">`)
	bare := b.get("/call-center")
	assert.Equal(t, http.StatusMovedPermanently, bare.StatusCode)
	assert.Equal(t, "/call-center/", bare.Header.Get("Location"))
}
