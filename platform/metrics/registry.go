package metrics

import (
	"net/http"
	"regexp"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Namespace prefixes every metric of ours.
const Namespace = "orange"

// Registry is a process's one registry. It remembers the name of every metric registered,
// so a test can hold dashboards and alerts to what the code exports (Names).
type Registry struct {
	reg *prometheus.Registry

	mu    sync.Mutex
	names map[string]bool

	fnMu sync.Mutex // held while a bundle registers: Register takes mu
	fns  map[string]*Function
}

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), names: map[string]bool{}, fns: map[string]*Function{}}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Register implements prometheus.Registerer, noting c's metric names.
func (r *Registry) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	descs := make(chan *prometheus.Desc)
	go func() { c.Describe(descs); close(descs) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range descs {
		// Desc has no accessor for its name; its String is stable across client versions.
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

// MustRegister implements prometheus.Registerer.
func (r *Registry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err) // as prometheus.Registerer documents; only programming errors get here
		}
	}
}

// Unregister implements prometheus.Registerer.
func (r *Registry) Unregister(c prometheus.Collector) bool { return r.reg.Unregister(c) }

// Gather implements prometheus.Gatherer.
func (r *Registry) Gather() ([]*dto.MetricFamily, error) { return r.reg.Gather() }

// Names returns the name of every metric registered so far, sorted. A histogram's is its
// base name (the _bucket, _sum and _count series follow from it).
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.names))
	for n := range r.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Handler serves the registry in the Prometheus exposition formats (/metrics). A collector
// that fails (the database away during a scrape) leaves its series out; the rest is served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Function returns the bundle of service's series, registering it on first use. Every
// series in it carries function=service. A nil registry returns nil: nothing is recorded.
func (r *Registry) Function(service string) *Function {
	if r == nil {
		return nil
	}
	r.fnMu.Lock()
	defer r.fnMu.Unlock()
	if f, ok := r.fns[service]; ok {
		return f
	}
	f := newFunction(prometheus.WrapRegistererWith(prometheus.Labels{"function": service}, r))
	r.fns[service] = f
	return f
}
