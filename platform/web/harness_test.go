package web_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/web"
)

// testKey is made once per test binary: RSA key generation is slow.
var testKey = sync.OnceValues(devissuer.GenerateKey)

func newKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// system is one origin serving the development issuer and both test portals, as `orange
// dev` serves them on one port: the public one at / and the call center at /call-center/.
type system struct {
	srv      *httptest.Server
	issuer   *devissuer.Issuer
	public   *web.Site
	center   *web.Site
	keys     []string
	clock    *clock
	mux      *http.ServeMux
	echoAuth atomic.Value // the Authorization the echo function saw last
	logs     *syncBuffer  // what both portals logged
}

// syncBuffer is a log destination that many requests write at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// clock is the sites' time, movable by tests.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

type anonymous struct{}

func (anonymous) Authenticate(context.Context, *http.Request) (platform.Caller, error) {
	return platform.Caller{}, nil
}

// templates are a test portal's pages.
var templates = fstest.MapFS{
	"_nav.html":   {Data: []byte(`{{define "nav"}}<a href="{{.Path "secret"}}">secret</a>{{end}}`)},
	"home.html":   {Data: []byte(`{{define "title"}}{{.T "home.title"}}{{end}}{{define "content"}}<h1>{{.T "home.title"}}</h1><p id="who">{{if .SignedIn}}{{.Session.Display}}|{{.Session.CustomerID}}{{else}}guest{{end}}</p>{{end}}`)},
	"form.html":   {Data: []byte(`{{define "title"}}form{{end}}{{define "content"}}<form method="post" action="{{.Path "form"}}">{{.CSRFField}}{{template "formerrors" .Data}}{{template "field" (field $ .Data "email" "E-mail" "email")}}<button>Send</button></form>{{end}}`)},
	"api.html":    {Data: []byte(`{{define "title"}}api{{end}}{{define "content"}}<p id="auth">{{.Data}}</p>{{end}}`)},
	"broken.html": {Data: []byte(`{{define "title"}}x{{end}}{{define "content"}}{{.Data.Nope}}{{end}}`)},
}

var messages = web.Messages{
	"de": {"home.title": "Willkommen", "invalid.email": "Bitte eine gültige E-Mail-Adresse angeben.",
		"problem.vehicle_booked": "Das Auto ist vergeben.", "problem.hold_expired": "Abgelaufen (%s)."},
	"en": {"home.title": "Welcome", "invalid.email": "Please enter a valid e-mail address.",
		"problem.vehicle_booked": "%s", "problem.hold_expired": "Expired: %s"},
}

// pages is a test portal's route table: a home page, a signed-in page, a form whose post
// the echo function refuses with field errors, a page calling the echo function, and pages
// that fail in the ways the error pages cover.
func (s *system) pages() []web.Page {
	return []web.Page{
		{Name: "home", Path: "", Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			return p.Render(w, http.StatusOK, "home", nil)
		}},
		{Name: "secret", Path: "secret", SignIn: true, Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			return p.Render(w, http.StatusOK, "home", nil)
		}},
		{Name: "admins", Path: "admins", SignIn: true, Roles: []platform.Role{platform.RoleFleet}, Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			return p.Render(w, http.StatusOK, "home", nil)
		}},
		{Name: "roles-only", Path: "roles-only", Roles: []platform.Role{platform.RoleFleet}, Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			return p.Render(w, http.StatusOK, "home", nil)
		}},
		{Name: "form", Path: "form", Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			return p.Render(w, http.StatusOK, "form", web.NewForm(nil))
		}},
		{Name: "form-post", Method: http.MethodPost, Path: "form", Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			f := web.NewForm(r.PostForm)
			err := platform.CallJSON(r.Context(), p.API(r.Context()), http.MethodPost, "echo-api", "/api/echo/invalid", map[string]string{"mail": f.Get("email")}, nil)
			if p.Absorb(f, err, map[string]string{"mail": "email"}) {
				return p.Render(w, http.StatusUnprocessableEntity, "form", f)
			}
			if err != nil {
				return err
			}
			return p.Redirect(w, "")
		}},
		{Name: "form-ok", Method: http.MethodPost, Path: "form/ok", Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			return p.Redirect(w, "?done=1")
		}},
		{Name: "api", Path: "api", Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			var out struct{ Authorization string }
			if err := platform.CallJSON(r.Context(), p.API(r.Context()), http.MethodGet, "echo-api", "/api/echo", nil, &out); err != nil {
				return err
			}
			return p.Render(w, http.StatusOK, "api", out.Authorization)
		}},
		{Name: "fail", Path: "fail/{status}", Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			return platform.CallJSON(r.Context(), p.API(r.Context()), http.MethodGet, "echo-api", "/api/echo/status/"+platform.PathVar(r, "status"), nil, nil)
		}},
		{Name: "unreachable", Path: "unreachable", Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			// A function that dies on the call: it never answers (a dropped connection).
			return platform.CallJSON(r.Context(), p.API(r.Context()), http.MethodGet, "dying-api", "/api/x", nil, nil)
		}},
		{Name: "leak", Path: "leak", Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			// A guest's link token in the query of a call that never gets an answer.
			return platform.CallJSON(r.Context(), p.API(r.Context()), http.MethodGet, "dying-api", "/api/x/guest?token=s3cret-link-token", nil, nil)
		}},
		{Name: "refusal", Path: "refusal/{code}", Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			err := platform.CallJSON(r.Context(), p.API(r.Context()), http.MethodPost, "echo-api", "/api/echo/conflict/"+platform.PathVar(r, "code"), struct{}{}, nil)
			msg, ok := p.Refusal(err)
			if !ok {
				return err
			}
			return p.Render(w, http.StatusConflict, "api", msg)
		}},
		{Name: "refusedPage", Path: "refused-page/{code}", Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			return platform.CallJSON(r.Context(), p.API(r.Context()), http.MethodPost, "echo-api", "/api/echo/conflict/"+platform.PathVar(r, "code"), struct{}{}, nil)
		}},
		{Name: "broken", Path: "broken", Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			return p.Render(w, http.StatusOK, "broken", 42)
		}},
		{Name: "manage", Path: "manage", NoReferrer: true, Handler: func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
			return p.Render(w, http.StatusOK, "home", nil)
		}},
	}
}

// echo is a function the portals call: it tells what Authorization it got, refuses a
// posted form with a field error, and answers any status asked for.
func (s *system) echo() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/echo", func(w http.ResponseWriter, r *http.Request) {
		s.echoAuth.Store(r.Header.Get("Authorization"))
		_ = platform.WriteJSON(w, http.StatusOK, map[string]string{"Authorization": r.Header.Get("Authorization")})
	})
	mux.Handle("POST /api/echo/invalid", platform.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return platform.Invalid("the request is invalid", platform.FieldError{Field: "mail", Reason: "must be an e-mail address"})
	}))
	mux.Handle("POST /api/echo/conflict/{code}", platform.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("code") == "none" {
			return platform.Conflict("the car is taken")
		}
		return platform.Conflict("the car is taken").WithCode(r.PathValue("code"))
	}))
	mux.HandleFunc("GET /api/echo/status/{status}", func(w http.ResponseWriter, r *http.Request) {
		var code int
		_, _ = fmt.Sscan(r.PathValue("status"), &code)
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"status":%d,"title":%q}`, code, http.StatusText(code))
	})
	return mux
}

type option func(*web.Options)

// newSystem serves the issuer and both portals on one httptest origin.
func newSystem(t *testing.T, opts ...option) *system {
	t.Helper()
	key, err := testKey()
	require.NoError(t, err)
	s := &system{clock: &clock{}, mux: http.NewServeMux(), keys: []string{newKey()}, logs: &syncBuffer{}}
	s.srv = httptest.NewServer(s.mux)
	t.Cleanup(s.srv.Close)
	s.issuer = devissuer.New(s.srv.URL+devissuer.RealmPath, key)
	s.issuer.AddPublicClients(
		devissuer.PublicClient{ID: "public-portal", RedirectURIs: []string{s.srv.URL + "/auth/callback"}, PostLogoutURIs: []string{s.srv.URL + "/"}},
		devissuer.PublicClient{ID: "call-center-portal", RedirectURIs: []string{s.srv.URL + "/call-center/auth/callback"}, PostLogoutURIs: []string{s.srv.URL + "/call-center/"}},
	)
	s.mux.Handle(devissuer.RealmPath+"/", s.issuer.Handler())
	transport := platform.NewTransport(nil, nil)
	transport.Mount("echo-api", s.echo())
	transport.Mount("dying-api", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("dies") }))
	build := func(service, base string, roles []platform.Role) *web.Site {
		o := web.Options{
			Service: service, BasePath: base, Roles: roles, Templates: templates, Messages: messages,
			Config: web.Config{SessionKeys: s.keys, IssuerURL: s.issuer.URL(), Audience: devissuer.Audience, SessionTTL: 12 * time.Hour},
			Deps:   platform.Deps{Transport: transport}, IssuerClient: s.srv.Client(), Now: s.clock.now,
		}
		for _, opt := range opts {
			opt(&o)
		}
		site, err := web.New(context.Background(), o)
		require.NoError(t, err)
		return site
	}
	s.public = build("public-portal", "/", nil)
	s.center = build("call-center-portal", "/call-center/", []platform.Role{platform.RoleAgent, platform.RoleAdmin, platform.RoleFleet})
	s.mux.Handle("/", platform.Observe(platform.NewLogger(s.logs, "error", "test"), platform.Handler(s.public.API(s.pages()...), anonymous{})))
	center := platform.Observe(platform.NewLogger(s.logs, "error", "test"), platform.Handler(s.center.API(s.pages()...), anonymous{}))
	s.mux.Handle("/call-center/", center)
	s.mux.Handle("/call-center", center) // as the host mounts a prefix
	return s
}

// browser is a cookie-keeping client that does not follow redirects by itself, so tests
// see each step.
type browser struct {
	t      *testing.T
	s      *system
	client *http.Client
	header http.Header // sent with every request
	// set are the cookies the answers have set, in order.
	set []*http.Cookie
}

func (s *system) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := s.srv.Client()
	c = &http.Client{Transport: c.Transport, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return &browser{t: t, s: s, client: c, header: http.Header{"Sec-Fetch-Site": {"same-origin"}}}
}

// page is an answer with its body read.
type page struct {
	*http.Response
	Body string
}

func (b *browser) do(method, target string, form url.Values) page {
	b.t.Helper()
	if form == nil {
		return b.send(method, target, "", nil)
	}
	return b.send(method, target, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// send is do with a body of its own content type (none: no body).
func (b *browser) send(method, target, contentType string, body io.Reader) page {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.s.srv.URL + target
	}
	req, err := http.NewRequest(method, target, body)
	require.NoError(b.t, err)
	for k, v := range b.header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	b.set = append(b.set, resp.Cookies()...)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return page{Response: resp, Body: string(raw)}
}

func (b *browser) get(target string) page { return b.do(http.MethodGet, target, nil) }

func (b *browser) post(target string, form url.Values) page {
	return b.do(http.MethodPost, target, form)
}

// follow follows redirects from p to the first answer that is none.
func (b *browser) follow(p page) page {
	b.t.Helper()
	for i := 0; p.StatusCode >= 300 && p.StatusCode < 400; i++ {
		require.Less(b.t, i, 10, "too many redirects")
		loc, err := p.Request.URL.Parse(p.Header.Get("Location"))
		require.NoError(b.t, err)
		p = b.get(loc.String())
	}
	return p
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formValues are the hidden inputs of a page's first form.
func formValues(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// signIn goes through the whole sign-in from the portal at base: the portal's login route,
// the issuer's page, the credentials, the callback, and back to next; it returns the last page.
func (b *browser) signIn(base, user, next string) page {
	b.t.Helper()
	p := b.get(base + "auth/login?next=" + url.QueryEscape(next))
	require.Equal(b.t, http.StatusSeeOther, p.StatusCode, p.Body)
	login := b.follow(p)
	require.Equal(b.t, http.StatusOK, login.StatusCode, login.Body)
	form := formValues(login.Body)
	form.Set("username", user)
	form.Set("password", user)
	return b.follow(b.post(login.Request.URL.String(), form))
}

// cookie returns the browser's cookie named name for path.
func (b *browser) cookie(path, name string) *http.Cookie {
	u, _ := url.Parse(b.s.srv.URL + path)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var whoPattern = regexp.MustCompile(`<p id="who">([^<]*)</p>`)

// who is the signed-in user the home page shows ("guest" for none).
func who(t *testing.T, p page) string {
	t.Helper()
	m := whoPattern.FindStringSubmatch(p.Body)
	require.NotNil(t, m, "no #who on the page: %d %s", p.StatusCode, p.Body)
	return html.UnescapeString(m[1])
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the page's forms.
func csrf(t *testing.T, p page) string {
	t.Helper()
	m := csrfPattern.FindStringSubmatch(p.Body)
	require.NotNil(t, m, "no csrf field on the page")
	return m[1]
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(raw)
}

// lastSet is the last cookie named name an answer set.
func (b *browser) lastSet(name string) *http.Cookie {
	for i := len(b.set) - 1; i >= 0; i-- {
		if b.set[i].Name == name {
			return b.set[i]
		}
	}
	return nil
}

// cookies are the browser's session cookies (all chunks) for path.
func (b *browser) cookies(path string) []*http.Cookie {
	u, _ := url.Parse(b.s.srv.URL + path)
	var out []*http.Cookie
	for _, c := range b.client.Jar.Cookies(u) {
		if strings.Contains(c.Name, "-session") {
			out = append(out, c)
		}
	}
	return out
}
