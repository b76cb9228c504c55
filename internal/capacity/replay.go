package capacity

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/orangecarrental/orange/internal/kpa"
)

// StartDelay is the replay's pod start: a Go function is ready in well under a second, but a
// new pod also waits for scheduling on a node with room, its (cached) image and the first
// readiness probe. 10 s is that on a warm cluster; a cluster that must add a node takes
// minutes, which only pre-scaling covers.
const StartDelay = 10 * time.Second

// Utilization is the share of a replica's measured capacity the derived targets aim at (the
// seed's 70 % line, our target-utilization-percentage).
const Utilization = 0.70

// FridayMargin multiplies the replicas the Black Friday peak needs into the Friday min: the
// capacities are CPU ceilings from short steps on a shared machine (the knee sits below the
// ceiling) and the next sale may be bigger than the seed's. One measured factor instead of
// "2 × production min".
const FridayMargin = 2

// WastefulBelow is the peak utilization of the min-scale replicas over the seed's day under
// which a min-scale is called wasteful: the busiest moment of the day would use less than
// this share of what the minimum already serves.
const WastefulBelow = 0.10

// Run is one scenario replayed against one overlay configuration.
type Run struct {
	Scenario Scenario
	Config   string // "production", "production + Friday pre-scale", …
	Results  []Result
}

// Model is everything the doc's generated block and the charts are made from.
type Model struct {
	Measured Measured
	Services []string // replayed, in the scale table's order of the doc
	Models   map[string]ServiceModel
	Runs     []Run
	// Derived per Service.
	Derived map[string]Derivation
}

// Derivation is what the replay says a Service's scale settings should be.
type Derivation struct {
	Target        int // autoscaling.knative.dev/target: in flight at capacity (Little)
	CurrentTarget float64
	ProdMin       int
	ProdMax       int
	FridayMin     int     // prescale-friday-up today (0: not pre-scaled)
	DerivedFriday int     // replicas for the Black Friday peak at Utilization, within [min, max]
	NeededAtPeak  int     // unclamped: above ProdMax means max-scale is too low for the peak
	HeadroomAtMax float64 // max-scale × capacity ÷ the Black Friday peak
	DayPeakUtil   float64
}

// serviceOrder is the doc's order (the scale table's); Services not measured are left out.
var serviceOrder = []string{"api-gateway", "public-portal", "vehicles-api", "pricing-api", "locations-api",
	"reservations-api", "customers-api", "payments-api", "notifications-api"}

// Build replays the scenarios from a measurement and the rendered production overlay.
func Build(m Measured, prod Overlay) (*Model, error) {
	caps := m.PerService()
	fan := FanOut()
	md := &Model{Measured: m, Models: map[string]ServiceModel{}, Derived: map[string]Derivation{}}
	for _, svc := range serviceOrder {
		c, ok := caps[svc]
		if !ok || prod.Services[svc] == nil {
			continue
		}
		spec, err := kpa.SpecFromService(prod.Services[svc])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", svc, err)
		}
		unloaded, atCap, slo := latencies(m, svc)
		md.Services = append(md.Services, svc)
		md.Models[svc] = ServiceModel{Service: svc, Spec: spec, PerReplica: c.PerReplica, UnloadedMs: unloaded,
			AtCapacityMs: atCap, SLOMs: slo, FanOut: fan[svc], StartDelay: StartDelay}
	}
	if len(md.Services) == 0 {
		return nil, errors.New("no measured Service is in the production overlay")
	}
	withMin := func(m ServiceModel, min int) ServiceModel {
		if min > int(m.Spec.Min) {
			m.Spec.Min = int32(min)
		}
		return m
	}
	withTarget := func(m ServiceModel, total int) ServiceModel {
		u := m.Spec.Decider.TargetValue / m.Spec.Decider.TotalValue
		m.Spec.Decider.TotalValue = float64(total)
		m.Spec.Decider.TargetValue = float64(total) * u
		return m
	}
	day, friday := SeedDay(), BlackFriday()
	run := func(sc Scenario, config string, adjust func(ServiceModel) ServiceModel) Run {
		r := Run{Scenario: sc, Config: config}
		for _, svc := range md.Services {
			sm := adjust(md.Models[svc])
			r.Results = append(r.Results, Replay(sc, sm, int(sm.Spec.Min)))
		}
		return r
	}
	same := func(m ServiceModel) ServiceModel { return m }
	md.Runs = append(md.Runs, run(day, "production", same))
	md.Runs = append(md.Runs, run(friday, "production", same))
	md.Runs = append(md.Runs, run(friday, "production + Friday pre-scale", func(m ServiceModel) ServiceModel {
		return withMin(m, prod.FridayMin[m.Service])
	}))
	// Where the limits are: five times the seed's peak, with the manifests' targets and with
	// the rule of thumb the measured targets replaced (50, the gateway 100).
	stress := Stress(5)
	md.Runs = append(md.Runs, run(stress, "production + Friday pre-scale", func(m ServiceModel) ServiceModel {
		return withMin(m, prod.FridayMin[m.Service])
	}))
	md.Runs = append(md.Runs, run(stress, "production + Friday pre-scale, target 50 (gateway 100)", func(m ServiceModel) ServiceModel {
		old := 50
		if m.Service == "api-gateway" {
			old = 100
		}
		return withTarget(withMin(m, prod.FridayMin[m.Service]), old)
	}))
	for i, svc := range md.Services {
		sm := md.Models[svc]
		peak := friday.Points[2].Rate * sm.FanOut
		need := Needed(peak, sm.PerReplica, Utilization)
		friday := need * FridayMargin
		d := Derivation{
			Target:        SnapTarget(caps[svc].Concurrency),
			CurrentTarget: sm.Spec.Decider.TotalValue,
			ProdMin:       int(sm.Spec.Min), ProdMax: int(sm.Spec.Max),
			FridayMin:     prod.FridayMin[svc],
			NeededAtPeak:  need,
			HeadroomAtMax: float64(sm.Spec.Max) * sm.PerReplica / peak,
			DerivedFriday: min(max(friday, int(sm.Spec.Min)), func() int {
				if sm.Spec.Max == 0 {
					return friday
				}
				return int(sm.Spec.Max)
			}()),
		}
		day := md.Runs[0].Results[i]
		if sm.Spec.Min > 0 {
			d.DayPeakUtil = day.PeakDemand / (float64(sm.Spec.Min) * sm.PerReplica)
		}
		md.Derived[svc] = d
	}
	return md, nil
}

// targetSteps are the values a derived target takes: a re-measurement moves a manifest's
// target only when the in-flight count moves by a step, not with every run's noise.
var targetSteps = []int{1, 2, 3, 5, 8, 10, 15, 20, 30, 50, 80, 100}

// SnapTarget is the target step nearest (in ratio) to the in-flight count at capacity.
func SnapTarget(inFlight float64) int {
	best := targetSteps[0]
	for _, s := range targetSteps {
		if math.Abs(math.Log(float64(s)/math.Max(inFlight, 0.01))) < math.Abs(math.Log(float64(best)/math.Max(inFlight, 0.01))) {
			best = s
		}
	}
	return best
}

// latencies are a Service's mix-weighted unloaded mean, mean at capacity and SLO.
func latencies(m Measured, svc string) (unloaded, atCap, slo float64) {
	var w float64
	for _, r := range m.Routes {
		if c, _ := r.PerReplica(); r.Service != svc || c <= 0 || len(r.Steps) == 0 {
			continue
		}
		rw := RouteWeight(svc, r.Name)
		unloaded += rw * unloadedMs(r.Steps)
		atCap += rw * r.MeanMs
		slo += rw * r.SLOp99Ms
		w += rw
	}
	if w == 0 {
		return 0, 0, 0
	}
	return unloaded / w, atCap / w, slo / w
}

// Regenerate replays the measurement at measuredPath (relative to root) and rewrites the
// charts under docs/capacity/ and the generated block of docs/capacity.md.
func Regenerate(root, measuredPath string) error {
	files, _, err := Generate(root, measuredPath)
	if err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// DocPath is the page whose generated block the replay writes.
const DocPath = "docs/capacity.md"

const (
	blockBegin = "<!-- capacity-model:begin (generated by `make capacity-replay` from docs/capacity/measured.json and knative/overlays/production) -->"
	blockEnd   = "<!-- capacity-model:end -->"
)

// Generate returns every file the replay writes (path relative to root → content): the SVGs
// and docs/capacity.md with its generated block replaced; and the model they come from.
func Generate(root, measuredPath string) (map[string]string, *Model, error) {
	m, err := Load(filepath.Join(root, measuredPath))
	if err != nil {
		return nil, nil, err
	}
	prod, err := LoadOverlay(root, "production")
	if err != nil {
		return nil, nil, err
	}
	md, err := Build(m, prod)
	if err != nil {
		return nil, nil, err
	}
	doc, err := os.ReadFile(filepath.Join(root, DocPath))
	if err != nil {
		return nil, nil, err
	}
	newDoc, err := ReplaceBlock(string(doc), md.Markdown())
	if err != nil {
		return nil, nil, err
	}
	files := map[string]string{DocPath: newDoc}
	for _, r := range md.Runs {
		files[filepath.Join("docs", "capacity", r.File())] = r.SVG()
	}
	return files, md, nil
}

// File is the run's chart file name.
func (r Run) File() string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(r.Config) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return r.Scenario.Name + "--" + strings.Trim(b.String(), "-") + ".svg"
}

// ReplaceBlock puts block between the generated markers of doc.
func ReplaceBlock(doc, block string) (string, error) {
	i := strings.Index(doc, blockBegin)
	j := strings.Index(doc, blockEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("%s: the markers %q … %q are missing", DocPath, blockBegin, blockEnd)
	}
	return doc[:i+len(blockBegin)] + "\n" + block + doc[j:], nil
}

// Block returns the generated block of doc (what ReplaceBlock put there).
func Block(doc string) string {
	i := strings.Index(doc, blockBegin)
	j := strings.Index(doc, blockEnd)
	if i < 0 || j < i {
		return ""
	}
	return doc[i+len(blockBegin)+1 : j]
}

// Markdown is the generated block: measured capacity, the replays, the derivation.
func (md *Model) Markdown() string {
	var b strings.Builder
	m := md.Measured
	fmt.Fprintf(&b, "\nMeasured %s. Load average before: `%s`; after: `%s`.\n\n", m.Date, loadAvg(m.UptimeBefore), loadAvg(m.UptimeAfter))
	fmt.Fprintf(&b, "Setup: %s.\n\n", m.Setup)
	fmt.Fprintf(&b, "Baseline (bare handler, same generator, same run): %.0f req/s within p99 %.0f ms.\n\n", m.Baseline.Capacity, m.Baseline.SLOp99Ms)
	b.WriteString("### Capacity per replica (1 CPU)\n\n")
	b.WriteString("| Service | route | SLO p99 | within SLO here req/s | ÷ baseline | mean / p99 there | in flight there (Little) | CPU per request | 1-CPU ceiling req/s | in flight at ceiling |\n|---|---|---|---|---|---|---|---|---|---|\n")
	routes := append([]Route(nil), m.Routes...)
	sort.SliceStable(routes, func(i, j int) bool { return order(routes[i].Service) < order(routes[j].Service) })
	for _, r := range routes {
		if r.Error != "" {
			fmt.Fprintf(&b, "| %s | %s `%s %s` | %.0f ms | not measured: %s | | | | | | |\n", r.Service, r.Name, r.Method, r.Path, r.SLOp99Ms,
				strings.ReplaceAll(r.Error, "|", "/"))
			continue
		}
		ratio := "–"
		if r.BaselineCapacity > 0 {
			ratio = fmt.Sprintf("%.2f", r.Capacity/r.BaselineCapacity)
		}
		fmt.Fprintf(&b, "| %s | %s `%s %s` | %.0f ms | %.0f | %s | %.1f / %.1f ms | %.1f | %.2f ms | %.0f | %.1f |\n", r.Service, r.Name, r.Method, r.Path,
			r.SLOp99Ms, r.Capacity, ratio, r.MeanMs, r.P99Ms, r.Concurrency, r.CPUMsPerReq, r.CPUCeiling, r.ConcurrencyAtCeiling)
	}
	b.WriteString("\n### Per Service in the replay\n\n")
	b.WriteString("| Service | requests per gateway request | capacity per replica req/s | target now | in flight at capacity (derived target) |\n|---|---|---|---|---|\n")
	for _, svc := range md.Services {
		sm, d := md.Models[svc], md.Derived[svc]
		fmt.Fprintf(&b, "| %s | %.2f | %.0f | %.0f | %d |\n", svc, sm.FanOut, sm.PerReplica, d.CurrentTarget, d.Target)
	}
	for _, r := range md.Runs {
		fmt.Fprintf(&b, "\n### %s — %s\n\n![%s, %s: replicas over time per Service](capacity/%s)\n\n", r.Scenario.Title, r.Config, r.Scenario.Title, r.Config, r.File())
		b.WriteString("| Service | min–max | peak demand req/s | peak replicas | peak utilization | mean utilization | max backlog | worst mean latency | s over SLO |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, res := range r.Results {
			s := res.Model.Spec
			fmt.Fprintf(&b, "| %s | %d–%d | %.1f | %d | %.0f %% | %.1f %% | %.0f | %s | %d |\n", res.Model.Service, s.Min, s.Max,
				res.PeakDemand, res.PeakReady, 100*res.PeakUtilization, 100*res.MeanUtilization, res.MaxQueue, ms(res.WorstLatencyMs), res.SecondsOverSLO)
		}
	}
	b.WriteString("\n### Derived\n\n")
	fmt.Fprintf(&b, "Needed at the Black Friday peak = ⌈peak demand ÷ (capacity × %.0f %%)⌉; derived Friday min = %d × that, within [production min, max]; "+
		"min-scale wasteful when the day's busiest moment uses < %.0f %% of min × capacity; derived target = the in flight at capacity, to the nearest of %v.\n\n",
		100*Utilization, FridayMargin, 100*WastefulBelow, targetSteps)
	b.WriteString("| Service | production min–max | day peak ÷ min capacity | needed at Friday peak | Friday min now | derived Friday min | max × capacity ÷ Friday peak | target now → derived | finding |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, svc := range md.Services {
		d := md.Derived[svc]
		var finding []string
		if d.ProdMax > 0 && d.NeededAtPeak > d.ProdMax {
			finding = append(finding, fmt.Sprintf("max-scale too low for the peak (needs %d)", d.NeededAtPeak))
		}
		if d.ProdMin > 0 && d.DayPeakUtil < WastefulBelow {
			finding = append(finding, "min-scale wasteful for the seed's day")
		}
		if len(finding) == 0 {
			finding = append(finding, "ok")
		}
		derivedFriday := dash(d.DerivedFriday)
		if d.DerivedFriday <= d.ProdMin {
			derivedFriday = "– (min suffices)"
		}
		fmt.Fprintf(&b, "| %s | %d–%d | %.1f %% | %d | %s | %s | %.1f× | %.0f → %d | %s |\n", svc, d.ProdMin, d.ProdMax, 100*d.DayPeakUtil,
			d.NeededAtPeak, dash(d.FridayMin), derivedFriday, d.HeadroomAtMax, d.CurrentTarget, d.Target, strings.Join(finding, "; "))
	}
	return b.String()
}

func order(svc string) int {
	for i, s := range serviceOrder {
		if s == svc {
			return i
		}
	}
	return len(serviceOrder)
}

func dash(n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprint(n)
}

func ms(v float64) string {
	if math.IsInf(v, 1) {
		return "∞"
	}
	if v >= 10_000 {
		return fmt.Sprintf("%.0f s", v/1000)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// loadAvg is the "load average: …" part of an uptime line.
func loadAvg(uptime string) string {
	if _, after, ok := strings.Cut(uptime, "load average:"); ok {
		return "load average:" + after
	}
	return uptime
}
