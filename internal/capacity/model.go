package capacity

import (
	"fmt"
	"math"
	"time"

	"github.com/orangecarrental/orange/internal/kpa"
)

// Scenario is traffic at the gateway over time.
type Scenario struct {
	Name  string // file-name safe: "seed-day"
	Title string
	// Start is the wall-clock time of second 0 (only for labels).
	Start    time.Duration // since midnight
	Duration time.Duration
	// Points are (offset since Start, gateway req/s), linearly interpolated; constant after the last.
	Points []Point
}

// Point is the gateway's rate at an offset.
type Point struct {
	At   time.Duration
	Rate float64
}

// Rate is the gateway's req/s at offset t.
func (s Scenario) Rate(t time.Duration) float64 {
	p := s.Points
	if len(p) == 0 {
		return 0
	}
	if t <= p[0].At {
		return p[0].Rate
	}
	for i := 1; i < len(p); i++ {
		if t <= p[i].At {
			f := float64(t-p[i-1].At) / float64(p[i].At-p[i-1].At)
			return p[i-1].Rate + f*(p[i].Rate-p[i-1].Rate)
		}
	}
	return p[len(p)-1].Rate
}

func hm(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }

// SeedDay is the seed's day (CONCURRENCY.md, "Scaling Events"): 09:00 100 req/min, 12:00 500,
// 14:00 200, 18:00 1000, 23:00 50, straight lines in between. Before 09:00 we assume the
// night's 50 req/min from 06:00; the replay runs 06:00–24:00.
func SeedDay() Scenario {
	perMin := func(h int, r float64) Point { return Point{At: hm(h, 0) - hm(6, 0), Rate: r / 60} }
	return Scenario{Name: "seed-day", Title: "The seed's day (06:00–24:00)", Start: hm(6, 0), Duration: 18 * time.Hour,
		Points: []Point{perMin(6, 50), perMin(9, 100), perMin(12, 500), perMin(14, 200), perMin(18, 1000), perMin(23, 50), perMin(24, 50)}}
}

// BlackFriday is the seed's peak, 2,000 req/s at the gateway, as a sale that opens at 09:00:
// the day's 100 req/min until then, 2,000 req/s one minute later (the doors open: no slow
// ramp), held for an hour, back to the day's level by 10:30. The replay runs 08:30–11:00;
// the Friday pre-scaling (08:00) is in effect from the start when the overlay has it.
func BlackFriday() Scenario {
	at := func(h, m int, r float64) Point { return Point{At: hm(h, m) - hm(8, 30), Rate: r} }
	return Scenario{Name: "black-friday", Title: "Black Friday: 2,000 req/s at the gateway from 09:00", Start: hm(8, 30),
		Duration: 150 * time.Minute,
		Points:   []Point{at(8, 30, 100.0/60), at(9, 0, 100.0/60), at(9, 1, 2000), at(10, 0, 2000), at(10, 30, 100.0/60)}}
}

// Stress is Black Friday with factor times the seed's peak: where max-scale and the targets
// stop keeping up.
func Stress(factor float64) Scenario {
	s := BlackFriday()
	s.Name = fmt.Sprintf("stress-%gx", factor)
	s.Title = fmt.Sprintf("%g × Black Friday: %s req/s at the gateway from 09:00", factor, thousands(2000*factor))
	s.Points = append([]Point(nil), s.Points...)
	for i := range s.Points {
		if s.Points[i].Rate > 100 {
			s.Points[i].Rate *= factor
		}
	}
	return s
}

func thousands(v float64) string {
	n := int(math.Round(v))
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d,%03d", n/1000, n%1000)
}

// ServiceModel is one Service in a replay: its KPA, what a replica serves, its share of the
// gateway's traffic.
type ServiceModel struct {
	Service string
	Spec    kpa.Spec
	// PerReplica is req/s one replica serves within its SLO; UnloadedMs and AtCapacityMs are
	// the mean latency when idle and at that rate.
	PerReplica               float64
	UnloadedMs, AtCapacityMs float64
	SLOMs                    float64
	FanOut                   float64 // requests per gateway request
	// StartDelay is how long a new replica takes to become ready (scheduling, image, start,
	// readiness probe).
	StartDelay time.Duration
}

// Sample is one Service's state at one moment.
type Sample struct {
	T         time.Duration // since the scenario's start
	Demand    float64       // req/s arriving
	Ready     int
	Desired   int
	Queue     float64 // requests waiting beyond the replicas' capacity
	LatencyMs float64 // estimated mean latency: service time at this load + queue wait
	Panic     bool
}

// Result is a Service's replay.
type Result struct {
	Model   ServiceModel
	Samples []Sample // one per SampleEvery

	PeakDemand      float64
	PeakReady       int
	MaxQueue        float64
	WorstLatencyMs  float64
	SecondsOverSLO  int     // seconds whose estimated mean latency exceeded the route's SLO
	PeakUtilization float64 // highest demand ÷ (ready × capacity) over the run
	MeanUtilization float64 // served requests ÷ replica-seconds × capacity
	ReplicaSeconds  float64
}

// SampleEvery is the replay's sampling of its charts and tables.
const SampleEvery = 10 * time.Second

// Replay runs one Service through a scenario one second at a time:
//
//   - demand λ = gateway rate × fan-out; ready replicas serve up to ready × capacity per
//     second; the rest waits (the backlog: the activator and queue-proxies hold it);
//   - a request's latency is its service time, growing linearly from the unloaded mean to the
//     mean at capacity with the replicas' utilization, plus backlog ÷ service rate;
//   - the KPA is fed the in-flight count, as the queue-proxies report it: served rate ×
//     latency (Little) + backlog, every second (Record), and decides every two (Scale);
//   - a replica it adds is ready StartDelay later; a replica it removes goes at once.
func Replay(sc Scenario, m ServiceModel, initial int) Result {
	a := kpa.New(m.Spec)
	ready := initial
	type pending struct{ at time.Duration }
	var starting []pending
	r := Result{Model: m}
	var queue, served, capSeconds float64
	desired := ready
	var panicMode bool
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC).Add(sc.Start)
	for t := time.Duration(0); t < sc.Duration; t += time.Second {
		// replicas whose start delay passed are ready
		for len(starting) > 0 && starting[0].at <= t {
			ready++
			starting = starting[1:]
		}
		lambda := sc.Rate(t) * m.FanOut
		capacity := float64(ready) * m.PerReplica
		work := lambda + queue
		done := math.Min(work, capacity)
		queue = work - done
		rho := 1.0
		if capacity > 0 {
			rho = math.Min(1, done/capacity)
		}
		svcMs := m.UnloadedMs + (m.AtCapacityMs-m.UnloadedMs)*rho
		lat := svcMs
		if capacity > 0 {
			lat += queue / capacity * 1000
		} else if queue > 0 {
			lat = math.Inf(1)
		}
		inflight := done*svcMs/1000 + queue
		a.Record(t0.Add(t), inflight)
		if t%kpa.TickInterval == 0 {
			d := a.Scale(t0.Add(t), ready)
			panicMode = d.Panic
			if d.Valid {
				desired = int(d.Desired)
				have := ready + len(starting)
				for ; have < desired; have++ {
					starting = append(starting, pending{at: t + m.StartDelay})
				}
				for ; have > desired && len(starting) > 0; have-- {
					starting = starting[:len(starting)-1]
				}
				if have > desired {
					ready = desired
				}
			}
		}
		served += done
		capSeconds += capacity
		r.ReplicaSeconds += float64(ready)
		r.PeakDemand = math.Max(r.PeakDemand, lambda)
		r.PeakReady = max(r.PeakReady, ready)
		r.MaxQueue = math.Max(r.MaxQueue, queue)
		r.WorstLatencyMs = math.Max(r.WorstLatencyMs, lat)
		if capacity > 0 {
			r.PeakUtilization = math.Max(r.PeakUtilization, lambda/capacity)
		}
		if m.SLOMs > 0 && lat > m.SLOMs {
			r.SecondsOverSLO++
		}
		if t%SampleEvery == 0 {
			r.Samples = append(r.Samples, Sample{T: t, Demand: lambda, Ready: ready, Desired: desired,
				Queue: queue, LatencyMs: lat, Panic: panicMode})
		}
	}
	if capSeconds > 0 {
		r.MeanUtilization = served / capSeconds
	}
	return r
}

// Needed is the replicas that serve rate at the given utilization of their capacity.
func Needed(rate, perReplica, utilization float64) int {
	if rate <= 0 || perReplica <= 0 {
		return 0
	}
	return int(math.Ceil(rate / (perReplica * utilization)))
}
