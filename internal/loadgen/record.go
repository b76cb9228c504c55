package loadgen

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/influxdata/tdigest"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// recorder collects a run: vegeta Metrics per journey (latency from the intended send time)
// and per request, the outcomes that were not ok, the send lag, and a timeline.
type recorder struct {
	profile *Profile
	width   time.Duration // of a timeline bucket

	mu       sync.Mutex
	all      vegeta.Metrics
	journeys map[string]*vegeta.Metrics
	steps    map[[2]string]*vegeta.Metrics
	outcomes map[outcomeKey]*Outcome
	lag      vegeta.LatencyMetrics
	ok       uint64
	buckets  []bucket
	failed   sync.Map // hit → failure: the step a journey failed in, for its result
}

// failure is where and how a journey failed without an answer.
type failure struct{ step, err string }

type outcomeKey struct {
	journey, step, kind string
	status              int
}

type bucket struct {
	sent, ok uint64
	latency  *tdigest.TDigest
}

func newRecorder(p *Profile) *recorder {
	// About 60 points on the chart, none shorter than 100 ms.
	w := max(100*time.Millisecond, (p.Duration() / 60).Round(100*time.Millisecond))
	return &recorder{profile: p, width: w, journeys: map[string]*vegeta.Metrics{},
		steps: map[[2]string]*vegeta.Metrics{}, outcomes: map[outcomeKey]*Outcome{},
		buckets: make([]bucket, int(p.Duration()/w)+1)}
}

// step records one request of a journey, timed from its own send.
func (r *recorder) step(journey, step string, start time.Time, took time.Duration, status int, err error) {
	res := &vegeta.Result{Code: uint16(status), Timestamp: start, Latency: took}
	if err != nil {
		res.Error = err.Error()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]string{journey, step}
	m := r.steps[k]
	if m == nil {
		m = &vegeta.Metrics{}
		r.steps[k] = m
	}
	m.Add(res)
}

// journey records a hit's result: its latency becomes the time from its intended send to
// its end (coordinated omission, doc.go), the lag of its actual send is kept apart.
func (r *recorder) journey(res *vegeta.Result, intended, began time.Time) {
	end := res.End()
	if lag := res.Timestamp.Sub(intended); lag > 0 {
		res.Latency = end.Sub(intended)
		r.lag.Add(lag)
	} else {
		r.lag.Add(0)
	}
	var name, hit string
	if u, err := url.Parse(res.URL); err == nil {
		name, hit = u.Query().Get("journey"), u.Query().Get("hit")
	}
	var fail failure
	if f, ok := r.failed.LoadAndDelete(hit); ok {
		fail = f.(failure)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all.Add(res)
	m := r.journeys[name]
	if m == nil {
		m = &vegeta.Metrics{}
		r.journeys[name] = m
	}
	m.Add(res)
	kind := kindOf(int(res.Code), res.Error)
	if i := int(intended.Sub(began) / r.width); i >= 0 && i < len(r.buckets) {
		b := &r.buckets[i]
		b.sent++
		if kind == "ok" {
			b.ok++
		}
		if b.latency == nil {
			b.latency = tdigest.NewWithCompression(100)
		}
		b.latency.Add(float64(res.Latency), 1)
	}
	if kind == "ok" {
		r.ok++
		return
	}
	step, example := res.Headers.Get("X-Orange-Step"), ""
	if res.Code == 0 {
		step, example = fail.step, cmp.Or(fail.err, res.Error)
		if rs := []rune(example); len(rs) > 160 {
			example = string(rs[:160]) + "…"
		}
	}
	k := outcomeKey{journey: name, step: step, kind: kind, status: int(res.Code)}
	o := r.outcomes[k]
	if o == nil {
		o = &Outcome{Journey: name, Step: step, Status: int(res.Code), Kind: kind, Example: example}
		r.outcomes[k] = o
	}
	o.Count++
}

// kindOf names an outcome: ok, or what went wrong as a user would tell it apart.
func kindOf(status int, err string) string {
	switch {
	case status == 0:
		switch {
		case strings.Contains(err, "Client.Timeout") || strings.Contains(err, "deadline exceeded") || strings.Contains(err, "timeout"):
			return "timeout"
		case strings.Contains(err, "connection refused"):
			return "refused"
		case strings.Contains(err, "connection reset") || strings.Contains(err, "EOF"):
			return "reset"
		case strings.Contains(err, errUnreadable.Error()):
			return "unreadable"
		}
		return "transport"
	case status < 400:
		return "ok"
	case status == 409:
		return "conflict"
	case status == 429:
		return "rate limited"
	case status == 400 || status == 422:
		return "invalid"
	case status == 401 || status == 403:
		return "refused"
	case status == 503:
		return "unavailable"
	case status == 504:
		return "gateway timeout"
	case status < 500:
		return "client error"
	}
	return "server error"
}

// report builds the run's Report.
func (r *recorder) report(cfg Config, target string, start time.Time, elapsed time.Duration) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.profile.Duration().Seconds()
	rep := &Report{
		Target: target, Profile: r.profile.Name, Mix: cfg.Mix.String(), StartedAt: start.UTC(),
		DurationSeconds: d, ElapsedSeconds: elapsed.Seconds(), PeakPerSecond: r.profile.Peak(),
		Workers: cfg.Workers, TimeoutSeconds: cfg.Timeout.Seconds(),
		Offered:  Rate{Count: r.profile.Total(), PerSecond: float64(r.profile.Total()) / d},
		Sent:     Rate{Count: r.all.Requests, PerSecond: float64(r.all.Requests) / d},
		Achieved: Rate{Count: r.ok, PerSecond: float64(r.ok) / elapsed.Seconds()},
		SendLag:  latencyOf(r.lag),
	}
	names := append([]string{}, cfg.Mix.Names()...)
	for n := range r.journeys {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		if m := r.journeys[n]; m != nil {
			rep.Journeys = append(rep.Journeys, statsOf(n, "", m))
		}
	}
	rep.Journeys = append(rep.Journeys, statsOf("all", "", &r.all))
	for k, m := range r.steps {
		rep.Requests = append(rep.Requests, statsOf(k[0], k[1], m))
	}
	order := func(j string) int {
		if i := slices.Index(names, j); i >= 0 {
			return i
		}
		return len(names)
	}
	steps := []string{stepSearch, stepQuote, stepTokenize, stepBook, stepStatus, stepCancel}
	slices.SortFunc(rep.Requests, func(a, b Stats) int {
		return cmp.Or(cmp.Compare(order(a.Journey), order(b.Journey)), cmp.Compare(slices.Index(steps, a.Step), slices.Index(steps, b.Step)),
			cmp.Compare(a.Step, b.Step))
	})
	for _, o := range r.outcomes {
		rep.Outcomes = append(rep.Outcomes, *o)
	}
	slices.SortFunc(rep.Outcomes, func(a, b Outcome) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Journey, b.Journey), cmp.Compare(a.Status, b.Status), cmp.Compare(a.Step, b.Step))
	})
	w := r.width.Seconds()
	for i, b := range r.buckets {
		at := float64(i) * w
		if at >= d {
			break
		}
		span := min(w, d-at)
		tb := Bucket{AtSeconds: at,
			OfferedPerSecond: (r.profile.Hits(time.Duration((at+span)*1e9)) - r.profile.Hits(time.Duration(at*1e9))) / span,
			SentPerSecond:    float64(b.sent) / span, OKPerSecond: float64(b.ok) / span}
		if b.latency != nil {
			tb.P50Ms, tb.P99Ms = ms(time.Duration(b.latency.Quantile(0.5))), ms(time.Duration(b.latency.Quantile(0.99)))
		}
		rep.Timeline = append(rep.Timeline, tb)
	}
	return rep
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func latencyOf(l vegeta.LatencyMetrics) Latency {
	return Latency{P50: ms(l.Quantile(0.5)), P90: ms(l.Quantile(0.9)), P99: ms(l.Quantile(0.99)), Max: ms(l.Max)}
}

func statsOf(journey, step string, m *vegeta.Metrics) Stats {
	m.Close()
	s := Stats{Journey: journey, Step: step, Count: m.Requests, Statuses: map[string]int{}}
	for code, n := range m.StatusCodes {
		s.Statuses[code] = n
		if c := code; len(c) == 3 && c[0] >= '1' && c[0] <= '3' {
			s.OK += uint64(n)
		}
	}
	if s.Count > 0 {
		s.SuccessRatio = float64(s.OK) / float64(s.Count)
		s.Latency = latencyOf(m.Latencies)
	}
	return s
}

// String is a Latency as the tables print it.
func (l Latency) String() string {
	return fmt.Sprintf("%s\t%s\t%s\t%s", msText(l.P50), msText(l.P90), msText(l.P99), msText(l.Max))
}

func msText(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}
