package host

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/metrics"
)

// MetricsPath is where every process serves its Prometheus series.
const MetricsPath = "/metrics"

// KnativeMetricsPort is the port a Service on Knative serves MetricsPath on unless
// METRICS_PORT says otherwise. A Knative Service declares one container port, the one its
// route sends requests to through the queue-proxy; a second port the container listens on is
// reachable by pod IP only — never through the public route — which is where Prometheus
// scrapes it (knative/observability, docs/observability.md). Not 9090/9091: the
// queue-proxy's own metrics ports in the same pod.
const KnativeMetricsPort = "9095"

// processMetrics is a process's registry with the series of what the process shares: the
// Go runtime and the process (metrics.NewRegistry), db's pool, and the outbox of every
// schema in sets that has one.
func processMetrics(db *database.DB, sets []database.Migrations) *metrics.Registry {
	r := metrics.NewRegistry()
	if db == nil {
		return r
	}
	r.MustRegister(metrics.NewPoolCollector(db.Pool))
	var schemas []string
	for _, m := range sets {
		if events.HasOutbox(&m) {
			schemas = append(schemas, m.Schema)
		}
	}
	if len(schemas) > 0 {
		r.MustRegister(events.NewOutboxCollector(db, schemas...))
	}
	return r
}

// serveMetrics serves reg for a function running alone: on its own port when cfg says so
// (or on Knative, KnativeMetricsPort), run in bg until it stops, returning its address;
// else on mux, the serving port's (`orange serve` on a laptop, where nothing is public).
func serveMetrics(ctx context.Context, cfg Config, bg *background, mux *http.ServeMux, reg *metrics.Registry) (string, error) {
	port := cfg.MetricsPort
	if port == "" && cfg.Knative.Service != "" {
		port = KnativeMetricsPort
	}
	if port == "" {
		mux.Handle("GET "+MetricsPath, reg.Handler())
		return "", nil
	}
	scfg := cfg.Server
	scfg.Port = port
	srv, err := platform.NewServer(scfg)
	if err != nil {
		return "", err
	}
	only := http.NewServeMux()
	only.Handle("GET "+MetricsPath, reg.Handler())
	only.Handle("/", platform.NotFoundHandler())
	// Quiet: a scrape every few seconds needs no request log line.
	logger := platform.LoggerFrom(ctx).With(slog.String("listener", "metrics"))
	logger.InfoContext(ctx, "metrics", slog.String("addr", srv.Addr().String()+MetricsPath))
	bg.goRun("metrics", func(ctx context.Context) error { return srv.Serve(platform.WithLogger(ctx, logger), only) })
	return srv.Addr().String(), nil
}
