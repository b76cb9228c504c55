package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is a run, as `orange load` prints it and writes it with -json. The field names are
// stable (docs/load.md lists them): scripts compare runs by them. Latencies are milliseconds.
type Report struct {
	Target          string    `json:"target"`
	Profile         string    `json:"profile"`
	Mix             string    `json:"mix"`
	StartedAt       time.Time `json:"startedAt"`
	DurationSeconds float64   `json:"durationSeconds"` // the profile's
	ElapsedSeconds  float64   `json:"elapsedSeconds"`  // until the last answer
	PeakPerSecond   float64   `json:"peakPerSecond"`
	Workers         uint64    `json:"workers"` // 0: as many as the schedule needs
	TimeoutSeconds  float64   `json:"timeoutSeconds"`
	// Offered is what the profile schedules, Sent what left (per second of the profile),
	// Achieved the journeys that ended ok per second of the run until the last answer.
	Offered  Rate `json:"offered"`
	Sent     Rate `json:"sent"`
	Achieved Rate `json:"achieved"`
	// SendLag is how late journeys left after their intended time: the generator's own
	// backlog (or the -workers cap); it is part of every journey's latency.
	SendLag  Latency   `json:"sendLagMs"`
	Journeys []Stats   `json:"journeys"` // each journey, then "all"
	Requests []Stats   `json:"requests"` // each request of each journey
	Outcomes []Outcome `json:"outcomes"` // the journeys that did not end ok, grouped
	Timeline []Bucket  `json:"timeline"`
}

// Rate is a count and its rate.
type Rate struct {
	Count     uint64  `json:"count"`
	PerSecond float64 `json:"perSecond"`
}

// Latency are percentiles and the maximum, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Stats are a journey's (Step empty) or a request's figures.
type Stats struct {
	Journey      string         `json:"journey"`
	Step         string         `json:"step,omitempty"`
	Count        uint64         `json:"count"`
	OK           uint64         `json:"ok"`
	SuccessRatio float64        `json:"successRatio"`
	Latency      Latency        `json:"latencyMs"`
	Statuses     map[string]int `json:"statuses"` // "0" is no answer
}

// Outcome is a kind of failed journey: where (the step), its status (0: no answer), its
// kind (conflict, rate limited, unavailable, timeout, refused, …) and how often.
type Outcome struct {
	Journey string `json:"journey"`
	Step    string `json:"step"`
	Status  int    `json:"status"`
	Kind    string `json:"kind"`
	Count   int    `json:"count"`
	Example string `json:"example,omitempty"` // the error of a journey without an answer
}

// Bucket is a slice of the run by intended send time. Its latencies are 0 when nothing
// was sent in it (SentPerSecond 0).
type Bucket struct {
	AtSeconds        float64 `json:"atSeconds"`
	OfferedPerSecond float64 `json:"offeredPerSecond"`
	SentPerSecond    float64 `json:"sentPerSecond"`
	OKPerSecond      float64 `json:"okPerSecond"`
	P50Ms            float64 `json:"p50Ms"`
	P99Ms            float64 `json:"p99Ms"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText prints the tables: rates, journeys, requests, what failed.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "orange load → %s\nprofile: %s; mix %s\n", r.Target, r.Profile, r.Mix)
	fmt.Fprintf(w, "offered %d journeys (%.1f/s) · sent %d (%.1f/s) · ok %d (%.1f/s achieved) · send lag p99 %s, max %s\n\n",
		r.Offered.Count, r.Offered.PerSecond, r.Sent.Count, r.Sent.PerSecond, r.Achieved.Count, r.Achieved.PerSecond,
		msText(r.SendLag.P99), msText(r.SendLag.Max))
	// One table, so that the columns of journeys and requests line up.
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "journey\tcount\tok\tp50\tp90\tp99\tmax\tstatuses")
	for _, s := range r.Journeys {
		fmt.Fprintf(tw, "%s\t%d\t%.1f %%\t%s\t%s\n", s.Journey, s.Count, 100*s.SuccessRatio, s.Latency, statuses(s.Statuses))
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t\t")
	fmt.Fprintln(tw, "request (of journey)\tcount\tok\tp50\tp90\tp99\tmax\tstatuses")
	for _, s := range r.Requests {
		fmt.Fprintf(tw, "%s (%s)\t%d\t%.1f %%\t%s\t%s\n", s.Step, s.Journey, s.Count, 100*s.SuccessRatio, s.Latency, statuses(s.Statuses))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Outcomes) == 0 {
		_, err := fmt.Fprintln(w, "\nevery journey ended ok")
		return err
	}
	fmt.Fprintln(w, "\njourneys not ok:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "count\tjourney\tfailed at\tstatus\tkind\texample")
	for _, o := range r.Outcomes {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", o.Count, o.Journey, o.Step, o.Status, o.Kind, o.Example)
	}
	return tw.Flush()
}

func statuses(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
