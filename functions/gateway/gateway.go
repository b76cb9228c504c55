// Package gateway is the api-gateway function: the one public entry of the system. It
// forwards /api/<area>/… unchanged to the function owning the area — in-process in `orange
// dev`, to cluster-local Service URLs on Knative — after CORS, a per-address rate limit
// (before any token is looked at, so a flood of bad tokens is refused cheaply), token
// verification (an invalid token stops here), a per-caller rate limit and a body limit, with
// request id, W3C trace context and the client address it decided on (Orange-Client-Address)
// propagated. An unreachable or failing function becomes a problem+json 502 or 504, never a
// hang. Authorization stays with each function: none trusts that the gateway ran.
package gateway

import (
	"fmt"
	"net/http"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// ServiceName is the Knative Service of the gateway.
const ServiceName = "api-gateway"

// Upstream is a public area and the function that owns it.
type Upstream struct {
	Prefix  string
	Service string
}

// Upstreams lists every public area. Each function that serves an API adds its row; a test
// holds this table to the functions' own prefixes.
var Upstreams = []Upstream{
	{Prefix: "/api/cleanup", Service: "cleanup-worker"},
	{Prefix: "/api/customers", Service: "customers-api"},
	{Prefix: "/api/dead-letters", Service: "dead-letter"},
	{Prefix: "/api/events", Service: "sync-worker"},
	{Prefix: "/api/invoices", Service: "payments-api"},
	{Prefix: "/api/locations", Service: "locations-api"},
	{Prefix: "/api/notifications", Service: "notifications-api"},
	{Prefix: "/api/partners", Service: "sync-worker"},
	{Prefix: "/api/payments", Service: "payments-api"},
	{Prefix: "/api/pricing", Service: "pricing-api"},
	{Prefix: "/api/reports", Service: "report-worker"},
	{Prefix: "/api/reservations", Service: "reservations-api"},
	{Prefix: "/api/vehicles", Service: "vehicles-api"},
	{Prefix: "/api/webhooks", Service: "sync-worker"},
}

// Config is the gateway's configuration (docs/security.md, "Gateway limits").
type Config struct {
	// AllowedOrigins are the portals' origins, allowed cross-origin calls.
	AllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS, default=http://localhost:5173,http://localhost:5174"`
	// MaxBodyBytes bounds a request body passed upstream.
	MaxBodyBytes int64 `env:"GATEWAY_MAX_BODY_BYTES, default=1048576"`
	// AddressRateLimit is the sustained requests per second per client address, counted
	// before the token is verified; AddressRateBurst its bucket size. A request whose token
	// verifies and whose caller's own bucket admits it gives the token back, so the address
	// pays for anonymous callers and bad tokens, not for people signed in behind one NAT.
	AddressRateLimit float64 `env:"RATE_LIMIT_ADDRESS_RPS, default=100"`
	AddressRateBurst int     `env:"RATE_LIMIT_ADDRESS_BURST, default=200"`
	// RateLimit is the sustained requests per second per caller (a token's subject, else the
	// client address), counted after verification; RateBurst the bucket size.
	RateLimit float64 `env:"RATE_LIMIT_RPS, default=50"`
	RateBurst int     `env:"RATE_LIMIT_BURST, default=100"`
	// UpstreamTimeout bounds one forwarded request, response included.
	UpstreamTimeout time.Duration `env:"UPSTREAM_TIMEOUT, default=15s"`
	// TrustedProxies are the addresses (CIDR networks or single addresses) of the proxies in
	// front of the gateway whose X-Forwarded-For is believed. Empty by default: the peer is
	// the client. On Knative list the queue-proxy (loopback) and the pod network of the
	// ingress and activator (docs/security.md).
	TrustedProxies []string `env:"TRUSTED_PROXIES"`
	// UpstreamMaxInFlight is where each function's adaptive limit starts and the most it
	// reaches: requests forwarded to one function and not yet answered (upstreams.go); the
	// front door's own admission budget by default. 0 turns the per-function limits off.
	UpstreamMaxInFlight int `env:"GATEWAY_UPSTREAM_MAX_IN_FLIGHT, default=192"`
}

// Validate checks the settings.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes < 1:
		return fmt.Errorf("GATEWAY_MAX_BODY_BYTES must be positive")
	case c.RateLimit <= 0 || c.RateBurst < 1:
		return fmt.Errorf("RATE_LIMIT_RPS and RATE_LIMIT_BURST must be positive")
	case c.AddressRateLimit <= 0 || c.AddressRateBurst < 1:
		return fmt.Errorf("RATE_LIMIT_ADDRESS_RPS and RATE_LIMIT_ADDRESS_BURST must be positive")
	case c.UpstreamTimeout <= 0:
		return fmt.Errorf("UPSTREAM_TIMEOUT must be positive")
	case c.UpstreamMaxInFlight < 0:
		return fmt.Errorf("GATEWAY_UPSTREAM_MAX_IN_FLIGHT must not be negative")
	}
	return nil
}

// Function describes api-gateway to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:  ServiceName,
		Prefixes: []string{"/api"},
		Public:   true,
		New:      platform.Construct(New),
	}
}

// Routes forwards every public area; anything else under /api is a 404 from the router.
func (g *Gateway) Routes() []platform.Route {
	// The event catalogue's documents are the gateway's own (catalogue.go), ahead of the
	// forwarding of /api/events.
	routes := catalogueRoutes()
	for _, u := range Upstreams {
		fwd := g.forward(u.Service)
		routes = append(routes,
			platform.Route{Name: "forward:" + u.Service, Path: u.Prefix, Access: platform.Public, Handler: fwd},
			platform.Route{Name: "forward:" + u.Service + "/*", Path: u.Prefix + "/", Prefix: true, Access: platform.Public, Handler: fwd},
		)
	}
	return routes
}

// Wrap puts CORS outside everything, so a browser can read even a 401 or 429, then the
// per-function limits (a saturated function's excess is refused before anything is spent
// on it), and the per-address limit in front of token verification, so a flood of bad
// tokens costs a map lookup each, not a signature check, and is refused with 429 after the
// burst.
func (g *Gateway) Wrap(next http.Handler) http.Handler {
	return g.cors(g.limitUpstreams(g.limitAddresses(next)))
}
