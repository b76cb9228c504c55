// Package publicportal is the renters' web site, the public-portal Knative Service (issue
// 16): search by branch, dates and filters with gross prices, a vehicle page with a quote
// (extras, insurance, one-way drop-off), booking as a guest or signed in, the card entered
// in the browser and sent straight to payments-api, the booking's status (a declined card
// shown and replaced), "my bookings" (details, change of dates with the new price, cancel
// with the fee shown first, invoice PDFs), and the guest's manage link — in German and
// English. Pages are rendered on the server and work without JavaScript; static/portal.js
// only adds live re-pricing, the card's tokenization and the link's token hand-over.
//
// The portal owns no data: each page calls the APIs (locations, vehicles, pricing,
// reservations, payments) through the platform transport, as the signed-in user with the
// session's token or anonymously, through platform/web, which also keeps the session,
// signs in, guards forms against CSRF and renders the layout. What the pages are, their
// element ids and the decisions (cards without JavaScript, the guest's token, prices and
// times) are in docs/public-portal.md.
package publicportal

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"time"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// ServiceName is the Knative Service of this function.
const ServiceName = "public-portal"

// BasePath is where the portal's pages are: the site's root.
const BasePath = "/"

//go:embed all:templates static
var files embed.FS

// Config is the portal's configuration.
type Config struct {
	web.Config
	// APIURL is where the browser reaches the gateway's /api for the card's tokenization
	// (portal.js): empty when the portal's own origin serves /api (`orange dev`; on the
	// cluster a route of the portal's host to api-gateway), else the gateway's public origin.
	APIURL string `env:"PORTAL_API_URL"`
	// SandboxCards offers the sandbox provider's test tokens where a browser without
	// JavaScript cannot send a card (docs/public-portal.md); `orange dev` turns it on. Never
	// on a cluster with a real provider.
	SandboxCards bool `env:"PORTAL_SANDBOX_CARDS, default=false"`
	// TrustedProxies are the proxies whose X-Forwarded-For is believed for the guest's
	// address, as the gateway's setting of the same name. Behind Knative's queue-proxy and
	// the ingress every peer is a proxy: without it on the cluster every guest counts as the
	// queue-proxy's address for the guest-hold limit.
	TrustedProxies []string `env:"TRUSTED_PROXIES"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if _, err := platform.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	if c.APIURL != "" && apiOrigin(c.APIURL) == "" {
		return fmt.Errorf("PORTAL_API_URL must be an http(s) origin such as https://api.example.com, got %q", c.APIURL)
	}
	return c.Config.Validate()
}

// Service serves the public portal.
type Service struct {
	site    *web.Site
	guests  guestCookies
	cfg     Config
	proxies platform.TrustedProxies
	now     func() time.Time
}

// New builds the portal over deps (its calls go through deps.Transport as the user).
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	tmpl, _ := fs.Sub(files, "templates")
	static, _ := fs.Sub(files, "static")
	site, err := web.New(ctx, web.Options{
		Service: ServiceName, BasePath: BasePath, Templates: tmpl, Static: static,
		Messages: messages, Config: cfg.Config, Deps: deps, IssuerClient: deps.IssuerClient,
	})
	if err != nil {
		return nil, err
	}
	ps, err := platform.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	ps.WarnIfNone(ctx, deps, "the guest-booking limits")
	guests, err := newGuestCookies(site)
	if err != nil {
		return nil, err
	}
	return &Service{site: site, guests: guests, cfg: cfg, proxies: ps, now: time.Now}, nil
}

// Function describes public-portal to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:        ServiceName,
		Prefixes:       []string{platform.RootPrefix},
		Public:         true,
		SignInCallback: BasePath + "auth/callback",
		New:            platform.Construct(New),
	}
}

// CheckPages parses every page of the portal: pages parse on their first render
// (platform/web), so tests call this to find a broken one before a user does.
func (s *Service) CheckPages() error { return s.site.CheckPages() }

// Routes is the portal's route table: its pages (platform/web adds sign-in, assets and the
// friendly 404). Every page is public at the platform level; the pages that need a
// signed-in customer say so (SignIn), decided from the session cookie.
func (s *Service) Routes() []platform.Route { return s.site.Routes(s.pages()...) }

// Wrap puts platform/web's security headers around the routes. When the browser tokenizes
// cards at another origin (PORTAL_API_URL), the CSP lets scripts connect there too.
func (s *Service) Wrap(next http.Handler) http.Handler {
	origin := apiOrigin(s.cfg.APIURL)
	if origin == "" {
		return s.site.Wrap(next)
	}
	return s.site.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if csp := w.Header().Get("Content-Security-Policy"); csp != "" {
			w.Header().Set("Content-Security-Policy", csp+"; connect-src 'self' "+origin)
		}
		next.ServeHTTP(w, r)
	}))
}

// apiOrigin is the origin of an absolute API URL ("" for none or a relative one).
func apiOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (s *Service) pages() []web.Page {
	return []web.Page{
		{Name: "home", Path: "", Handler: s.handleHome},
		{Name: "search", Path: "search", Handler: s.handleSearch},
		{Name: "vehicle", Path: "vehicles/{id}", Handler: s.handleVehicle},
		{Name: "book", Path: "book", Handler: s.handleBookForm},
		{Name: "book-submit", Method: http.MethodPost, Path: "book", Handler: s.handleBook},
		{Name: "status", Path: "bookings/{id}", Handler: s.handleStatus},
		{Name: "retry-card", Method: http.MethodPost, Path: "bookings/{id}/payment-method", Handler: s.handleRetryCard(false)},
		{Name: "my-bookings", Path: "my-bookings", SignIn: true, Handler: s.handleMyBookings},
		{Name: "my-booking", Path: "my-bookings/{id}", SignIn: true, Handler: s.handleBooking(false)},
		{Name: "change", Path: "my-bookings/{id}/change", SignIn: true, Handler: s.handleChangeForm(false)},
		{Name: "change-submit", Method: http.MethodPost, Path: "my-bookings/{id}/change", SignIn: true, Handler: s.handleChange(false)},
		{Name: "cancel", Path: "my-bookings/{id}/cancel", SignIn: true, Handler: s.handleCancelForm(false)},
		{Name: "cancel-submit", Method: http.MethodPost, Path: "my-bookings/{id}/cancel", SignIn: true, Handler: s.handleCancel(false)},
		{Name: "invoice", Path: "my-bookings/{id}/invoices/{invoice}", SignIn: true, Handler: s.handleInvoice},
		// The guest's manage link: the token never in a URL the portal makes (guest.go).
		{Name: "manage", Path: "manage-booking", NoReferrer: true, Handler: s.handleBooking(true)},
		{Name: "manage-token", Method: http.MethodPost, Path: "manage-booking", NoReferrer: true, Handler: s.handleManageToken},
		{Name: "manage-change", Path: "manage-booking/change", NoReferrer: true, Handler: s.handleChangeForm(true)},
		{Name: "manage-change-submit", Method: http.MethodPost, Path: "manage-booking/change", NoReferrer: true, Handler: s.handleChange(true)},
		{Name: "manage-cancel", Path: "manage-booking/cancel", NoReferrer: true, Handler: s.handleCancelForm(true)},
		{Name: "manage-cancel-submit", Method: http.MethodPost, Path: "manage-booking/cancel", NoReferrer: true, Handler: s.handleCancel(true)},
		{Name: "manage-card", Method: http.MethodPost, Path: "manage-booking/payment-method", NoReferrer: true, Handler: s.handleRetryCard(true)},
		// The welcome mail's email verification link (handle_verify.go), its token in the fragment.
		{Name: "verify-email", Path: "verify-email", NoReferrer: true, Handler: s.handleVerifyForm},
		{Name: "verify-email-submit", Method: http.MethodPost, Path: "verify-email", NoReferrer: true, Handler: s.handleVerify},
	}
}
