package loadgen

import (
	"fmt"
	"math"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Profile is a request rate over time: straight lines between points (a step is two points
// at the same time). Rates are journeys per second.
type Profile struct {
	Name   string
	points []point
	cum    []float64 // hits due by points[i].at
}

type point struct {
	at   time.Duration
	rate float64
}

// The seed's day (seed/CONCURRENCY.md, "Scaling Events"; design.md §6): requests per minute
// at each hour, a straight line between them. 09:00 to 23:00 is 14 hours.
var seedDay = []struct {
	hour      float64
	perMinute float64
}{{9, 100}, {12, 500}, {14, 200}, {18, 1000}, {23, 50}}

const (
	// SeedDayPeak is the seed day's 18:00 rate, per second.
	SeedDayPeak = 1000.0 / 60
	// BlackFridayPeak is the seed's Black Friday: 20 replicas × ~100 req/s.
	BlackFridayPeak = 2000.0
)

func newProfile(name string, pts ...point) (*Profile, error) {
	if len(pts) < 2 || pts[len(pts)-1].at <= 0 {
		return nil, fmt.Errorf("profile %s: the duration must be above 0", name)
	}
	p := &Profile{Name: name, points: pts, cum: make([]float64, len(pts))}
	for i := 1; i < len(pts); i++ {
		if pts[i].at < pts[i-1].at {
			return nil, fmt.Errorf("profile %s: points out of order", name)
		}
		if pts[i].rate < 0 || math.IsNaN(pts[i].rate) || math.IsInf(pts[i].rate, 0) {
			return nil, fmt.Errorf("profile %s: a rate must be a number ≥ 0", name)
		}
		dt := (pts[i].at - pts[i-1].at).Seconds()
		p.cum[i] = p.cum[i-1] + dt*(pts[i-1].rate+pts[i].rate)/2
	}
	if p.cum[len(pts)-1] < 1 {
		return nil, fmt.Errorf("profile %s: less than one journey in the whole run: raise the rate or the duration", name)
	}
	return p, nil
}

// Constant is rate journeys per second for d.
func Constant(rate float64, d time.Duration) (*Profile, error) {
	return newProfile(fmt.Sprintf("constant %g/s for %s", rate, d), point{0, rate}, point{d, rate})
}

// Ramp goes from one rate to another in a straight line over d.
func Ramp(from, to float64, d time.Duration) (*Profile, error) {
	return newProfile(fmt.Sprintf("ramp %g/s → %g/s over %s", from, to, d), point{0, from}, point{d, to})
}

// Day is the seed's day, 09:00 to 23:00, compressed in time by compress (240: 14 h in
// 3.5 min). The rates stay the seed's (at 18:00 1000 req/min) unless peak > 0, which is the
// 18:00 rate per second and scales the whole curve with it.
func Day(compress, peak float64) (*Profile, error) {
	if compress < 1 {
		return nil, fmt.Errorf("-compress must be at least 1, is %g", compress)
	}
	scale := 1.0
	if peak > 0 {
		scale = peak / SeedDayPeak
	}
	var pts []point
	for _, h := range seedDay {
		at := time.Duration((h.hour - seedDay[0].hour) * float64(time.Hour) / compress)
		pts = append(pts, point{at, h.perMinute / 60 * scale})
	}
	return newProfile(fmt.Sprintf("the seed's day 09:00–23:00 compressed %g× (18:00 at %.4g/s)", compress, SeedDayPeak*scale), pts...)
}

// BlackFriday is the seed's sale morning in d: the first tenth at the seed's 09:00 rate
// (100 req/min), then the sale opens — a step to peak (default 2,000/s)
// held for eight tenths — and the last tenth back at the morning rate. A step, not a ramp:
// the point of the seed's Friday pre-scaling is that the crowd arrives at once.
func BlackFriday(peak float64, d time.Duration) (*Profile, error) {
	if peak <= 0 {
		peak = BlackFridayPeak
	}
	base := math.Min(seedDay[0].perMinute/60, peak)
	t1, t2 := d/10, d-d/10
	return newProfile(fmt.Sprintf("Black Friday: %.4g/s, the sale opens at %s: %g/s until %s, then %.4g/s", base, t1, peak, t2, base),
		point{0, base}, point{t1, base}, point{t1, peak}, point{t2, peak}, point{t2, base}, point{d, base})
}

// Duration is the profile's length.
func (p *Profile) Duration() time.Duration { return p.points[len(p.points)-1].at }

// Hits is how many journeys are due by t: the integral of the rate.
func (p *Profile) Hits(t time.Duration) float64 {
	if t <= 0 {
		return 0
	}
	for i := 1; i < len(p.points); i++ {
		a, b := p.points[i-1], p.points[i]
		if t > b.at {
			continue
		}
		x := (t - a.at).Seconds()
		return p.cum[i-1] + x*a.rate + x*x*p.slope(i)/2
	}
	return p.cum[len(p.cum)-1]
}

// Total is how many journeys the whole profile sends.
func (p *Profile) Total() uint64 { return uint64(p.cum[len(p.cum)-1]) }

// slope of segment i (ending at points[i]) in journeys/s².
func (p *Profile) slope(i int) float64 {
	dt := (p.points[i].at - p.points[i-1].at).Seconds()
	if dt == 0 {
		return 0
	}
	return (p.points[i].rate - p.points[i-1].rate) / dt
}

// Due is when hit n (from 0) is due: when Hits reaches n+1, as vegeta's ConstantPacer has
// it (the first hit one interval after the start). ok is false past the end.
func (p *Profile) Due(n uint64) (d time.Duration, ok bool) {
	target := float64(n + 1)
	for i := 1; i < len(p.points); i++ {
		if target > p.cum[i] {
			continue
		}
		a := p.points[i-1]
		need := target - p.cum[i-1]
		k := p.slope(i)
		var x float64
		switch {
		case math.Abs(k) < 1e-12:
			x = need / a.rate
		default: // a.rate·x + k·x²/2 = need
			x = (-a.rate + math.Sqrt(math.Max(0, a.rate*a.rate+2*k*need))) / k
		}
		return a.at + time.Duration(x*float64(time.Second)), true
	}
	return 0, false
}

// Rate is the rate at t, journeys per second.
func (p *Profile) Rate(t time.Duration) float64 {
	for i := 1; i < len(p.points); i++ {
		a, b := p.points[i-1], p.points[i]
		if t < b.at || (t == b.at && i == len(p.points)-1) {
			return a.rate + (t-a.at).Seconds()*p.slope(i)
		}
	}
	return 0
}

// Peak is the profile's highest rate.
func (p *Profile) Peak() float64 {
	var m float64
	for _, pt := range p.points {
		m = math.Max(m, pt.rate)
	}
	return m
}

// pacer is a vegeta.Pacer on a Profile that also knows when the attack began (vegeta keeps
// its start to itself; the first Pace call is told the time elapsed since it), so a result's
// intended send time is began + Due(Seq).
type pacer struct {
	p     *Profile
	mu    sync.Mutex
	began time.Time
}

var _ vegeta.Pacer = (*pacer)(nil)

// Pace implements vegeta.Pacer: wait until the next hit is due, send at once when behind,
// stop after the last one.
func (pc *pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	pc.mu.Lock()
	if pc.began.IsZero() {
		pc.began = time.Now().Add(-elapsed)
	}
	pc.mu.Unlock()
	due, ok := pc.p.Due(hits)
	if !ok {
		return 0, true
	}
	return due - elapsed, false
}

// Rate implements vegeta.Pacer.
func (pc *pacer) Rate(elapsed time.Duration) float64 { return pc.p.Rate(elapsed) }

// start is when the attack began (vegeta's clock).
func (pc *pacer) start() time.Time {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.began
}

// intended is when hit seq should have been sent.
func (pc *pacer) intended(seq uint64) time.Time {
	pc.mu.Lock()
	began := pc.began
	pc.mu.Unlock()
	due, _ := pc.p.Due(seq)
	return began.Add(due)
}
