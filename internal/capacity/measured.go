package capacity

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Measured is docs/capacity/measured.json: what one replica of each function serves on the
// machine that ran `make capacity`, and how busy that machine was.
type Measured struct {
	// Date is when the measurement ran (UTC, RFC 3339).
	Date string `json:"date"`
	// Uptime is `uptime` before and after the run: the load average other work put on the
	// machine, which every figure depends on.
	UptimeBefore string `json:"uptimeBefore"`
	UptimeAfter  string `json:"uptimeAfter"`
	// Setup says how the replica ran (pinning, pool, data, generator).
	Setup string `json:"setup"`
	// Baseline is the same ladder against a bare net/http handler (no database) pinned the
	// same way: the generator's and the machine's own ceiling in the same run.
	Baseline Route   `json:"baseline"`
	Routes   []Route `json:"routes"`
}

// Route is one route's ladder and its result.
type Route struct {
	Service string `json:"service"`
	// Name says what the route is (the journey step it serves).
	Name   string `json:"name"`
	Method string `json:"method"`
	Path   string `json:"path"`
	// SLOp99Ms is the p99 the route may take (latency from the intended send time).
	SLOp99Ms float64 `json:"sloP99Ms"`
	// Capacity is the highest offered rate (req/s) whose step had p99 ≤ SLO and no error.
	Capacity float64 `json:"capacity"`
	// MeanMs and P99Ms are the latencies at that rate; Concurrency = Capacity × MeanMs (Little's
	// law): the requests in flight in one replica at its capacity.
	MeanMs      float64 `json:"meanMs"`
	P99Ms       float64 `json:"p99Ms"`
	Concurrency float64 `json:"concurrency"`
	// CPUMsPerReq is the replica's own CPU time per answered request (user + system, from
	// /proc), at the highest step without error; CPUCeiling = 1000 ÷ CPUMsPerReq is what one
	// dedicated CPU serves when the CPU is the limit. On a machine shared with other work the
	// SLO capacity above measures the share of the core the replica got; the CPU cost does not
	// depend on that share, so the replay uses the ceiling.
	CPUMsPerReq          float64 `json:"cpuMsPerReq"`
	CPUCeiling           float64 `json:"cpuCeiling"`
	ConcurrencyAtCeiling float64 `json:"concurrencyAtCeiling"`
	// BaselineCapacity is the bare handler's capacity in the same run (Measured.Baseline):
	// Capacity ÷ BaselineCapacity is the figure to compare across runs and machines.
	BaselineCapacity float64 `json:"baselineCapacity"`
	Steps            []Step  `json:"steps"`
	// Error is why the route was not measured (its Service is then left out of the replay).
	Error string `json:"error,omitempty"`
}

// Step is one constant-rate attack.
type Step struct {
	Rate     float64 `json:"rate"`
	Seconds  float64 `json:"seconds"`
	Sent     int     `json:"sent"`
	OK       int     `json:"ok"`
	Errors   int     `json:"errors"`
	MeanMs   float64 `json:"meanMs"`
	P50Ms    float64 `json:"p50Ms"`
	P99Ms    float64 `json:"p99Ms"`
	MaxMs    float64 `json:"maxMs"`
	Achieved float64 `json:"achieved"`
	// CPUMsPerReq is the replica's CPU time per answered request during the step.
	CPUMsPerReq float64 `json:"cpuMsPerReq,omitempty"`
	// FirstError is one error or unexpected status, for the reader.
	FirstError string `json:"firstError,omitempty"`
}

// Within reports whether the step met slo: every request answered as expected, p99 within it.
func (s Step) Within(slo float64) bool { return s.Sent > 0 && s.Errors == 0 && s.P99Ms <= slo }

// Load reads a measured.json.
func Load(path string) (Measured, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Measured{}, err
	}
	var m Measured
	if err := json.Unmarshal(raw, &m); err != nil {
		return Measured{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Save writes m as indented JSON.
func (m Measured) Save(path string) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// PerReplica is what the replay takes for one replica on this route: the CPU ceiling and
// the in flight at it when the CPU cost was measured, else the SLO capacity.
func (r Route) PerReplica() (capacity, concurrency float64) {
	if r.CPUCeiling > 0 {
		return r.CPUCeiling, r.ConcurrencyAtCeiling
	}
	return r.Capacity, r.Concurrency
}

// PerService is each Service's capacity per replica (req/s) and the concurrency at it. A
// Service measured on several routes gets the mix-weighted harmonic mean (the time a replica
// spends per request of its mix), weights from Mix.
func (m Measured) PerService() map[string]ServiceCapacity {
	type acc struct{ secPerReq, conc, w float64 }
	sums := map[string]*acc{}
	for _, r := range m.Routes {
		capacity, conc := r.PerReplica()
		if capacity <= 0 {
			continue
		}
		w := RouteWeight(r.Service, r.Name)
		a := sums[r.Service]
		if a == nil {
			a = &acc{}
			sums[r.Service] = a
		}
		a.secPerReq += w / capacity
		a.conc += w * conc
		a.w += w
	}
	out := map[string]ServiceCapacity{}
	for svc, a := range sums {
		out[svc] = ServiceCapacity{PerReplica: a.w / a.secPerReq, Concurrency: a.conc / a.w}
	}
	return out
}

// ServiceCapacity is what one replica serves.
type ServiceCapacity struct {
	PerReplica  float64 // req/s within the SLO
	Concurrency float64 // in flight at that rate
}

// Services returns the keys of m sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// MeasuredPath is where the measurement lives, relative to the module root.
const MeasuredPath = "docs/capacity/measured.json"

// Merge returns m with the routes of the Services that newer measured replacing m's; the
// uptime and date of both runs are kept in Setup.
func (m Measured) Merge(newer Measured) Measured {
	redone := map[string]bool{}
	for _, r := range newer.Routes {
		redone[r.Service] = true
	}
	out := newer
	out.Routes = nil
	for _, r := range m.Routes {
		if !redone[r.Service] {
			out.Routes = append(out.Routes, r)
		}
	}
	out.Routes = append(out.Routes, newer.Routes...)
	out.Setup = newer.Setup + fmt.Sprintf("; %s re-measured %s (%s), the rest %s (%s)",
		strings.Join(sortedKeys(redone), ", "), newer.Date, newer.UptimeBefore, m.Date, m.UptimeBefore)
	return out
}
