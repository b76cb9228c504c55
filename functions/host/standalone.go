package host

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/admission"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/metrics"
)

// Standalone runs fn alone, as its Knative Service: configuration from env, its own pool,
// other functions reached over the network, until ctx ends (SIGTERM), then a drain.
func Standalone(ctx context.Context, fn platform.Function, env Env) error {
	var cfg Config
	if err := platform.LoadConfig(ctx, env.Lookuper, &cfg); err != nil {
		return err
	}
	service := fn.Service
	if cfg.Knative.Service != "" {
		service = cfg.Knative.Service
	}
	logger := platform.NewLogger(env.Stdout, cfg.Server.LogLevel, service)
	ctx = platform.WithLogger(ctx, logger)
	authn, err := authenticator(cfg, service)
	if err != nil {
		return err
	}
	tr, stopTracing, err := startTracing(ctx, env, cfg.Tracing, logger)
	if err != nil {
		return err
	}
	defer stopTracing() // after the drain and the background work: their last spans go too

	// Listen first: the port is bound before the slower start-up work.
	srv, err := platform.NewServer(cfg.Server)
	if err != nil {
		return err
	}

	var db *database.DB
	var sets []database.Migrations
	if fn.Migrations != nil {
		if cfg.Database.URL == "" {
			return errNoDatabase
		}
		sets = []database.Migrations{*fn.Migrations}
		if db, err = database.Open(ctx, cfg.Database); err != nil {
			return err
		}
		defer db.Close()
		db.Logger = logger // the session connection's drops and reconnects
		if cfg.MigrateOnStart {
			if err := migrate(ctx, logger, db, sets); err != nil {
				return err
			}
		}
	}

	transport := platform.NewTransport(nil, env.lookup)
	mreg := processMetrics(db, sets)
	fm := mreg.Function(service)
	api, err := fn.New(metrics.With(ctx, fm), platform.Deps{
		DB:        db,
		Logger:    logger,
		Client:    platform.ForwardingClient(transport, auth.NewTokenSource(cfg.Client, cfg.Auth.IssuerURL, service, nil), cfg.CallTimeout),
		Transport: transport,
		Env:       env.Lookuper,
	})
	if err != nil {
		return err
	}
	h := platform.Traced(tr.Provider(service), platform.Handler(api, authn))
	// Bounded in-flight work before anything else of the function runs; its 503s are
	// counted by the RED series like any answer (docs/performance.md).
	limiter := admission.New(service, cfg.Admission, fn.Public)
	mreg.MustRegister(metrics.NewAdmissionCollector(limiter))
	h = limiter.Wrap(h)
	h = metrics.Instrument(fm, api.Routes(), h) // RED per route template
	mux := http.NewServeMux()
	ready, markReady := readyGate()
	mountHealth(mux, db, sets, markReady)
	mux.Handle("/", h)

	bg := newBackground(ctx, logger)
	bg.tracing = tr
	bg.metrics = mreg
	bg.ready = ready // the Runner starts once /readyz first answers 200
	defer bg.stop()
	if _, err := serveMetrics(ctx, cfg, bg, mux, mreg); err != nil {
		return err
	}
	bg.runner(service, api)
	if events.HasOutbox(fn.Migrations) {
		if cfg.Knative.Sink == "" {
			logger.WarnContext(ctx, "K_SINK is not set: events stay in the outbox until a SinkBinding provides a Broker")
		} else {
			pub, err := events.NewHTTPPublisher(cfg.Knative.Sink, brokerClient(ctx, logger, cfg.BrokerTokenFile))
			if err != nil {
				return err
			}
			bg.relay(fn, db, pub, cfg.RelayPoll, 0)
		}
	}
	return serve(ctx, env, srv, logger, mux)
}

// authenticator verifies the callers of service: people and functions by the OIDC issuer,
// event deliveries by the cluster's service-account issuer, addressed to the service's own
// audience and sent from its own namespace.
func authenticator(cfg Config, service string) (auth.Authenticator, error) {
	people, err := auth.NewVerifier(cfg.Auth, nil)
	if err != nil {
		return auth.Authenticator{}, err
	}
	ns := cfg.Events.ResolveNamespace()
	audience := cfg.Events.Audience
	if audience == "" {
		audience = auth.ServiceAudience(ns, service)
	}
	keys, err := cfg.Events.KeyClient()
	if err != nil {
		return auth.Authenticator{}, err
	}
	deliveries, err := auth.NewDeliveryVerifier(cfg.Events, audience, ns, keys)
	if err != nil {
		return auth.Authenticator{}, err
	}
	return auth.Authenticator{People: people, Deliveries: deliveries}, nil
}

// brokerClient is the relay's HTTP client: it authenticates to the Broker with the pod's
// projected token (audience: the Broker), which its EventPolicy names (design.md §9).
func brokerClient(ctx context.Context, logger *slog.Logger, tokenFile string) *http.Client {
	if _, err := os.Stat(tokenFile); err != nil {
		logger.WarnContext(ctx, "no Broker token: events are sent unauthenticated and a Broker with OIDC refuses them",
			slog.String("file", tokenFile))
		return &http.Client{Timeout: 30 * time.Second}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: auth.FileBearer(tokenFile, http.DefaultTransport)}
}
