package host

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/admission"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/metrics"
	"github.com/orangecarrental/orange/platform/pgcluster"
	"github.com/orangecarrental/orange/platform/tracing"
)

// DevConfig is Config plus where `orange dev` keeps its private PostgreSQL.
type DevConfig struct {
	Config
	// DataDir holds the private cluster (DataDir/postgres) when DATABASE_URL is unset, and the
	// development issuer's signing key. It is git-ignored; a restart finds everything as left.
	DataDir string `env:"ORANGE_DATA_DIR, default=.data"`
	// DatabaseName is the database `orange dev` creates on its private cluster.
	DatabaseName string `env:"ORANGE_DATABASE, default=orange"`
	// Listen is the address `orange dev` listens on: this machine only by default. Anything
	// else ("0.0.0.0", "", a LAN address) exposes a known-password issuer and the mailbox to
	// the network; it is logged as a warning and lifts the Host check of the dev pages.
	Listen string `env:"ORANGE_LISTEN, default=127.0.0.1"`
}

// Validate checks the whole configuration.
func (c *DevConfig) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.Listen != "" && c.Listen != "localhost" {
		if _, err := netip.ParseAddr(c.Listen); err != nil {
			return fmt.Errorf("ORANGE_LISTEN must be an IP address (127.0.0.1, ::1, 0.0.0.0) or empty for every interface, got %q", c.Listen)
		}
	}
	return nil
}

// exposed tells whether Listen reaches beyond this machine.
func (c *DevConfig) exposed() bool {
	if c.Listen == "localhost" {
		return false
	}
	a, err := netip.ParseAddr(c.Listen)
	return err != nil || !a.IsLoopback()
}

// Dev runs every function of reg in this process behind one port, until ctx ends. Unless
// OIDC_ISSUER_URL names a real issuer, it serves the development issuer on the same port.
func Dev(ctx context.Context, reg *platform.Registry, env Env) error {
	var cfg DevConfig
	if err := platform.LoadConfig(ctx, env.Lookuper, &cfg); err != nil {
		return err
	}
	logger := platform.NewLogger(env.Stdout, cfg.Server.LogLevel, "orange-dev")
	ctx = platform.WithLogger(ctx, logger)
	// One exporter; each function's spans carry its own service name, the broker's "broker"
	// (OTEL_SERVICE_NAME would name them all alike).
	cfg.Tracing.ServiceName = ""
	tr, stopTracing, err := startTracing(ctx, env, cfg.Tracing, logger)
	if err != nil {
		return err
	}
	defer stopTracing() // last: after the drain, the relays and the broker
	cfg.Server.Host = cfg.Listen
	srv, err := platform.NewServer(cfg.Server)
	if err != nil {
		return err
	}
	exposed := cfg.exposed()
	if exposed {
		logger.WarnContext(ctx, "orange dev is reachable from other machines (ORANGE_LISTEN): anyone who reaches "+
			srv.Addr().String()+" can get tokens from the development issuer (known passwords), read the mailbox and "+
			"send events, and the development pages answer to any Host name. Unset ORANGE_LISTEN to listen on 127.0.0.1 only.",
			slog.String("listen", cfg.Listen))
	}

	if cfg.Database.URL == "" {
		stop, url, err := startPrivateCluster(ctx, logger, cfg)
		if err != nil {
			return err
		}
		defer func() {
			if err := stop(); err != nil {
				logger.Error("stop postgres", slog.String("error", err.Error()))
			}
		}()
		cfg.Database.URL = url
	}
	db, err := database.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	db.Logger = logger // the session connection's drops and reconnects
	// The in-process broker keeps its durable queues in its own schema.
	if err := migrate(ctx, logger, db, append(reg.Migrations(), broker.Migrations)); err != nil {
		return err
	}

	_, port, _ := net.SplitHostPort(srv.Addr().String())
	local := "http://localhost:" + port
	var issuer *devissuer.Issuer
	authCfg := cfg.Auth
	if authCfg.IssuerURL == "" {
		key, err := devissuer.LoadOrCreateKey(filepath.Join(cfg.DataDir, "dev-issuer-key.pem"))
		if err != nil {
			return fmt.Errorf("development issuer key: %w", err)
		}
		issuer = devissuer.New(local+devissuer.RealmPath, key)
		issuer.AddClients(serviceNames(reg)...)
		issuer.AddPublicClients(portalClients(reg, port)...)
		authCfg.IssuerURL = issuer.URL()
		authCfg.Audience = devissuer.Audience
	}
	// There is no cluster: its service-account issuer, which signs event deliveries and the
	// relays' tokens towards the Broker, is imitated on the same port.
	clusterKey, err := devissuer.LoadOrCreateKey(filepath.Join(cfg.DataDir, "dev-cluster-key.pem"))
	if err != nil {
		return fmt.Errorf("development cluster issuer key: %w", err)
	}
	cluster := devissuer.NewCluster(local+devissuer.ClusterPath, clusterKey)
	// The portals' session cookies survive a restart: their key is kept with the data.
	portalKey, err := loadOrCreatePortalKey(filepath.Join(cfg.DataDir, "portal-session-key"))
	if err != nil {
		return fmt.Errorf("portal session key: %w", err)
	}
	// Local defaults for functions' own settings: the mail folder lives with the data.
	env.Lookuper = envconfig.MultiLookuper(env.Lookuper, envconfig.MapLookuper(map[string]string{
		"PORTAL_SESSION_KEYS": portalKey,
		"MAIL_DIR":            filepath.Join(cfg.DataDir, "mail"),
		// Links in mails (a guest's manage link, a verification) point at this port.
		"MAIL_LINK_BASE": local,
		// Guests' manage links are signed with a key made at each start (links mailed before a
		// restart stop working; set RESERVATION_LINK_KEY to keep them).
		"RESERVATION_LINK_KEY": rand.Text() + rand.Text(),
		// sync-worker: webhooks may go to a receiver on this machine (loopback only; never
		// set on a cluster), and the dev issuer's partner may send every inbound type.
		"SYNC_ALLOW_LOOPBACK": "true",
		"SYNC_SEED_PARTNERS":  devissuer.DevPartner,

		// public-portal: the sandbox's test cards for browsers without JavaScript.
		"PORTAL_SANDBOX_CARDS": "true",
	}))
	// The verifiers fetch the issuers' keys, and the functions their service tokens,
	// in-process by the issuers' own URLs.
	issuers := http.NewServeMux()
	issuers.Handle(devissuer.ClusterPath+"/", cluster.Handler(devissuer.ClusterPath))
	if issuer != nil {
		issuers.Handle(devissuer.RealmPath+"/", issuer.Handler())
	}
	keys := platform.NewTransport(nil, nil)
	keys.Mount("localhost", issuers)
	keyClient := &http.Client{Transport: keys, Timeout: 10 * time.Second}
	// One registry for the process: every function's series carry its name (docs/observability.md).
	mreg := processMetrics(db, reg.Migrations())
	deps := MountDeps{
		Metrics: mreg,
		DB:      db, Logger: logger, Auth: authCfg, Issuer: issuer, CallTimeout: cfg.CallTimeout, Env: env, Tracing: tr,
		Events: auth.DeliveryConfig{IssuerURL: cluster.URL()}, Cluster: cluster, Namespace: auth.DefaultNamespace,
		ClientSecret: func(service string) string {
			if issuer != nil {
				return devissuer.ClientSecret(service)
			}
			// A real issuer: each function's secret from OIDC_CLIENT_SECRET_<SERVICE>.
			v, _ := env.Lookuper.Lookup("OIDC_CLIENT_SECRET_" + strings.TrimSuffix(platform.ServiceURLKey(service), "_URL"))
			return v
		},
	}
	if issuer != nil {
		deps.KeyClient = keyClient
	}
	deps.EventKeyClient = keyClient
	deps.Admission = &cfg.Admission
	m, err := Mount(ctx, reg, deps)
	if err != nil {
		return err
	}
	if issuer != nil {
		logger.InfoContext(ctx, "development issuer", slog.String("issuer", issuer.URL()),
			slog.String("token", issuer.URL()+"/protocol/openid-connect/token"))
	}
	logger.InfoContext(ctx, "development cluster issuer", slog.String("issuer", cluster.URL()),
		slog.String("token", cluster.URL()+"/token"))

	// The cluster-local functions, reached as from inside the cluster (devservices.go).
	m.Mux.Handle("POST "+DevServicesPath+"{service}/{path...}", devServices(m.Transport, serviceNames(reg)))

	bg := newBackground(ctx, logger)
	bg.tracing = tr
	bg.metrics = mreg
	defer bg.stop()
	b, err := startBroker(bg, m, db, logger)
	if err != nil {
		return err
	}
	mreg.MustRegister(b.Collector())
	m.Mux.Handle("GET /metrics", mreg.Handler())
	for _, fn := range reg.Functions() {
		bg.runner(fn.Service, m.APIs[fn.Service])
		// Each relay publishes as its function's service account, which the Broker's
		// EventPolicies hold to the function's own event types.
		pub := b.As(devissuer.Subject(m.Namespace, fn.Service))
		// Publish returns once the event is queued durably: the relay's default timeout
		// bounds only the wait of a full queue (backpressure), then it retries.
		if reg.SchemaOwner(fn) { // one relay per outbox: process types of one package share it
			bg.relay(fn, db, pub, cfg.RelayPoll, 0)
		}
	}
	return serve(ctx, env, srv, logger, guardDevPages(m.Handler, exposed))
}

// devPages are the paths of the port that serve the developer at this machine rather than
// the product: the mailbox and broker pages (/dev/…), the development issuers' token
// endpoints (/realms/…, /dev/cluster-issuer/…), the broker's ingress and its metrics.
var devPages = []string{"/dev", "/realms", "/broker", "/metrics"}

func isDevPage(p string) bool {
	p = path.Clean("/" + p) // as the mux will route it
	for _, page := range devPages {
		if p == page || strings.HasPrefix(p, page+"/") {
			return true
		}
	}
	return false
}

// guardDevPages refuses the development pages to a request whose Host is not this machine's
// loopback (localhost, 127.0.0.1 or [::1], any port) unless the port was exposed on
// purpose. Listening on 127.0.0.1 keeps other machines out; this keeps out DNS rebinding: a
// page of another site whose name is re-pointed at 127.0.0.1 reaches the port from the
// developer's own browser, but with its own name in Host. It also drops any
// Orange-Client-Address a caller sends: only the gateway sets it, behind the port.
func guardDevPages(next http.Handler, exposed bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k := range r.Header {
			if strings.EqualFold(k, platform.ClientAddressHeader) {
				delete(r.Header, k)
			}
		}
		if !exposed && isDevPage(r.URL.Path) && !loopbackHost(r.Host) {
			platform.WriteError(w, r, platform.Errorf(platform.KindForbidden,
				"the development pages answer only to localhost, 127.0.0.1 or [::1], not to Host %q", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost tells whether a Host header names this machine's loopback, with any port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// MountDeps is what Mount wires the functions with.
type MountDeps struct {
	DB        *database.DB
	Logger    *slog.Logger
	Auth      auth.Config
	KeyClient *http.Client      // fetches the issuer's keys and service tokens; nil: plain HTTP
	Issuer    *devissuer.Issuer // served on the port when set
	// Events is the issuer trusted for event deliveries; EventKeyClient fetches its keys.
	Events         auth.DeliveryConfig
	EventKeyClient *http.Client
	// Cluster, when set, is the development cluster issuer, served on the port.
	Cluster *devissuer.Cluster
	// Namespace is where the functions and their senders live (auth.DefaultNamespace).
	Namespace string
	// ClientSecret returns a function's OAuth client secret ("": no service identity).
	ClientSecret func(service string) string
	CallTimeout  time.Duration
	Env          Env
	// Tracing gives each function its TracerProvider (off when nil).
	Tracing *tracing.Tracing
	// Metrics is the process's registry: each function's requests, events and the rest are
	// recorded there under its name (none when nil).
	Metrics *metrics.Registry
	// Admission bounds each function's in-flight work, each its own budget; nil: the
	// defaults of the environment's ADMISSION_* variables.
	Admission *admission.Config
}

// Mounted is every function of a registry wired into one process.
type Mounted struct {
	// Handler is what `orange dev` serves on its port; Mux is the same, for adding routes.
	Handler http.Handler
	Mux     *http.ServeMux
	// Transport reaches every function in-process by service name.
	Transport *platform.Transport
	// APIs are the functions' APIs by service name, for tests that walk route tables.
	APIs map[string]platform.API
	// Deliveries verifies event-delivery tokens (any audience, through ForAudience).
	Deliveries *auth.DeliveryVerifier
	// People verifies the tokens of people and functions.
	People *auth.Verifier
	// Cluster is MountDeps.Cluster; Namespace is MountDeps.Namespace.
	Cluster   *devissuer.Cluster
	Namespace string
}

// Mount builds every function of reg over one database: health, the development issuers
// (when given), and the public functions' prefixes (the gateway) on the handler; every other
// function is reachable only through the in-process transport, as a cluster-local Service is
// only through the cluster network. Each function verifies its callers itself — deliveries
// addressed to its own audience — and calls others with its own identity. The database must
// be migrated.
func Mount(ctx context.Context, reg *platform.Registry, d MountDeps) (*Mounted, error) {
	if d.Namespace == "" {
		d.Namespace = auth.DefaultNamespace
	}
	d.Env.Lookuper = portalDefaults(d.Env.Lookuper, d.Auth.IssuerURL)
	transport := platform.NewTransport(nil, d.Env.lookup)
	verifier, err := auth.NewVerifier(d.Auth, d.KeyClient)
	if err != nil {
		return nil, err
	}
	deliveries, err := auth.NewDeliveryVerifier(d.Events, auth.BrokerAudience(d.Namespace, auth.DefaultBroker), d.Namespace, d.EventKeyClient)
	if err != nil {
		return nil, err
	}
	m := &Mounted{Transport: transport, APIs: map[string]platform.API{}, Deliveries: deliveries, People: verifier,
		Cluster: d.Cluster, Namespace: d.Namespace}
	mux := http.NewServeMux()
	mountHealth(mux, d.DB, reg.Migrations())
	if d.Issuer != nil {
		mux.Handle(devissuer.RealmPath+"/", d.Issuer.Handler())
	}
	if d.Cluster != nil {
		mux.Handle(devissuer.ClusterPath+"/", d.Cluster.Handler(devissuer.ClusterPath))
	}
	var services []string
	admit := admission.Config{MaxWait: 20 * time.Millisecond, MaxWaitEvents: time.Second}
	if d.Admission != nil {
		admit = *d.Admission
	}
	var limiters []*admission.Limiter
	for _, fn := range reg.Functions() {
		var secret string
		if d.ClientSecret != nil {
			secret = d.ClientSecret(fn.Service)
		}
		tokens := auth.NewTokenSource(auth.ClientConfig{ClientSecret: secret}, d.Auth.IssuerURL, fn.Service, d.KeyClient)
		fm := d.Metrics.Function(fn.Service)
		api, err := fn.New(metrics.With(ctx, fm), platform.Deps{
			DB:        d.DB,
			Logger:    d.Logger.With(slog.String("function", fn.Service)),
			Client:    platform.ForwardingClient(transport, tokens, d.CallTimeout),
			Transport: transport,
			Env:       d.Env.Lookuper,
			// The portals reach the issuer as the verifiers do: in-process when it is served here.
			IssuerClient: d.KeyClient,
		})
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", fn.Service, err)
		}
		m.APIs[fn.Service] = api
		authn := auth.Authenticator{People: verifier, Deliveries: deliveries.ForAudience(auth.ServiceAudience(d.Namespace, fn.Service))}
		h := platform.Traced(d.Tracing.Provider(fn.Service), platform.Handler(api, authn))
		// Each function its own budget, in-process calls and deliveries included, as each
		// pod has on the cluster (docs/performance.md).
		limiter := admission.New(fn.Service, admit, fn.Public)
		limiters = append(limiters, limiter)
		h = limiter.Wrap(h)
		h = metrics.Instrument(fm, api.Routes(), h) // RED per route template
		transport.Mount(fn.Service, h)
		mountPublic(mux, fn, h)
		services = append(services, fn.Service)
	}
	// What runs here, for a newcomer's first curl: at /dev/, and at / unless a function (the
	// public portal) serves the root.
	indexHandler := platform.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return platform.WriteJSON(w, http.StatusOK, index(reg))
	})
	mux.Handle("GET /dev/{$}", indexHandler)
	if !servesRoot(reg) {
		mux.Handle("GET /{$}", indexHandler)
		mux.Handle("/", platform.NotFoundHandler())
	}
	d.Logger.InfoContext(ctx, "all functions mounted", slog.Any("functions", services))
	if d.Metrics != nil {
		d.Metrics.MustRegister(metrics.NewAdmissionCollector(limiters...))
	}
	m.Handler, m.Mux = mux, mux
	return m, nil
}

// serviceNames are the Knative Service names of reg's functions: their OAuth clients.
func serviceNames(reg *platform.Registry) []string {
	var out []string
	for _, fn := range reg.Functions() {
		out = append(out, fn.Service)
	}
	return out
}

// index describes what `orange dev` serves, for a newcomer's first curl.
func index(reg *platform.Registry) map[string]any {
	var fns []map[string]any
	for _, fn := range reg.Functions() {
		fns = append(fns, map[string]any{"service": fn.Service, "prefixes": fn.Prefixes, "public": fn.Public})
	}
	return map[string]any{"system": "orange-car-rental", "mode": "dev", "functions": fns}
}

// startPrivateCluster starts (initialising on first use) the cluster under the data folder.
// When running as root inside a folder the postgres user cannot reach (a clone under a 0700
// root-owned home, say), the data moves to /var/tmp under a name derived from the project
// path, so it still survives restarts; the log says where.
func startPrivateCluster(ctx context.Context, logger *slog.Logger, cfg DevConfig) (stop func() error, url string, err error) {
	dir, err := filepath.Abs(filepath.Join(cfg.DataDir, "postgres"))
	if err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, "", err
	}
	if !pgcluster.Reachable(dir) {
		sum := sha256.Sum256([]byte(dir))
		moved := filepath.Join("/var/tmp", "orange-car-rental-"+hex.EncodeToString(sum[:])[:12], "postgres")
		logger.WarnContext(ctx, "the postgres user cannot reach the data folder; keeping the data elsewhere",
			slog.String("wanted", dir), slog.String("using", moved))
		if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
			return nil, "", err
		}
		dir = moved
	}
	logFile, err := os.OpenFile(filepath.Join(filepath.Dir(dir), "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, "", err
	}
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: dir, Durable: true, Log: logFile})
	if err != nil {
		_ = logFile.Close()
		return nil, "", err
	}
	stop = func() error {
		defer logFile.Close()
		return cluster.Stop()
	}
	if err := cluster.CreateDatabase(ctx, cfg.DatabaseName); err != nil {
		_ = stop()
		return nil, "", err
	}
	logger.InfoContext(ctx, "private postgres started", slog.String("dataDir", dir))
	return stop, cluster.URL(cfg.DatabaseName), nil
}
