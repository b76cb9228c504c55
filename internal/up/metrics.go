package up

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// registry is the functions' registry: their prefixes, public flags and schemas.
func registry() (*platform.Registry, error) { return all.Registry() }

// devClientSecret is a function's client secret at the development issuer.
func devClientSecret(service string) string { return devissuer.ClientSecret(service) }

var (
	descDesired  = prometheus.NewDesc("orange_kpa_desired_replicas", "Replicas the KPA decided for the Service (within min/max).", []string{"service"}, nil)
	descWanted   = prometheus.NewDesc("orange_kpa_wanted_replicas", "Replicas Knative's decider asked for, before the min/max bounds.", []string{"service"}, nil)
	descReady    = prometheus.NewDesc("orange_kpa_ready_replicas", "Replicas whose /readyz answers 200.", []string{"service"}, nil)
	descPanic    = prometheus.NewDesc("orange_kpa_panic", "1 while Knative's decider is in panic mode.", []string{"service"}, nil)
	descStable   = prometheus.NewDesc("orange_kpa_stable_concurrency", "Observed concurrency averaged over the stable window, whole Service.", []string{"service"}, nil)
	descPanicC   = prometheus.NewDesc("orange_kpa_panic_concurrency", "Observed concurrency averaged over the panic window, whole Service.", []string{"service"}, nil)
	descTarget   = prometheus.NewDesc("orange_kpa_target_concurrency", "Per-replica concurrency target (target × utilization).", []string{"service"}, nil)
	descEBC      = prometheus.NewDesc("orange_kpa_excess_burst_capacity", "Knative's excess burst capacity (negative: the activator would stay in the path).", []string{"service"}, nil)
	descMinMax   = prometheus.NewDesc("orange_kpa_scale_bound", "min-scale and max-scale of the Service's revision.", []string{"service", "bound"}, nil)
	descInFlight = prometheus.NewDesc("orange_up_in_flight_requests", "Requests in the Service's proxy now, held ones included.", []string{"service"}, nil)
	descRequests = prometheus.NewDesc("orange_up_requests_total", "Requests the Service's proxy received.", []string{"service"}, nil)
	descRetries  = prometheus.NewDesc("orange_up_retries_total", "Requests the proxy sent again to another replica after a failure without response.", []string{"service"}, nil)
	descFailures = prometheus.NewDesc("orange_up_proxy_failures_total", "Requests the proxy answered itself with an error (no replica, no answer).", []string{"service"}, nil)
	descRestarts = prometheus.NewDesc("orange_up_replica_restarts_total", "Replicas that exited without being asked to and were replaced.", []string{"service"}, nil)
	descBackoff  = prometheus.NewDesc("orange_up_crash_loop_backoff_seconds", "Seconds until the Service may start a replica again after replicas kept exiting (CrashLoopBackOff); 0 when it may.", []string{"service"}, nil)
	descExits    = prometheus.NewDesc("orange_up_replica_exits_in_a_row", "Unexpected replica exits in a row (each replica ran less than 10 minutes); the back-off doubles with each.", []string{"service"}, nil)
	descServed   = prometheus.NewDesc("orange_up_replica_requests_total", "Requests each live replica answered.", []string{"service", "replica"}, nil)
)

// collector exposes the decider's view and the proxies' counts, read at scrape time.
type collector struct{ u *Up }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDesired, descWanted, descReady, descPanic, descStable, descPanicC, descTarget,
		descEBC, descMinMax, descInFlight, descRequests, descRetries, descFailures, descRestarts, descBackoff, descExits, descServed} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, s := range c.u.Snapshots() {
		n := s.Service
		gauge(descDesired, float64(s.Desired), n)
		gauge(descWanted, float64(s.Decision.Wanted), n)
		gauge(descReady, float64(s.Ready), n)
		p := 0.0
		if s.Decision.Panic {
			p = 1
		}
		gauge(descPanic, p, n)
		gauge(descStable, s.Decision.Stable, n)
		gauge(descPanicC, s.Decision.PanicValue, n)
		gauge(descTarget, s.Decision.Target, n)
		gauge(descEBC, float64(s.Decision.ExcessBurstCapacity), n)
		gauge(descMinMax, float64(s.Min), n, "min")
		gauge(descMinMax, float64(s.Max), n, "max")
		gauge(descInFlight, float64(s.InFlight), n)
		counter(descRequests, float64(s.Requests), n)
		counter(descRetries, float64(s.Retries), n)
		counter(descFailures, float64(s.ProxyFailures), n)
		counter(descRestarts, float64(s.Restarts), n)
		gauge(descBackoff, s.Backoff.Seconds(), n)
		gauge(descExits, float64(s.ExitsInARow), n)
		for _, r := range s.Replicas {
			counter(descServed, float64(r.Served), n, strconv.Itoa(r.ID))
		}
	}
}
