package capacity

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// SVG is the run's chart, hand-written: one panel per Service, time across; in each, the
// ready replicas (solid), the replicas the demand needs at full measured capacity (dotted) and
// max-scale (dashed). Samples are every SampleEvery; the polylines keep only the points where
// a value changes, so the files stay small and diff well.
func (r Run) SVG() string {
	const (
		width, left, right = 760, 150, 20
		panelH, gap, top   = 64, 14, 56
	)
	plotW := float64(width - left - right)
	height := top + len(r.Results)*(panelH+gap) + 24
	var b strings.Builder
	title := html.EscapeString(r.Scenario.Title + " — " + r.Config)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="t d" font-family="sans-serif" font-size="11">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, "<title id=\"t\">%s: replicas over time per Service</title>\n", title)
	var desc []string
	for _, res := range r.Results {
		desc = append(desc, fmt.Sprintf("%s: %d to %d replicas (min %d, max %d), peak demand %.1f req/s, %d s over its SLO",
			res.Model.Service, minReady(res), res.PeakReady, res.Model.Spec.Min, res.Model.Spec.Max, res.PeakDemand, res.SecondsOverSLO))
	}
	fmt.Fprintf(&b, "<desc id=\"d\">Replayed through Knative's KPA decider. %s.</desc>\n", html.EscapeString(strings.Join(desc, "; ")))
	b.WriteString(`<rect width="100%" height="100%" fill="#fff"/>` + "\n")
	fmt.Fprintf(&b, "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", left-140, title)
	fmt.Fprintf(&b, "<text x=\"%d\" y=\"38\" fill=\"#444\">orange: ready replicas · dotted: needed at measured capacity · dashed: max-scale · red: backlog (log scale)</text>\n", left-140)
	dur := r.Scenario.Duration.Seconds()
	x := func(t time.Duration) float64 { return float64(left) + plotW*t.Seconds()/dur }
	for i, res := range r.Results {
		y0 := float64(top + i*(panelH+gap))
		maxY := float64(res.Model.Spec.Max)
		for _, s := range res.Samples {
			maxY = math.Max(maxY, math.Max(float64(s.Ready), s.Demand/res.Model.PerReplica))
		}
		maxY = math.Max(1, math.Ceil(maxY*1.1))
		y := func(v float64) float64 { return y0 + panelH - panelH*math.Min(v, maxY)/maxY }
		fmt.Fprintf(&b, "<g><text x=\"%d\" y=\"%.0f\">%s</text><text x=\"%d\" y=\"%.0f\" fill=\"#666\">%d–%d, target %.0f</text>\n",
			left-140, y0+panelH/2, res.Model.Service, left-140, y0+panelH/2+14, res.Model.Spec.Min, res.Model.Spec.Max, res.Model.Spec.Decider.TotalValue)
		fmt.Fprintf(&b, "<rect x=\"%d\" y=\"%.0f\" width=\"%.0f\" height=\"%d\" fill=\"#fafafa\" stroke=\"#ddd\"/>\n", left, y0, plotW, panelH)
		fmt.Fprintf(&b, "<text x=\"%d\" y=\"%.0f\" text-anchor=\"end\" fill=\"#666\">%.0f</text>\n", left-4, y0+9, maxY)
		if res.Model.Spec.Max > 0 {
			fmt.Fprintf(&b, "<line x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n", left, float64(left)+plotW, y(maxY*0+float64(res.Model.Spec.Max)), y(float64(res.Model.Spec.Max)))
		}
		var need, ready, queue []string
		var lastQX float64
		for j, s := range res.Samples {
			last := j == len(res.Samples)-1
			if j == 0 || last || s.Ready != res.Samples[j-1].Ready {
				if j > 0 {
					ready = append(ready, fmt.Sprintf("%.1f,%.1f", x(s.T), y(float64(res.Samples[j-1].Ready))))
				}
				ready = append(ready, fmt.Sprintf("%.1f,%.1f", x(s.T), y(float64(s.Ready))))
			}
			// the backlog on a log scale, at most one point per pixel column
			if (s.Queue > 0 || (j > 0 && res.Samples[j-1].Queue > 0)) && (len(queue) == 0 || x(s.T)-lastQX >= 1) {
				lastQX = x(s.T)
				queue = append(queue, fmt.Sprintf("%.0f,%.1f", x(s.T), y0+panelH-math.Min(panelH, 4*math.Log1p(s.Queue))))
			}
		}
		// demand is piecewise linear between the scenario's points
		for _, p := range r.Scenario.Points {
			if p.At <= r.Scenario.Duration {
				need = append(need, fmt.Sprintf("%.1f,%.1f", x(p.At), y(p.Rate*res.Model.FanOut/res.Model.PerReplica)))
			}
		}
		fmt.Fprintf(&b, "<polyline fill=\"none\" stroke=\"#888\" stroke-dasharray=\"1 2\" points=\"%s\"/>\n", strings.Join(need, " "))
		fmt.Fprintf(&b, "<polyline fill=\"none\" stroke=\"#e67300\" stroke-width=\"1.5\" points=\"%s\"/>\n", strings.Join(ready, " "))
		if len(queue) > 0 {
			fmt.Fprintf(&b, "<polyline fill=\"none\" stroke=\"#c00\" points=\"%s\"/>\n", strings.Join(queue, " "))
		}
		b.WriteString("</g>\n")
	}
	// time axis: every hour (or 15 minutes for short runs)
	axisY := top + len(r.Results)*(panelH+gap) + 2
	step := time.Hour
	if r.Scenario.Duration <= 3*time.Hour {
		step = 15 * time.Minute
	}
	for t := time.Duration(0); t <= r.Scenario.Duration; t += step {
		wall := r.Scenario.Start + t
		fmt.Fprintf(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#444\">%02d:%02d</text>\n", x(t), axisY+10,
			int(wall.Hours())%24, int(wall.Minutes())%60)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func minReady(r Result) int {
	m := math.MaxInt
	for _, s := range r.Samples {
		m = min(m, s.Ready)
	}
	if m == math.MaxInt {
		return 0
	}
	return m
}
