// Package host runs functions: one alone, as its Knative Service does (Standalone), or all of
// them in one process behind one port with a private PostgreSQL (Dev, for `orange dev`). Both
// build each function the same way; only the wiring around it differs.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/admission"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/tracing"
)

// Config is what every hosted process reads from its environment.
type Config struct {
	Server   platform.ServerConfig
	Database database.Config
	Knative  platform.KnativeConfig
	Auth     auth.Config
	// Events is how the function trusts the event platform's deliveries (design.md §9).
	Events auth.DeliveryConfig
	// Client is the function's own OAuth client, its identity towards other functions.
	Client auth.ClientConfig
	// BrokerTokenFile holds the projected service-account token (audience: the Broker) the
	// relay sends its events with; the kubelet rotates it, so it is read for every publish.
	BrokerTokenFile string `env:"BROKER_TOKEN_FILE, default=/var/run/secrets/orange/broker/token"`
	// MigrateOnStart applies the function's migrations at start (under an advisory lock, so
	// replicas may start together). Production turns it off: its migration Job runs first.
	MigrateOnStart bool `env:"MIGRATE_ON_START, default=true"`
	// CallTimeout bounds one call to another function.
	CallTimeout time.Duration `env:"CALL_TIMEOUT, default=10s"`
	// RelayPoll is the longest an outbox event waits for the relay when no notification
	// wakes it.
	RelayPoll time.Duration `env:"RELAY_POLL_INTERVAL, default=1s"`
	// Tracing is the OpenTelemetry trace export (OTEL_*; off by default: docs/tracing.md).
	Tracing tracing.Config
	// MetricsPort is the port a function alone serves /metrics on; empty: KnativeMetricsPort
	// on Knative, else the serving port (metrics.go, docs/observability.md).
	MetricsPort string `env:"METRICS_PORT"`
	// Admission bounds each function's in-flight work (ADMISSION_*; docs/performance.md).
	Admission admission.Config
}

// Validate checks the whole configuration.
func (c *Config) Validate() error {
	if err := c.Server.Validate(); err != nil {
		return err
	}
	if err := c.Database.Validate(); err != nil {
		return err
	}
	if err := c.Admission.Validate(); err != nil {
		return err
	}
	if c.CallTimeout <= 0 {
		return fmt.Errorf("CALL_TIMEOUT must be positive, got %s", c.CallTimeout)
	}
	return nil
}

// Env is where a hosted process reads configuration and writes logs; tests replace both.
type Env struct {
	Lookuper envconfig.Lookuper
	Stdout   io.Writer
	// Ready, when set, receives the server's address once it listens.
	Ready func(addr string)
	// Tracing, when set, replaces the trace export the environment configures (tests: an
	// in-memory exporter).
	Tracing *tracing.Tracing
}

// startTracing returns env's tracing, else the one cfg asks for, and a function that
// flushes and ends it (bounded: a collector that does not answer must not hold up the exit).
func startTracing(ctx context.Context, env Env, cfg tracing.Config, logger *slog.Logger) (*tracing.Tracing, func(), error) {
	tr := env.Tracing
	if tr == nil {
		var err error
		if tr, err = tracing.New(ctx, cfg); err != nil {
			return nil, nil, err
		}
	}
	return tr, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(sctx); err != nil {
			logger.WarnContext(ctx, "traces not flushed", slog.String("error", err.Error()))
		}
	}, nil
}

func (e Env) lookup(key string) (string, bool) { return e.Lookuper.Lookup(key) }

// mountHealth adds /healthz and /readyz to mux, ready when the database answers and every
// schema is migrated; then run after those checks have passed (readyGate's mark).
func mountHealth(mux *http.ServeMux, db *database.DB, sets []database.Migrations, then ...platform.ReadyFunc) {
	var checks []platform.ReadyFunc
	if db != nil {
		checks = append(checks, db.Ping)
		for _, m := range sets {
			checks = append(checks, func(ctx context.Context) error { return db.CheckMigrated(ctx, m) })
		}
	}
	platform.NewHealth(append(checks, then...)...).Mount(mux)
}

// mountPublic serves on mux the prefixes of fn that the port exposes: all of a public
// function's (the gateway's), and any function's /dev/ pages (local tools such as the
// mailbox) — everything else is reachable only through the transport, as on the cluster.
func mountPublic(mux *http.ServeMux, fn platform.Function, h http.Handler) {
	for _, p := range fn.Prefixes {
		if p == platform.RootPrefix && fn.Public {
			// Every path no other pattern claims: the public portal at the site's root.
			mux.Handle("/", h)
			continue
		}
		if fn.Public || strings.HasPrefix(p, "/dev/") {
			mux.Handle(p, h)
			mux.Handle(p+"/", h)
		}
	}
}

// servesRoot tells whether a function of reg claims the root prefix.
func servesRoot(reg *platform.Registry) bool {
	for _, fn := range reg.Functions() {
		if fn.Public && slices.Contains(fn.Prefixes, platform.RootPrefix) {
			return true
		}
	}
	return false
}

// migrate applies sets in order and logs what changed.
func migrate(ctx context.Context, logger *slog.Logger, db *database.DB, sets []database.Migrations) error {
	for _, m := range sets {
		n, err := db.Migrate(ctx, m)
		if err != nil {
			return err
		}
		if n > 0 {
			logger.InfoContext(ctx, "migrated", slog.String("schema", m.Schema), slog.Int("applied", n))
		}
	}
	return nil
}

// serve runs handler on srv until ctx ends.
func serve(ctx context.Context, env Env, srv *platform.Server, logger *slog.Logger, handler http.Handler) error {
	if env.Ready != nil {
		env.Ready(srv.Addr().String())
	}
	return srv.Serve(platform.WithLogger(ctx, logger), platform.Observe(logger, handler))
}

// errNoDatabase is returned when a function needs a database and none is configured.
var errNoDatabase = errors.New("DATABASE_URL is required: the function keeps its data in PostgreSQL")
