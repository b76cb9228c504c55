package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/platform/database"
)

// Function is one deployable unit of the system: its own Knative Service in production, one
// mount among all in `orange dev`. Function packages export one of these; nothing else about
// them needs to be known to run them.
type Function struct {
	// Service is the Knative Service name, e.g. "locations-api". The transport and the
	// in-process broker address functions by it.
	Service string
	// Prefixes are the public path prefixes the function serves, e.g. "/api/locations". The
	// function serves them itself (alone and in `orange dev`), so the gateway forwards paths
	// unchanged. One public function of a registry may claim "/": it serves every path no
	// other prefix claims (the public portal's pages at the site's root).
	Prefixes []string
	// Public functions are reachable from outside (on Knative: not cluster-local). In
	// `orange dev` only their prefixes are mounted on the port; every other function is
	// reached through the gateway and the transport, as on the cluster.
	Public bool
	// SignInCallback is the path where the issuer sends a browser back after signing in to
	// this function: a portal's OIDC redirect URI path ("/call-center/auth/callback"). The
	// development issuer of `orange dev` registers the function as a public client with it;
	// empty: no browser signs in to the function.
	SignInCallback string
	// Migrations is the function's schema; nil for functions without a database.
	Migrations *database.Migrations
	// New builds the function's API. The host builds the router from its route table and puts
	// token verification in front of it.
	New func(ctx context.Context, deps Deps) (API, error)
}

// RootPrefix is the prefix of the function that serves everything no other prefix claims.
const RootPrefix = "/"

// Runner is implemented by APIs with background work (a mail sender, a sweeper). Hosts run
// it beside the server and wait for it to return after the server has drained.
type Runner interface {
	Run(ctx context.Context) error
}

// Wrapper is implemented by APIs that need middleware outside token verification (the
// gateway's CORS, so that even a 401 carries CORS headers).
type Wrapper interface {
	Wrap(next http.Handler) http.Handler
}

// Handler builds the HTTP handler of api as every host serves it: optional outer middleware,
// then token verification, then the router with its per-route access checks.
func Handler(api API, authn Authenticator) http.Handler {
	h := Authenticate(authn, NewRouter(api.Routes()))
	if w, ok := api.(Wrapper); ok {
		h = w.Wrap(h)
	}
	return h
}

// Construct adapts a function's constructor to Function.New. Every function's constructor
// has one shape, New(ctx, cfg, deps): Construct loads cfg from deps.Env (LoadConfig, which
// also validates it) and calls newAPI with it.
func Construct[C any, A API](newAPI func(ctx context.Context, cfg C, deps Deps) (A, error)) func(context.Context, Deps) (API, error) {
	return func(ctx context.Context, deps Deps) (API, error) {
		var cfg C
		if err := LoadConfig(ctx, deps.Env, &cfg); err != nil {
			return nil, err
		}
		api, err := newAPI(ctx, cfg, deps)
		if err != nil {
			return nil, err
		}
		return api, nil
	}
}

// Deps is what the host hands a function.
type Deps struct {
	DB     *database.DB
	Logger *slog.Logger
	// Client calls other functions through the transport (in-process or networked),
	// carrying the inbound request id, token and trace context.
	Client *http.Client
	// Transport reaches other functions by service name; the gateway proxies through it.
	Transport http.RoundTripper
	// Env is where the function reads its own configuration.
	Env envconfig.Lookuper
	// IssuerClient reaches the OIDC issuer's token endpoint and keys: in-process when `orange
	// dev` serves the development issuer; nil: over the network. Portals sign users in with it.
	IssuerClient *http.Client
}

// Registry holds the functions a process runs, by service name.
type Registry struct {
	fns map[string]Function
}

// NewRegistry validates and indexes fns: names and prefixes must be unique and well-formed.
// A schema belongs to one function, or to the process types of one package (notifier's
// notification-worker and notifications-api, design.md §1), which say so by sharing one
// *database.Migrations: two different sets claiming one schema would fight over it.
func NewRegistry(fns ...Function) (*Registry, error) {
	r := &Registry{fns: map[string]Function{}}
	prefixes := map[string]string{}
	type claim struct {
		service string
		set     *database.Migrations
	}
	schemas := map[string]claim{}
	for _, fn := range fns {
		if fn.Service == "" || fn.New == nil {
			return nil, fmt.Errorf("function %q: service name and constructor are required", fn.Service)
		}
		if _, dup := r.fns[fn.Service]; dup {
			return nil, fmt.Errorf("function %q registered twice", fn.Service)
		}
		for _, p := range fn.Prefixes {
			if p == RootPrefix && !fn.Public {
				return nil, fmt.Errorf("function %q: prefix \"/\" (everything no other prefix claims) is for a public function only", fn.Service)
			}
			if p != RootPrefix && (!strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/")) {
				return nil, fmt.Errorf("function %q: prefix %q must start and not end with /", fn.Service, p)
			}
			if other, dup := prefixes[p]; dup {
				return nil, fmt.Errorf("functions %q and %q both claim prefix %q", other, fn.Service, p)
			}
			prefixes[p] = fn.Service
		}
		if fn.Migrations != nil {
			if other, dup := schemas[fn.Migrations.Schema]; dup && other.set != fn.Migrations {
				return nil, fmt.Errorf("functions %q and %q both claim schema %q with migrations of their own", other.service, fn.Service, fn.Migrations.Schema)
			}
			schemas[fn.Migrations.Schema] = claim{fn.Service, fn.Migrations}
		}
		r.fns[fn.Service] = fn
	}
	return r, nil
}

// Functions returns the registered functions ordered by service name.
func (r *Registry) Functions() []Function {
	out := make([]Function, 0, len(r.fns))
	for _, fn := range r.fns {
		out = append(out, fn)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// Lookup returns the function registered under service.
func (r *Registry) Lookup(service string) (Function, bool) {
	fn, ok := r.fns[service]
	return fn, ok
}

// Migrations returns every schema's migrations once, ordered by the service name of the
// first function that brings them.
func (r *Registry) Migrations() []database.Migrations {
	var out []database.Migrations
	seen := map[string]bool{}
	for _, fn := range r.Functions() {
		if fn.Migrations != nil && !seen[fn.Migrations.Schema] {
			seen[fn.Migrations.Schema] = true
			out = append(out, *fn.Migrations)
		}
	}
	return out
}

// SchemaOwner reports whether fn is the function that stands for its schema in r: the first
// by service name of those sharing it (nil migrations: true). A host runs what belongs to a
// schema once per process — its outbox relay — through the owner.
func (r *Registry) SchemaOwner(fn Function) bool {
	if fn.Migrations == nil {
		return true
	}
	for _, other := range r.Functions() {
		if other.Migrations != nil && other.Migrations.Schema == fn.Migrations.Schema {
			return other.Service == fn.Service
		}
	}
	return true
}
