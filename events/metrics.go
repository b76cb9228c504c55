package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/metrics"
)

// countReceived records the outcome of one delivery in the receiving function's series. The
// type label is the event's type when the catalogue knows it, else "other": a sender must
// not be able to mint label values.
func countReceived(ctx context.Context, eventType string, err error, duplicate bool) {
	f := metrics.From(ctx)
	if f == nil {
		return
	}
	if _, known := Types[eventType]; !known {
		eventType = "other"
	}
	var perm permanentError
	switch {
	case errors.As(err, &perm):
		f.EventReceived(eventType, metrics.EventRefused)
	case err != nil:
		f.EventReceived(eventType, metrics.EventFailed)
	case duplicate:
		f.EventReceived(eventType, metrics.EventDuplicate)
	default:
		f.EventReceived(eventType, metrics.EventProcessed)
	}
}

// OutboxCollector exposes, per schema, how many events wait in the outbox and how old the
// oldest of them is — read with one query per schema at each scrape (the partial index on
// unpublished rows keeps it cheap). A relay that is stuck, or a Broker that refuses, shows
// as a growing age long before anyone misses an email.
type OutboxCollector struct {
	db      *database.DB
	schemas []string
	backlog *prometheus.Desc
	oldest  *prometheus.Desc
	failing *prometheus.Desc
}

// NewOutboxCollector collects the outboxes of schemas in db (nil db: describes only).
func NewOutboxCollector(db *database.DB, schemas ...string) *OutboxCollector {
	return &OutboxCollector{
		db: db, schemas: schemas,
		backlog: prometheus.NewDesc("orange_outbox_backlog_events", "Events in the outbox not yet accepted by the Broker.", []string{"schema"}, nil),
		oldest: prometheus.NewDesc("orange_outbox_oldest_unpublished_age_seconds",
			"Age of the oldest event not yet accepted by the Broker (0: none waiting).", []string{"schema"}, nil),
		failing: prometheus.NewDesc("orange_outbox_retrying_events",
			"Unpublished events the Broker refused at least once (waiting for a retry).", []string{"schema"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *OutboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.backlog
	ch <- c.oldest
	ch <- c.failing
}

const outboxStatsSQL = `SELECT count(*), count(*) FILTER (WHERE attempts > 0),
       coalesce(extract(epoch FROM now() - min(time)), 0)::float8
FROM %s WHERE published_at IS NULL`

// Collect implements prometheus.Collector. A schema whose query fails (the database away)
// is left out of this scrape, reported as the collector's error.
func (c *OutboxCollector) Collect(ch chan<- prometheus.Metric) {
	if c.db == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, schema := range c.schemas {
		var backlog, failing int64
		var age float64
		sql := fmt.Sprintf(outboxStatsSQL, pgx.Identifier{schema, "outbox"}.Sanitize())
		if err := c.db.Pool.QueryRow(ctx, sql).Scan(&backlog, &failing, &age); err != nil {
			ch <- prometheus.NewInvalidMetric(c.backlog, err)
			continue
		}
		if age < 0 { // an event time set ahead by a clock
			age = 0
		}
		ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(backlog), schema)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, schema)
		ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, float64(failing), schema)
	}
}
