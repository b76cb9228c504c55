package host

import (
	"context"
	"net/http"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/database"
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
	verifier, err := auth.NewVerifier(cfg.Auth, nil)
	if err != nil {
		return err
	}

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
		if cfg.MigrateOnStart {
			if err := migrate(ctx, logger, db, sets); err != nil {
				return err
			}
		}
	}

	transport := platform.NewTransport(nil, env.lookup)
	api, err := fn.New(ctx, platform.Deps{
		DB:        db,
		Logger:    logger,
		Client:    platform.ForwardingClient(transport, cfg.CallTimeout),
		Transport: transport,
		Env:       env.Lookuper,
	})
	if err != nil {
		return err
	}
	h := platform.Handler(api, verifier)
	mux := http.NewServeMux()
	mountHealth(mux, db, sets)
	mux.Handle("/", h)

	bg := newBackground(ctx, logger)
	defer bg.stop()
	bg.runner(fn.Service, api)
	if events.HasOutbox(fn.Migrations) {
		if cfg.Knative.Sink == "" {
			logger.WarnContext(ctx, "K_SINK is not set: events stay in the outbox until a SinkBinding provides a Broker")
		} else {
			pub, err := events.NewHTTPPublisher(cfg.Knative.Sink, nil)
			if err != nil {
				return err
			}
			bg.relay(fn, db, pub, cfg.RelayPoll, 0)
		}
	}
	return serve(ctx, env, srv, logger, mux)
}
