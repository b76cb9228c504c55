package broker

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// counters are a Trigger's running totals.
type counters struct {
	delivered, retried, deadLettered, dropped atomic.Int64
	inFlight, blocked                         atomic.Int64
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

// MetricsHandler serves the counters in the Prometheus text exposition format (for
// /metrics), one series per Trigger.
func (b *Broker) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write([]byte(b.metrics()))
	})
}

func (b *Broker) metrics() string {
	stats := b.Stats()
	var sb strings.Builder
	metric := func(name, kind, help string, value func(TriggerStats) int64) {
		fmt.Fprintf(&sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
		for _, s := range stats {
			fmt.Fprintf(&sb, "%s{trigger=\"%s\",broker=\"%s\"} %d\n", name, labelValue(s.Trigger), labelValue(s.Broker), value(s))
		}
	}
	metric("orange_broker_queue_depth", "gauge", "Events waiting in the Trigger's in-process queue.", func(s TriggerStats) int64 { return int64(s.Queued) })
	metric("orange_broker_queue_capacity", "gauge", "Bound of the Trigger's in-process queue.", func(s TriggerStats) int64 { return int64(s.Capacity) })
	metric("orange_broker_publishers_blocked", "gauge", "Publishers waiting for room in the Trigger's full queue.", func(s TriggerStats) int64 { return s.Blocked })
	metric("orange_broker_in_flight", "gauge", "Deliveries being attempted for the Trigger.", func(s TriggerStats) int64 { return s.InFlight })
	metric("orange_broker_delivered_total", "counter", "Events the Trigger's subscriber acknowledged.", func(s TriggerStats) int64 { return s.Delivered })
	metric("orange_broker_retries_total", "counter", "Retry attempts of the Trigger's deliveries.", func(s TriggerStats) int64 { return s.Retried })
	metric("orange_broker_dead_lettered_total", "counter", "Events sent to the Trigger's dead-letter sink.", func(s TriggerStats) int64 { return s.DeadLettered })
	metric("orange_broker_dropped_total", "counter", "Events lost: no dead-letter sink, or the sink failed too.", func(s TriggerStats) int64 { return s.Dropped })
	return sb.String()
}

// labelValue escapes a Prometheus label value (backslash, double quote, newline).
func labelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
