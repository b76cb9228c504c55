package benchgate

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Ref names one reported metric: a package (module-relative), a benchmark (its full name
// without the -GOMAXPROCS suffix; "" for whichever benchmark of the package reports the
// unit) and a unit ("a|b": the first of them reported, so a benchmark may rename its unit).
type Ref struct {
	Package, Bench, Unit string
}

func (r Ref) String() string { return r.Package + " " + r.Bench + " " + r.Unit }

// Direction says which side of its floor a row's ratio must be on.
type Direction int

const (
	// Info rows are printed, never judged: figures an issue reports without a target.
	Info Direction = iota
	AtLeast
	AtMost
)

// Row is one line of the gate's table.
type Row struct {
	Name string
	// Figure is what is measured; Baseline, when set, what it is compared with in the same
	// run. Without Ratio, the ratio is Figure ÷ Baseline (Baseline ÷ Figure when Inverse:
	// for ns/op, so that the ratio is one of rates), or the figure itself without Baseline.
	Figure   Ref
	Baseline *Ref
	Inverse  bool
	// Ratio, when set, is the ratio as the benchmark computed it (a median of paired
	// rounds is steadier than the ratio of two medians); Figure and Baseline are shown.
	Ratio *Ref
	Floor float64
	Dir   Direction
}

// Target is the row's floor as people write it.
func (r Row) Target() string {
	f := fmt.Sprintf("%.0f", r.Floor)
	if r.Floor < 10 {
		f = fmt.Sprintf("%.2f", r.Floor)
	}
	switch r.Dir {
	case AtLeast:
		return "≥ " + f
	case AtMost:
		return "≤ " + f
	}
	return "—"
}

// Outcome is a row judged.
type Outcome struct {
	Row
	// Got is the figure's median, Base the baseline's, Value the ratio judged.
	Got, Base, Value float64
	Runs             int
	// Status is "ok", "FAIL" (beyond the floor), "missing" (a gated figure was not
	// reported: a failure too), "not run" (BENCH_ONLY left its benchmark out), or "info".
	Status string
	Note   string
}

// Failed tells whether the outcome fails the gate.
func (o Outcome) Failed() bool { return o.Status == "FAIL" || o.Status == "missing" }

// Evaluate judges rows against res. With subset (BENCH_ONLY), a row whose benchmark did not
// run at all is "not run" (one that ran and left out a metric is still missing); otherwise
// every gated row must have reported.
func Evaluate(rows []Row, res *Results, subset bool) []Outcome {
	out := make([]Outcome, 0, len(rows))
	for _, row := range rows {
		o := Outcome{Row: row}
		got, runs, ok := res.Lookup(row.Figure)
		o.Got, o.Runs = got, runs
		var missing []string
		if !ok {
			missing = append(missing, row.Figure.Unit)
		}
		if row.Baseline != nil {
			if o.Base, _, ok = res.Lookup(*row.Baseline); !ok {
				missing = append(missing, "baseline "+row.Baseline.Unit)
			}
		}
		switch {
		case row.Ratio != nil:
			if o.Value, _, ok = res.Lookup(*row.Ratio); !ok {
				missing = append(missing, row.Ratio.Unit)
			}
		case row.Baseline == nil:
			o.Value = o.Got
		case row.Inverse && o.Got != 0:
			o.Value = o.Base / o.Got
		case !row.Inverse && o.Base != 0:
			o.Value = o.Got / o.Base
		default:
			missing = append(missing, "a non-zero figure")
		}
		switch {
		case len(missing) > 0 && subset && !res.Ran(row.Figure):
			o.Status = "not run"
		case len(missing) > 0 && row.Dir == Info:
			o.Status, o.Note = "info", "not reported: "+strings.Join(missing, ", ")
		case len(missing) > 0:
			o.Status, o.Note = "missing", "not reported: "+strings.Join(missing, ", ")
		case row.Dir == Info:
			o.Status = "info"
		case math.IsNaN(o.Value) || (row.Dir == AtLeast && o.Value < row.Floor) || (row.Dir == AtMost && o.Value > row.Floor):
			o.Status = "FAIL"
		default:
			o.Status = "ok"
		}
		out = append(out, o)
	}
	return out
}

// Report prints the table and what else failed, and tells whether the gate passed.
func Report(w io.Writer, outcomes []Outcome, res *Results) bool {
	pass := true
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "row\tfigure\tbaseline\tratio\ttarget\tresult\t")
	notRun := 0
	for _, o := range outcomes {
		if o.Status == "not run" {
			notRun++
			continue
		}
		fig, base, ratio := "—", "—", "—"
		if o.Status != "not run" && o.Note == "" {
			fig = value(o.Row.Figure.Unit, o.Got)
			if o.Runs > 1 {
				fig += fmt.Sprintf(" (median of %d)", o.Runs)
			}
			if o.Row.Baseline != nil {
				base = value(o.Row.Baseline.Unit, o.Base)
			}
			if o.Row.Baseline != nil || o.Row.Ratio != nil {
				ratio = fmt.Sprintf("%.3f", o.Value)
			}
		}
		result := o.Status
		if o.Note != "" {
			result += " (" + o.Note + ")"
		}
		if o.Failed() {
			pass = false
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", o.Name, fig, base, ratio, o.Target(), result)
	}
	_ = tw.Flush()
	if notRun > 0 {
		fmt.Fprintf(w, "(%d rows left out: their benchmarks did not run)\n", notRun)
	}
	for _, f := range res.Failures {
		fmt.Fprintln(w, "failed:", f)
		pass = false
	}
	if res.Count() == 0 {
		fmt.Fprintln(w, "no benchmark reported anything")
		pass = false
	}
	if pass {
		fmt.Fprintln(w, "bench gate: ok")
	} else {
		fmt.Fprintln(w, "bench gate: FAIL")
	}
	return pass
}

// value formats v in unit: ns/op as a duration, the rest as reported.
func value(unit string, v float64) string {
	if unit == "ns/op" {
		return time.Duration(v).Round(time.Microsecond).String()
	}
	u := strings.Split(unit, "|")[0]
	return trim(v) + " " + u
}

// trim formats a figure with at most four significant digits.
func trim(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
