package broker

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// lagBuckets bound the delivery lag histogram, in seconds: from a hand-off within the
// process to a delivery that waited out retries with backoff.
var lagBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// lagHistogram is a Trigger's delivery lag: from the event's time (when its producer
// recorded it in the outbox) to its subscriber's acknowledgement — the outbox relay, the
// queue and every retry included. Its zero value is ready; observe is lock-free.
type lagHistogram struct {
	buckets [16]atomic.Uint64 // len(lagBuckets)+1: the last is +Inf
	count   atomic.Uint64
	sumNano atomic.Int64
}

func (h *lagHistogram) observe(at time.Time) {
	if at.IsZero() {
		return
	}
	d := max(time.Since(at), 0)
	s := d.Seconds()
	i := len(lagBuckets)
	for n, le := range lagBuckets {
		if s <= le {
			i = n
			break
		}
	}
	h.buckets[i].Add(1)
	h.count.Add(1)
	h.sumNano.Add(int64(d))
}

// Collector exposes every Trigger's queue and deliveries as Prometheus series (the same
// names /metrics showed before the process registry existed), read at each scrape, plus
// the delivery lag histogram.
func (b *Broker) Collector() prometheus.Collector { return brokerCollector{b} }

type brokerCollector struct{ b *Broker }

var (
	triggerLabels = []string{"trigger", "broker"}
	brokerDescs   = []struct {
		desc  *prometheus.Desc
		kind  prometheus.ValueType
		value func(TriggerStats) int64
	}{
		{prometheus.NewDesc("orange_broker_queue_depth", "Events waiting in the Trigger's in-process queue.", triggerLabels, nil),
			prometheus.GaugeValue, func(s TriggerStats) int64 { return int64(s.Queued) }},
		{prometheus.NewDesc("orange_broker_queue_capacity", "Bound of the Trigger's in-process queue.", triggerLabels, nil),
			prometheus.GaugeValue, func(s TriggerStats) int64 { return int64(s.Capacity) }},
		{prometheus.NewDesc("orange_broker_publishers_blocked", "Publishers waiting for room in the Trigger's full queue.", triggerLabels, nil),
			prometheus.GaugeValue, func(s TriggerStats) int64 { return s.Blocked }},
		{prometheus.NewDesc("orange_broker_in_flight", "Deliveries being attempted for the Trigger.", triggerLabels, nil),
			prometheus.GaugeValue, func(s TriggerStats) int64 { return s.InFlight }},
		{prometheus.NewDesc("orange_broker_delivered_total", "Events the Trigger's subscriber acknowledged.", triggerLabels, nil),
			prometheus.CounterValue, func(s TriggerStats) int64 { return s.Delivered }},
		{prometheus.NewDesc("orange_broker_retries_total", "Retry attempts of the Trigger's deliveries.", triggerLabels, nil),
			prometheus.CounterValue, func(s TriggerStats) int64 { return s.Retried }},
		{prometheus.NewDesc("orange_broker_dead_lettered_total", "Events sent to the Trigger's dead-letter sink.", triggerLabels, nil),
			prometheus.CounterValue, func(s TriggerStats) int64 { return s.DeadLettered }},
		{prometheus.NewDesc("orange_broker_dropped_total", "Events lost: no dead-letter sink, or the sink failed too.", triggerLabels, nil),
			prometheus.CounterValue, func(s TriggerStats) int64 { return s.Dropped }},
	}
	lagDesc = prometheus.NewDesc("orange_broker_delivery_lag_seconds",
		"Time from an event's time (recorded in its producer's outbox) to its acknowledgement by the Trigger's subscriber.", triggerLabels, nil)
)

func (brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range brokerDescs {
		ch <- d.desc
	}
	ch <- lagDesc
}

func (c brokerCollector) Collect(ch chan<- prometheus.Metric) {
	stats := c.b.Stats()
	for _, d := range brokerDescs {
		for _, s := range stats {
			ch <- prometheus.MustNewConstMetric(d.desc, d.kind, float64(d.value(s)), s.Trigger, s.Broker)
		}
	}
	for _, r := range c.b.routes {
		h := &r.lag
		buckets := make(map[float64]uint64, len(lagBuckets))
		var cumulative uint64
		for n, le := range lagBuckets {
			cumulative += h.buckets[n].Load()
			buckets[le] = cumulative
		}
		// The count is read after the buckets: a concurrent observation shows in the
		// count (and +Inf) first, never in a bucket the count lacks.
		ch <- prometheus.MustNewConstHistogram(lagDesc, max(h.count.Load(), cumulative),
			time.Duration(h.sumNano.Load()).Seconds(), buckets, r.trigger.String(), r.trigger.Broker)
	}
}
