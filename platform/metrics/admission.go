package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orangecarrental/orange/platform/admission"
)

// AdmissionCollector exposes a function's admission control (platform/admission): per
// budget (requests, events) its limit, what is in flight and waiting now, and how many
// requests were admitted at once, admitted after a short wait, or refused with 503.
type AdmissionCollector struct {
	limiters []*admission.Limiter
	limit    *prometheus.Desc
	inFlight *prometheus.Desc
	waiting  *prometheus.Desc
	total    *prometheus.Desc
}

// NewAdmissionCollector returns the collector of limiters, one per function of the process;
// each one's series carry function="<its Knative Service>".
func NewAdmissionCollector(limiters ...*admission.Limiter) *AdmissionCollector {
	labels := []string{"function", "budget"}
	return &AdmissionCollector{
		limiters: limiters,
		limit: prometheus.NewDesc(Namespace+"_admission_limit", "Requests a function runs at once before it refuses more, by budget (requests, events).",
			labels, nil),
		inFlight: prometheus.NewDesc(Namespace+"_admission_in_flight", "Requests a function runs now, by budget.", labels, nil),
		waiting:  prometheus.NewDesc(Namespace+"_admission_waiting", "Requests waiting for a slot now (at most ADMISSION_MAX_WAIT each), by budget.", labels, nil),
		total: prometheus.NewDesc(Namespace+"_admission_requests_total",
			"Requests that met a function's admission control, by budget and outcome: admitted (at once), queued (after a short wait), rejected (answered 503 with Retry-After).",
			[]string{"function", "budget", "outcome"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *AdmissionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.limit
	ch <- c.inFlight
	ch <- c.waiting
	ch <- c.total
}

// Collect implements prometheus.Collector.
func (c *AdmissionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, l := range c.limiters {
		if l.Off() {
			continue
		}
		fn := l.Service()
		for _, b := range []admission.Budget{admission.Requests, admission.Deliveries} {
			s := l.Stats(b)
			ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(s.Limit), fn, string(b))
			ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(s.InFlight), fn, string(b))
			ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(s.Waiting), fn, string(b))
			ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(s.Admitted), fn, string(b), "admitted")
			ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(s.Queued), fn, string(b), "queued")
			ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(s.Rejected), fn, string(b), "rejected")
		}
	}
}
