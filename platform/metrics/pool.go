package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exposes a pgx pool's statistics, read at each scrape.
type PoolCollector struct {
	pool *pgxpool.Pool

	conns, max, acquires, acquireSeconds, emptyAcquires, canceled, created, destroyed *prometheus.Desc
}

// NewPoolCollector collects pool's statistics (nil: describes them, collects nothing).
func NewPoolCollector(pool *pgxpool.Pool) *PoolCollector {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "db_pool", n) }
	return &PoolCollector{
		pool:  pool,
		conns: prometheus.NewDesc(name("connections"), "Connections of the pool by state: acquired (in use), idle, constructing.", []string{"state"}, nil),
		max:   prometheus.NewDesc(name("max_connections"), "The pool's bound (DB_MAX_CONNS).", nil, nil),
		acquires: prometheus.NewDesc(name("acquires_total"),
			"Connections acquired from the pool.", nil, nil),
		acquireSeconds: prometheus.NewDesc(name("acquire_duration_seconds_total"),
			"Time spent acquiring connections, waits for a free one included.", nil, nil),
		emptyAcquires: prometheus.NewDesc(name("empty_acquires_total"),
			"Acquires that had to wait: no idle connection was there (the pool too small, or the database slow).", nil, nil),
		canceled: prometheus.NewDesc(name("canceled_acquires_total"),
			"Acquires given up because their context ended while waiting.", nil, nil),
		created: prometheus.NewDesc(name("connections_created_total"),
			"Connections the pool opened.", nil, nil),
		destroyed: prometheus.NewDesc(name("connections_closed_total"),
			"Connections the pool closed by reason: max_lifetime, max_idle.", []string{"reason"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.max, c.acquires, c.acquireSeconds, c.emptyAcquires, c.canceled, c.created, c.destroyed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	if c.pool == nil {
		return
	}
	s := c.pool.Stat()
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(c.conns, gauge, float64(s.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(c.conns, gauge, float64(s.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(c.conns, gauge, float64(s.ConstructingConns()), "constructing")
	ch <- prometheus.MustNewConstMetric(c.max, gauge, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquires, counter, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.acquireSeconds, counter, s.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(c.emptyAcquires, counter, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.canceled, counter, float64(s.CanceledAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.created, counter, float64(s.NewConnsCount()))
	ch <- prometheus.MustNewConstMetric(c.destroyed, counter, float64(s.MaxLifetimeDestroyCount()), "max_lifetime")
	ch <- prometheus.MustNewConstMetric(c.destroyed, counter, float64(s.MaxIdleDestroyCount()), "max_idle")
}
