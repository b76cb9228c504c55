// Package gateway is the api-gateway function: the one public entry of the system. It
// forwards /api/<area>/… unchanged to the function owning the area — in-process in `orange
// dev`, to cluster-local Service URLs on Knative — after CORS, token verification (an invalid
// token stops here), a per-caller rate limit and a body limit, with request id and W3C trace
// context propagated. An unreachable or failing function becomes a problem+json 502 or 504,
// never a hang. Authorization stays with each function: none trusts that the gateway ran.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
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
	{Prefix: "/api/customers", Service: "customers-api"},
	{Prefix: "/api/invoices", Service: "payments-api"},
	{Prefix: "/api/locations", Service: "locations-api"},
	{Prefix: "/api/payments", Service: "payments-api"},
	{Prefix: "/api/pricing", Service: "pricing-api"},
	{Prefix: "/api/reservations", Service: "reservations-api"},
	{Prefix: "/api/vehicles", Service: "vehicles-api"},
}

// Config is the gateway's configuration.
type Config struct {
	// AllowedOrigins are the portals' origins, allowed cross-origin calls.
	AllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS, default=http://localhost:5173,http://localhost:5174"`
	// MaxBodyBytes bounds a request body passed upstream.
	MaxBodyBytes int64 `env:"GATEWAY_MAX_BODY_BYTES, default=1048576"`
	// RateLimit is the sustained requests per second per caller; RateBurst the bucket size.
	RateLimit float64 `env:"RATE_LIMIT_RPS, default=50"`
	RateBurst int     `env:"RATE_LIMIT_BURST, default=100"`
	// UpstreamTimeout bounds one forwarded request, response included.
	UpstreamTimeout time.Duration `env:"UPSTREAM_TIMEOUT, default=15s"`
	// TrustedProxies are the networks whose X-Forwarded-For is believed when finding a
	// caller's IP (Knative's ingress and activator run inside the cluster).
	TrustedProxies []string `env:"TRUSTED_PROXIES, default=10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,::1/128,fc00::/7"`
}

// Validate checks the settings.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes < 1:
		return fmt.Errorf("GATEWAY_MAX_BODY_BYTES must be positive")
	case c.RateLimit <= 0 || c.RateBurst < 1:
		return fmt.Errorf("RATE_LIMIT_RPS and RATE_LIMIT_BURST must be positive")
	case c.UpstreamTimeout <= 0:
		return fmt.Errorf("UPSTREAM_TIMEOUT must be positive")
	}
	return nil
}

// Function describes api-gateway to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:  ServiceName,
		Prefixes: []string{"/api"},
		Public:   true,
		New: func(ctx context.Context, deps platform.Deps) (platform.API, error) {
			var cfg Config
			if err := platform.LoadConfig(ctx, deps.Env, &cfg); err != nil {
				return nil, err
			}
			g, err := New(cfg, deps.Transport)
			if err != nil {
				return nil, err
			}
			if deps.Logger != nil {
				g.proxy.ErrorLog = slog.NewLogLogger(deps.Logger.Handler(), slog.LevelWarn)
			}
			return g, nil
		},
	}
}

// Routes forwards every public area; anything else under /api is a 404 from the router.
func (g *Gateway) Routes() []platform.Route {
	var routes []platform.Route
	for _, u := range Upstreams {
		fwd := g.forward(u.Service)
		routes = append(routes,
			platform.Route{Name: "forward:" + u.Service, Path: u.Prefix, Access: platform.Public, Handler: fwd},
			platform.Route{Name: "forward:" + u.Service + "/*", Path: u.Prefix + "/", Prefix: true, Access: platform.Public, Handler: fwd},
		)
	}
	return routes
}

// Wrap puts CORS outside token verification, so a browser can read even a 401.
func (g *Gateway) Wrap(next http.Handler) http.Handler { return g.cors(next) }
