package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"github.com/orangecarrental/orange/platform"
)

// Config is a portal's configuration from the environment; a portal embeds it in its own.
type Config struct {
	// SessionKeys are base64 32-byte keys, comma-separated: the first encrypts new cookies,
	// every one decrypts (rotation: put the new key first, drop the old one a session
	// lifetime later). Each portal derives its own keys from them, so one portal's cookie
	// never decodes in the other. `orange dev` keeps one in ORANGE_DATA_DIR.
	SessionKeys []string `env:"PORTAL_SESSION_KEYS"`
	// IssuerURL is the OIDC issuer as the browser reaches it and as tokens name it (`iss`):
	// the sign-in and sign-out pages are below it.
	IssuerURL string `env:"OIDC_ISSUER_URL"`
	// ServerIssuerURL is where this server reaches the same issuer (token endpoint, keys), a
	// cluster-local address say; empty: IssuerURL.
	ServerIssuerURL string `env:"PORTAL_OIDC_SERVER_URL"`
	// Audience must be among the access token's `aud`, as every API requires.
	Audience string `env:"OIDC_AUDIENCE, default=orange-api"`
	// ClientID is the portal's OIDC client; empty: the portal's service name.
	ClientID string `env:"PORTAL_CLIENT_ID"`
	// PublicURL is the portal's origin as browsers reach it (https://www.example.com), the
	// base of the redirect URI registered with the issuer; empty: taken from each request's
	// Host and X-Forwarded-Proto (the issuer still accepts only registered URIs).
	PublicURL string `env:"PORTAL_PUBLIC_URL"`
	// SessionTTL is the longest a sign-in lasts, however often its tokens are refreshed.
	SessionTTL time.Duration `env:"PORTAL_SESSION_TTL, default=12h"`
	// AllowHTTPHosts may be reached over plain http besides loopback, cluster-local and
	// *.test hosts (auth.CheckKeyURL): the same setting as the functions' OIDC_ALLOW_HTTP_HOSTS.
	AllowHTTPHosts []string `env:"OIDC_ALLOW_HTTP_HOSTS"`
}

// String hides the keys, should a configuration ever be printed.
func (c Config) String() string {
	return fmt.Sprintf("{SessionKeys:[%d redacted] IssuerURL:%s ServerIssuerURL:%s ClientID:%s PublicURL:%s}",
		len(c.SessionKeys), c.IssuerURL, c.ServerIssuerURL, c.ClientID, c.PublicURL)
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.SessionKeys) == 0 {
		return errors.New("PORTAL_SESSION_KEYS is required: base64 32-byte keys, comma-separated, the first encrypts")
	}
	for i, k := range c.SessionKeys {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k))
		if err != nil || len(raw) != 32 {
			return fmt.Errorf("PORTAL_SESSION_KEYS: key %d is not 32 bytes in base64", i+1)
		}
	}
	if !strings.HasPrefix(c.IssuerURL, "https://") && !strings.HasPrefix(c.IssuerURL, "http://") {
		return fmt.Errorf("OIDC_ISSUER_URL must be an http(s) URL, got %q", c.IssuerURL)
	}
	if c.ServerIssuerURL != "" && !strings.HasPrefix(c.ServerIssuerURL, "https://") && !strings.HasPrefix(c.ServerIssuerURL, "http://") {
		return fmt.Errorf("PORTAL_OIDC_SERVER_URL must be an http(s) URL, got %q", c.ServerIssuerURL)
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "https://") && !strings.HasPrefix(c.PublicURL, "http://") {
		return fmt.Errorf("PORTAL_PUBLIC_URL must be an http(s) origin, got %q", c.PublicURL)
	}
	if c.SessionTTL <= 0 {
		return fmt.Errorf("PORTAL_SESSION_TTL must be positive, got %s", c.SessionTTL)
	}
	return nil
}

// Options describe one portal.
type Options struct {
	// Service is the portal's Knative Service name, also its OIDC client id:
	// "public-portal" or "call-center-portal".
	Service string
	// BasePath is where the portal's pages are, with a trailing slash: "/" or "/call-center/".
	BasePath string
	// Roles may sign in; nil: customers only. A signed-in user without one of them has no
	// session in this portal.
	Roles []platform.Role
	// Templates are the portal's pages (see Site.Render for the layout contract).
	Templates fs.FS
	// Static are the portal's own assets, served next to the shared ones (Request.Asset).
	Static fs.FS
	// Messages are the portal's texts, in German and English, added to the shared ones.
	Messages Messages
	// Config is the portal's configuration from the environment.
	Config Config
	// Deps are the function's dependencies: the APIs are called over Deps.Transport as the
	// signed-in user (never with the portal's own identity), and Deps.Logger logs.
	Deps platform.Deps
	// CallTimeout bounds one call to an API; zero: 10 s.
	CallTimeout time.Duration
	// IssuerClient reaches the issuer's token endpoint and keys; nil: Deps.IssuerClient, else
	// a plain client.
	IssuerClient *http.Client
	// Now is the clock; nil: time.Now. Tests move it.
	Now func() time.Time
}

// Site is one portal's shared machinery. It is safe for concurrent use.
type Site struct {
	opts      Options
	base      string
	roles     []platform.Role
	messages  Messages
	keys      [][]byte
	sessions  *codec
	logins    *codec
	pages     map[string]func() (*template.Template, error) // parsed on first render (render.go)
	errorPage *template.Template
	// signoutPage continues a sign-out at the issuer with a posted form.
	signoutPage *template.Template
	assets      *assets
	oidc        *signIn
	api         http.RoundTripper
	logger      *slog.Logger
	now         func() time.Time
	// nextPages matches the portal's GET pages: the only places a sign-in returns to
	// (safeNext). Set by Routes.
	nextPages atomic.Pointer[mux.Router]
}

// New builds the Site of a portal. It contacts nobody: the issuer is first reached when
// somebody signs in, so a portal starts while Keycloak is still coming up.
func New(ctx context.Context, o Options) (*Site, error) {
	if o.Service == "" {
		return nil, errors.New("web: Options.Service is required")
	}
	if !strings.HasPrefix(o.BasePath, "/") || !strings.HasSuffix(o.BasePath, "/") {
		return nil, fmt.Errorf("web: BasePath %q must start and end with /", o.BasePath)
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Config.ClientID == "" {
		o.Config.ClientID = o.Service
	}
	if o.Config.ServerIssuerURL == "" {
		o.Config.ServerIssuerURL = o.Config.IssuerURL
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Deps.Logger == nil {
		o.Deps.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Deps.Transport == nil {
		o.Deps.Transport = platform.NewTransport(nil, nil)
	}
	if o.IssuerClient == nil {
		o.IssuerClient = o.Deps.IssuerClient
	}
	if o.IssuerClient == nil {
		o.IssuerClient = &http.Client{Timeout: 10 * time.Second}
	}
	roles := o.Roles
	if roles == nil {
		roles = []platform.Role{platform.RoleCustomer}
	}
	s := &Site{opts: o, base: o.BasePath, roles: roles, logger: o.Deps.Logger, now: o.Now}
	s.messages = sharedMessages.merge(o.Messages)
	keys, err := decodeKeys(o.Config.SessionKeys)
	if err != nil {
		return nil, err
	}
	s.keys = keys
	if s.sessions, err = newCodec(keys, o.Service, "session"); err != nil {
		return nil, err
	}
	if s.logins, err = newCodec(keys, o.Service, "login"); err != nil {
		return nil, err
	}
	if s.assets, err = loadAssets(o.Static); err != nil {
		return nil, err
	}
	if err := s.parseTemplates(o.Templates); err != nil {
		return nil, err
	}
	if s.oidc, err = newSignIn(s); err != nil {
		return nil, err
	}
	// The portal's calls carry the request id and trace context but no identity of the
	// portal's own: a guest's calls are anonymous, a user's carry the user's token.
	s.api = platform.ForwardingClient(o.Deps.Transport, nil, 0).Transport
	return s, nil
}

// Service is the portal's service name.
func (s *Site) Service() string { return s.opts.Service }

// Path returns the absolute path of rel below the portal's BasePath: Path("search") is
// "/call-center/search" in the call center.
func (s *Site) Path(rel string) string { return s.base + strings.TrimPrefix(rel, "/") }

// CallbackPath is the sign-in callback of a portal at basePath (its OIDC redirect URI's
// path): what the portal's platform.Function names as SignInCallback.
func CallbackPath(basePath string) string { return basePath + "auth/callback" }

// PageFunc serves one page: parse, call the APIs, render. An error it returns is shown as a
// friendly error page (see Request.Fail).
type PageFunc func(w http.ResponseWriter, r *http.Request, p *Request) error

// Page is one route of a portal.
type Page struct {
	// Name is the route's name, unique in the portal.
	Name string
	// Method is the HTTP method (GET, POST); empty: GET.
	Method string
	// Path is a gorilla/mux template relative to BasePath: "" (the home page), "search",
	// "bookings/{id}".
	Path string
	// SignIn pages need a signed-in user: a guest is sent to sign in first (GET) or shown
	// the 401 page (POST).
	SignIn bool
	// Roles narrow a SignIn page further (any one suffices); admins always pass.
	Roles []platform.Role
	// NoReferrer pages carry a secret in their URL (a guest's manage link): the browser
	// sends no Referer from them.
	NoReferrer bool
	Handler    PageFunc

	// allowed, set on the portal's fallback page only, names the methods a path's pages
	// take when the request's is not one of them ("" when no page has the path).
	allowed func(*http.Request) string
}

// Routes returns the portal's route table: its pages, the sign-in routes, the assets, and a
// friendly 404 for every other path below BasePath. Every route is public at the platform
// level: who may see a page is the page's business (Page.SignIn, Page.Roles), decided from
// the session cookie, which the platform's token check does not read.
func (s *Site) Routes(pages ...Page) []platform.Route {
	var out []platform.Route
	next := mux.NewRouter()
	var paths []string              // in the pages' order, as the router tries them
	byPath := map[string][]string{} // a path's methods, for a 405's Allow
	for _, pg := range pages {
		method := pg.Method
		if method == "" {
			method = http.MethodGet
		}
		path := s.Path(pg.Path)
		out = append(out, platform.Route{
			Name: s.opts.Service + "." + pg.Name, Method: method, Path: path,
			Access: platform.Public, Handler: s.serve(pg),
		})
		if byPath[path] == nil {
			paths = append(paths, path)
		}
		byPath[path] = append(byPath[path], platform.Methods(method)...)
		if method == http.MethodGet {
			next.Path(path)
		}
	}
	s.nextPages.Store(next)
	methods := mux.NewRouter()
	for _, path := range paths {
		methods.Path(path).Name(strings.Join(byPath[path], ", "))
	}
	out = append(out, s.oidc.routes()...)
	out = append(out, platform.Route{
		Name: s.opts.Service + ".static", Method: http.MethodGet, Path: s.Path("static/"), Prefix: true,
		Access: platform.Public, Handler: s.serveAsset,
	})
	if s.base != "/" {
		// /call-center without its slash: the browser resolves relative links against it wrongly.
		bare := strings.TrimSuffix(s.base, "/")
		out = append(out, platform.Route{
			Name: s.opts.Service + ".base", Path: bare, Access: platform.Public,
			Handler: func(w http.ResponseWriter, r *http.Request) error {
				http.Redirect(w, r, s.base, http.StatusMovedPermanently)
				return nil
			},
		})
	}
	out = append(out, platform.Route{
		Name: s.opts.Service + ".not-found", Path: s.base, Prefix: true, Access: platform.Public,
		Handler: s.serve(Page{Name: "not-found", Handler: func(http.ResponseWriter, *http.Request, *Request) error {
			return platform.NotFound("no page here")
		}, allowed: func(r *http.Request) string {
			var m mux.RouteMatch
			if !methods.Match(r, &m) {
				return ""
			}
			return m.Route.GetName()
		}}),
	})
	return out
}

// API returns the portal as a function's API: Routes(pages...) behind Wrap.
func (s *Site) API(pages ...Page) platform.API { return siteAPI{s, s.Routes(pages...)} }

type siteAPI struct {
	s      *Site
	routes []platform.Route
}

func (a siteAPI) Routes() []platform.Route            { return a.routes }
func (a siteAPI) Wrap(next http.Handler) http.Handler { return a.s.Wrap(next) }

// admits reports whether a user with roles may have a session in this portal.
func (s *Site) admits(roles []platform.Role) bool { return intersects(s.roles, roles) }

func intersects(a, b []platform.Role) bool {
	return slices.ContainsFunc(a, func(r platform.Role) bool { return slices.Contains(b, r) })
}

// requestTLS reports whether the browser reached us over TLS: the connection's own, or the
// ingress's as it says in X-Forwarded-Proto (Knative terminates TLS before the pod). A forged
// header only makes the forger's own cookies Secure.
func requestTLS(r *http.Request) bool {
	first, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return r.TLS != nil || strings.EqualFold(strings.TrimSpace(first), "https")
}
