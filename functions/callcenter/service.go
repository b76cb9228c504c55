// Package callcenter is the call-center portal (Knative Service call-center-portal): the
// server-rendered pages agents, admins and fleet managers work with at
// /call-center/ — customer search and the customer page (profile, licence, eligibility,
// bookings, invoices, notifications, erasure), booking on a customer's behalf, the counter
// of a branch (today's pickups and returns on the branch's clock, handover, return, no-show),
// cancellations with the fee shown first, dead letters (admins) and reports with their
// charts (fleet managers, admins).
//
// It owns no data and holds no rights: every page calls the functions' APIs as the
// signed-in user (platform/web: session, sign-in, CSRF, layout), so each function decides
// what the user may do, exactly as for a call with curl. The decisions — which pages whom,
// how a card is taken, which day "today" is — are in docs/call-center-portal.md.
package callcenter

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"time"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// ServiceName is the portal's Knative Service name and OIDC client id.
const ServiceName = "call-center-portal"

// BasePath is where the portal's pages are.
const BasePath = "/call-center/"

//go:embed all:templates
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Config is the portal's configuration: the shared portal settings (session keys, issuer).
type Config struct {
	web.Config
	// SandboxCards lets an agent book with the sandbox provider's test tokens (development:
	// `orange dev` sets it; never on the cluster), besides a payment method id.
	SandboxCards bool `env:"PORTAL_SANDBOX_CARDS, default=false"`
}

// Service serves the portal's pages.
type Service struct {
	site         *web.Site
	now          func() time.Time
	sandboxCards bool
}

// Function describes the portal to hosts: a public function under /call-center without a
// database.
func Function() platform.Function {
	return platform.Function{
		Service:        ServiceName,
		Prefixes:       []string{"/call-center"},
		Public:         true,
		SignInCallback: BasePath + "auth/callback",
		New:            platform.Construct(New),
	}
}

// staff are the roles that work with customers and bookings; admins pass every page.
var staff = []platform.Role{platform.RoleAgent}

// New builds the portal.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	tmpl, err := fs.Sub(templateFiles, "templates")
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	site, err := web.New(ctx, web.Options{
		Service:   ServiceName,
		BasePath:  BasePath,
		Roles:     []platform.Role{platform.RoleAgent, platform.RoleAdmin, platform.RoleFleet},
		Templates: tmpl,
		Static:    static,
		Messages:  messages,
		Config:    cfg.Config,
		Deps:      deps,
		// The issuer's token endpoint: in-process under `orange dev`, else the network.
		IssuerClient: deps.IssuerClient,
	})
	if err != nil {
		return nil, err
	}
	return &Service{site: site, now: time.Now, sandboxCards: cfg.SandboxCards}, nil
}

// CheckPages parses every page of the portal: pages parse on their first render
// (platform/web), so tests call this to find a broken one before a user does.
func (s *Service) CheckPages() error { return s.site.CheckPages() }

// Routes is the portal's route table: every page is public at the platform level and
// checked by platform/web against the session (sign-in, roles); what a page shows is then
// what the APIs answer the user.
func (s *Service) Routes() []platform.Route {
	admins := []platform.Role{platform.RoleAdmin}
	reporters := []platform.Role{platform.RoleFleet}
	page := func(name, method, path string, roles []platform.Role, h web.PageFunc) web.Page {
		return web.Page{Name: name, Method: method, Path: path, SignIn: true, Roles: roles, Handler: h}
	}
	return s.site.Routes(
		page("home", http.MethodGet, "", nil, s.home),
		page("customers", http.MethodGet, "customers", staff, s.customers),
		page("customerSearch", http.MethodPost, "customers", staff, s.customers),
		page("customer", http.MethodGet, "customers/{id}", staff, s.customer),
		page("eraseForm", http.MethodGet, "customers/{id}/erase", staff, s.eraseForm),
		page("erase", http.MethodPost, "customers/{id}/erase", staff, s.erase),
		page("resend", http.MethodPost, "notifications/{id}/resend", staff, s.resend),
		page("bookForm", http.MethodGet, "customers/{id}/book", staff, s.bookForm),
		page("book", http.MethodPost, "customers/{id}/book", staff, s.book),
		page("reservation", http.MethodGet, "reservations/{id}", staff, s.reservation),
		page("paymentMethod", http.MethodPost, "reservations/{id}/payment-method", staff, s.namePaymentMethod),
		page("pickupForm", http.MethodGet, "reservations/{id}/pickup", staff, s.pickupForm),
		page("pickup", http.MethodPost, "reservations/{id}/pickup", staff, s.pickup),
		page("returnForm", http.MethodGet, "reservations/{id}/return", staff, s.returnForm),
		page("return", http.MethodPost, "reservations/{id}/return", staff, s.carReturn),
		page("noShowForm", http.MethodGet, "reservations/{id}/no-show", staff, s.noShowForm),
		page("noShow", http.MethodPost, "reservations/{id}/no-show", staff, s.noShow),
		page("cancelForm", http.MethodGet, "reservations/{id}/cancel", staff, s.cancelForm),
		page("cancel", http.MethodPost, "reservations/{id}/cancel", staff, s.cancel),
		page("invoicePDF", http.MethodGet, "invoices/{id}/pdf", staff, s.invoicePDF),
		page("counter", http.MethodGet, "counter", staff, s.counter),
		page("deadLetters", http.MethodGet, "dead-letters", admins, s.deadLetters),
		page("deadLetter", http.MethodGet, "dead-letters/{id}", admins, s.deadLetter),
		page("replayDeadLetter", http.MethodPost, "dead-letters/{id}/replay", admins, s.deadLetterAction("replay")),
		page("discardDeadLetter", http.MethodPost, "dead-letters/{id}/discard", admins, s.deadLetterAction("discard")),
		page("reports", http.MethodGet, "reports", reporters, s.reports),
		page("reportChart", http.MethodGet, "reports/chart.svg", reporters, s.reportChart),
		page("reportCSV", http.MethodGet, "reports/report.csv", reporters, s.reportCSV),
	)
}

// Wrap puts the portal's security headers and session handling around every route.
func (s *Service) Wrap(next http.Handler) http.Handler { return s.site.Wrap(next) }

// client is the API layer as the request's user.
func client(r *http.Request, p *web.Request) api { return api{c: p.API(r.Context())} }
