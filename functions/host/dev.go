package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgcluster"
)

// DevConfig is Config plus where `orange dev` keeps its private PostgreSQL.
type DevConfig struct {
	Config
	// DataDir holds the private cluster (DataDir/postgres) when DATABASE_URL is unset. It is
	// git-ignored, and a restart finds every row where it was left.
	DataDir string `env:"ORANGE_DATA_DIR, default=.data"`
	// DatabaseName is the database `orange dev` creates on its private cluster.
	DatabaseName string `env:"ORANGE_DATABASE, default=orange"`
}

// Dev runs every function of reg in this process behind one port, until ctx ends.
func Dev(ctx context.Context, reg *platform.Registry, env Env) error {
	var cfg DevConfig
	if err := platform.LoadConfig(ctx, env.Lookuper, &cfg); err != nil {
		return err
	}
	logger := platform.NewLogger(env.Stdout, cfg.Server.LogLevel, "orange-dev")
	ctx = platform.WithLogger(ctx, logger)
	srv, err := platform.NewServer(cfg.Server)
	if err != nil {
		return err
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
	sets := reg.Migrations()
	if err := migrate(ctx, logger, db, sets); err != nil {
		return err
	}

	transport := platform.NewTransport(nil, env.lookup)
	mux := http.NewServeMux()
	mountHealth(mux, db, sets)
	var services []string
	for _, fn := range reg.Functions() {
		fnLogger := logger.With(slog.String("function", fn.Service))
		h, err := fn.New(ctx, platform.Deps{
			DB:     db,
			Logger: fnLogger,
			Client: platform.ForwardingClient(transport, cfg.CallTimeout),
			Env:    env.Lookuper,
		})
		if err != nil {
			return fmt.Errorf("start %s: %w", fn.Service, err)
		}
		transport.Mount(fn.Service, h)
		mountFunction(mux, fn, h)
		services = append(services, fn.Service)
	}
	mux.Handle("GET /{$}", platform.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return platform.WriteJSON(w, http.StatusOK, index(reg))
	}))
	mux.Handle("/", platform.NotFoundHandler())
	logger.InfoContext(ctx, "all functions mounted", slog.Any("functions", services))
	return serve(ctx, env, srv, logger, mux)
}

// index describes what `orange dev` serves, for a newcomer's first curl.
func index(reg *platform.Registry) map[string]any {
	var fns []map[string]any
	for _, fn := range reg.Functions() {
		fns = append(fns, map[string]any{"service": fn.Service, "prefixes": fn.Prefixes})
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
