package knative_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/platform/metrics"
)

// The observability manifests (observability/, applied apart from base and the overlays:
// docs/observability.md) are held to the code: every metric the Grafana dashboard and the
// alerting rules query is one some process registers.

// exportedMetrics are the names every collector of ours registers: a process's registry
// (Go runtime and process), one function's bundle, the pool, the outbox and the in-process
// broker — as functions/host wires them.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	reg := metrics.NewRegistry()
	reg.Function("any-function")
	reg.MustRegister(metrics.NewPoolCollector(nil), events.NewOutboxCollector(nil),
		broker.New(nil, nil, broker.Options{}).Collector())
	names := map[string]bool{}
	for _, n := range reg.Names() {
		names[n] = true
	}
	return names
}

// metricName finds the series names of a PromQL expression: the identifiers of our
// namespaces (orange_, go_, process_) — label names and functions are none of them.
var metricName = regexp.MustCompile(`\b(?:orange|go|process)_[a-zA-Z0-9_]+\b`)

// referenced returns the metric names expr queries; a histogram's series name its family.
func referenced(expr string, exported map[string]bool) []string {
	var out []string
	for _, n := range metricName.FindAllString(expr, -1) {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suffix); ok && exported[base] {
				n = base
			}
		}
		out = append(out, n)
	}
	return out
}

// observability renders observability/ as kubectl apply -k would.
func observability(t *testing.T) map[string][]map[string]any {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "observability")
	if err != nil {
		t.Fatalf("kustomize build observability: %v", err)
	}
	byKind := map[string][]map[string]any{}
	for _, r := range m.Resources() {
		mm, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		byKind[r.GetKind()] = append(byKind[r.GetKind()], mm)
	}
	return byKind
}

// exprs collects every "expr" string below v (the dashboard's targets, the rules).
func exprs(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "expr" {
				*out = append(*out, s)
			} else {
				exprs(x, out)
			}
		}
	case []any:
		for _, x := range v {
			exprs(x, out)
		}
	}
}

func TestObservabilityQueriesExportedMetrics(t *testing.T) {
	t.Parallel()
	exported := exportedMetrics(t)
	objs := observability(t)
	for _, kind := range []string{"PodMonitor", "PrometheusRule", "NetworkPolicy", "ConfigMap"} {
		if len(objs[kind]) != 1 {
			t.Errorf("observability/: want one %s, got %d", kind, len(objs[kind]))
		}
	}
	check := func(where string, all []string, minimum int) {
		if len(all) < minimum {
			t.Errorf("%s: %d queries, want at least %d", where, len(all), minimum)
		}
		seen := map[string]bool{}
		for _, e := range all {
			names := referenced(e, exported)
			if len(names) == 0 {
				t.Errorf("%s: query %q names none of our metrics", where, e)
			}
			for _, n := range names {
				seen[n] = true
				if !exported[n] {
					t.Errorf("%s: query %q reads %s, which no collector exports (known: platform/metrics, events, events/broker)", where, e, n)
				}
			}
		}
		t.Logf("%s: %d queries over %d metrics", where, len(all), len(seen))
	}

	// The PodMonitor and the NetworkPolicy name the port the code serves /metrics on.
	port := ":" + host.KnativeMetricsPort
	if raw, _ := json.Marshal(objs["PodMonitor"]); !strings.Contains(string(raw), `"$1`+port+`"`) {
		t.Errorf("observability/pod-monitor.yaml: no target rewritten to port %s (host.KnativeMetricsPort)", port)
	}
	if raw, _ := json.Marshal(objs["NetworkPolicy"]); !strings.Contains(string(raw), `"port":`+host.KnativeMetricsPort) {
		t.Errorf("observability/network-policy.yaml: port %s (host.KnativeMetricsPort) not admitted", host.KnativeMetricsPort)
	}

	var rules []string
	for _, pr := range objs["PrometheusRule"] {
		exprs(pr, &rules)
	}
	check("observability/prometheus-rules.yaml", rules, 5)
	// The five: outbox age, dead letters, 5xx ratio, p99 per route, queue depth.
	joined := strings.Join(rules, "\n")
	for _, must := range []string{"orange_outbox_oldest_unpublished_age_seconds", "orange_broker_dead_lettered_total",
		`code=~"5.."`, "histogram_quantile(0.99", "orange_broker_queue_depth"} {
		if !strings.Contains(joined, must) {
			t.Errorf("observability/prometheus-rules.yaml: no rule uses %s", must)
		}
	}

	for _, cm := range objs["ConfigMap"] {
		data, _ := cm["data"].(map[string]any)
		raw, _ := data["orange-dashboard.json"].(string)
		var dash map[string]any
		if err := json.Unmarshal([]byte(raw), &dash); err != nil {
			t.Fatalf("observability/orange-dashboard.json: %v", err)
		}
		var queries []string
		exprs(dash["panels"], &queries)
		check("observability/orange-dashboard.json", queries, 15)
	}
}

// TestObservabilityCheckCatchesUnknownMetrics: the check fails a query of a metric the
// code does not export (a renamed series would leave a dashboard panel empty).
func TestObservabilityCheckCatchesUnknownMetrics(t *testing.T) {
	t.Parallel()
	exported := exportedMetrics(t)
	for expr, want := range map[string][]string{
		`sum(rate(orange_http_requests_total{code=~"5.."}[5m]))`:                                        {"orange_http_requests_total"},
		`histogram_quantile(0.99, sum by (le) (rate(orange_http_request_duration_seconds_bucket[5m])))`: {"orange_http_request_duration_seconds"},
		`orange_http_requests_count`:           {"orange_http_requests_count"},
		`rate(orange_outbox_events_total[5m])`: {"orange_outbox_events_total"},
	} {
		got := referenced(expr, exported)
		if !slices.Equal(got, want) {
			t.Errorf("referenced(%q) = %v, want %v", expr, got, want)
		}
	}
	var unknown []string
	for _, n := range []string{"orange_http_requests_count", "orange_outbox_events_total"} {
		if !exported[n] {
			unknown = append(unknown, n)
		}
	}
	sort.Strings(unknown)
	if len(unknown) != 2 {
		t.Errorf("made-up names taken for exported ones: %v", unknown)
	}
}
