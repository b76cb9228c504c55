package loadgen

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteSVG draws the run's timeline: journey latency (p50, p99, from the intended send
// time) above, rates (offered, sent, ok) below, over the run's time. Hand-written SVG: no
// script, a title and a description for screen readers, colours told apart by dash as well.
func (r *Report) WriteSVG(w io.Writer) error {
	const (
		width, left, right = 860.0, 70.0, 20.0
		panelH, top, gap   = 200.0, 50.0, 70.0
	)
	plotW := width - left - right
	height := top + 2*panelH + gap + 60
	dur := math.Max(r.DurationSeconds, 1e-3)
	x := func(s float64) float64 { return left + plotW*s/dur }

	var b bytes.Buffer
	esc := func(s string) string {
		var e bytes.Buffer
		_ = xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	all := r.Journeys[len(r.Journeys)-1]
	title := fmt.Sprintf("orange load: %s", r.Profile)
	desc := fmt.Sprintf("Journeys against %s, mix %s. Offered %d (%.1f per second), ok %d (%.1f per second). "+
		"All journeys: p50 %s, p99 %s, max %s. Upper chart: journey latency p50 and p99 in milliseconds by intended send time; "+
		"lower chart: offered, sent and ok journeys per second.",
		r.Target, r.Mix, r.Offered.Count, r.Offered.PerSecond, r.Achieved.Count, r.Achieved.PerSecond,
		msText(all.Latency.P50), msText(all.Latency.P99), msText(all.Latency.Max))
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="title desc" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, "<title id=\"title\">%s</title>\n<desc id=\"desc\">%s</desc>\n", esc(title), esc(desc))
	fmt.Fprintf(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n<text x=\"%.0f\" y=\"24\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", left, esc(title))

	type series struct {
		name, color, dash string
		v                 func(Bucket) float64
		sparse            bool // only where journeys were sent
	}
	panel := func(y0 float64, label string, ss []series) {
		var hi float64
		for _, t := range r.Timeline {
			for _, s := range ss {
				hi = math.Max(hi, s.v(t))
			}
		}
		step := niceStep(hi / 4)
		hi = math.Max(step*math.Ceil(hi/step), step)
		y := func(v float64) float64 { return y0 + panelH - panelH*v/hi }
		fmt.Fprintf(&b, "<g aria-hidden=\"true\">\n<text x=\"%.0f\" y=\"%.0f\">%s</text>\n", left, y0-10, esc(label))
		for v := 0.0; v <= hi+step/2; v += step {
			fmt.Fprintf(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
				left, left+plotW, y(v), y(v), left-6, y(v)+4, trimNum(v))
		}
		tstep := niceStep(dur / 8)
		for t := 0.0; t <= dur+tstep/100; t += tstep {
			fmt.Fprintf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%ss</text>\n", x(t), y0+panelH+16, trimNum(t))
		}
		fmt.Fprintf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n", left, y0, plotW, panelH)
		lx := left + plotW - 110*float64(len(ss))
		for i, s := range ss {
			// A latency line breaks where nothing was sent: no journey, no latency (not 0 ms).
			var segs [][]string
			var pts []string
			for _, t := range r.Timeline {
				if s.sparse && t.SentPerSecond == 0 {
					if len(pts) > 0 {
						segs, pts = append(segs, pts), nil
					}
					continue
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(t.AtSeconds), y(s.v(t))))
			}
			if len(pts) > 0 {
				segs = append(segs, pts)
			}
			for _, seg := range segs {
				fmt.Fprintf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"%s\" points=\"%s\"/>\n", s.color, s.dash, strings.Join(seg, " "))
			}
			fx := lx + 110*float64(i)
			fmt.Fprintf(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
				fx, fx+24, y0-14, y0-14, s.color, s.dash, fx+28, y0-10, esc(s.name))
		}
		b.WriteString("</g>\n")
	}
	panel(top+10, "journey latency (ms, from the intended send time)", []series{
		{"p50", "#1f77b4", "none", func(t Bucket) float64 { return t.P50Ms }, true},
		{"p99", "#d62728", "6 3", func(t Bucket) float64 { return t.P99Ms }, true},
	})
	panel(top+10+panelH+gap, "journeys per second", []series{
		{"offered", "#7f7f7f", "2 3", func(t Bucket) float64 { return t.OfferedPerSecond }, false},
		{"sent", "#1f77b4", "none", func(t Bucket) float64 { return t.SentPerSecond }, false},
		{"ok", "#2ca02c", "6 3", func(t Bucket) float64 { return t.OKPerSecond }, false},
	})
	fmt.Fprintf(&b, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" aria-hidden=\"true\">time since the start (s)</text>\n</svg>\n",
		left+plotW/2, height-12)
	_, err := w.Write(b.Bytes())
	return err
}

// niceStep rounds v up to 1, 2 or 5 × a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 || math.IsNaN(v) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func trimNum(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
