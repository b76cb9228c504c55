package broker

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// counters are a Trigger's running totals.
type counters struct {
	delivered, retried, deadLettered, dropped atomic.Int64
	claimed                                   atomic.Int64
	inFlight, blocked                         atomic.Int64
	lag                                       lagHistogram // metrics.go
}

// TriggerStats is one Trigger's state: its queue and what became of its events.
type TriggerStats struct {
	Trigger    string `json:"trigger"` // namespace/name
	Broker     string `json:"broker"`
	Subscriber string `json:"subscriber"` // cluster URL of the subscriber
	File       string `json:"file,omitempty"`
	// Queued is the queue depth now, Capacity its bound; Blocked counts publishers
	// waiting for room; InFlight deliveries being attempted.
	Queued   int   `json:"queued"`
	Capacity int   `json:"capacity"`
	Blocked  int64 `json:"blocked"`
	InFlight int64 `json:"inFlight"`
	// Delivered were acked; Retried counts retry attempts; DeadLettered reached the
	// dead-letter sink; Dropped were lost (no sink, or the sink failed too).
	Delivered    int64 `json:"delivered"`
	Retried      int64 `json:"retried"`
	DeadLettered int64 `json:"deadLettered"`
	Dropped      int64 `json:"dropped"`
	// Claimed counts the durable queue's rows taken from the table by a claim (an UPDATE
	// each) rather than handed over in memory by the insert that queued them: rows queued
	// while the Trigger was behind, retries, rows of an earlier run or another process.
	Claimed int64 `json:"claimed,omitempty"`
}

// Stats returns every Trigger's counters, in the order the Triggers were given.
func (b *Broker) Stats() []TriggerStats {
	out := make([]TriggerStats, 0, len(b.routes))
	for _, r := range b.routes {
		queued, capacity := len(r.queue), cap(r.queue)
		if b.db != nil {
			queued, capacity = int(r.queued.Load()), b.opts.MaxQueued
		}
		out = append(out, TriggerStats{
			Trigger: r.trigger.String(), Broker: r.trigger.Broker, Subscriber: r.trigger.Subscriber.URL(), File: r.trigger.File,
			Queued: queued, Capacity: capacity, Blocked: r.blocked.Load(), InFlight: r.inFlight.Load(),
			Delivered: r.delivered.Load(), Retried: r.retried.Load(), DeadLettered: r.deadLettered.Load(), Dropped: r.dropped.Load(),
			Claimed: r.claimed.Load(),
		})
	}
	return out
}

// Failure is an event a Trigger could not deliver.
type Failure struct {
	Time    time.Time `json:"time"`
	Trigger string    `json:"trigger"`
	Event   string    `json:"event"`
	Type    string    `json:"type"`
	Source  string    `json:"source"`
	Status  int       `json:"status"`
	Error   string    `json:"error"`
	Outcome string    `json:"outcome"`
}

// recentFailures keeps the last few failures for the dev endpoint.
type recentFailures struct {
	mu   sync.Mutex
	list []Failure
}

const keepFailures = 50

func (r *recentFailures) add(f Failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.list) == keepFailures {
		copy(r.list, r.list[1:])
		r.list = r.list[:keepFailures-1]
	}
	r.list = append(r.list, f)
}

func (r *recentFailures) get() []Failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Failure(nil), r.list...)
}

// DevHandler serves the broker's state as JSON (for /dev/broker): every Trigger's
// counters and the last undeliverable events, newest last.
func (b *Broker) DevHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(struct {
			Triggers []TriggerStats `json:"triggers"`
			Failures []Failure      `json:"recentFailures"`
		}{b.Stats(), b.recent.get()})
	})
}

// MetricsHandler serves the broker's series alone in the Prometheus text format; a host
// that has a process registry registers Collector there instead (metrics.go).
func (b *Broker) MetricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Collector())
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
