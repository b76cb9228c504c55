package reports

import (
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// csvHeader names the CSV columns (the JSON names of Row).
var csvHeader = []string{"period", "branch", "category", "availableCarDays", "rentedCarDays", "utilisation",
	"revenueNetCents", "revenueVatCents", "revenueGrossCents", "rentalNetCents", "feeNetCents", "adrCents",
	"revpacCents", "bookings", "cancellations", "cancellationFeeCents", "noShows", "averageLeadTimeDays", "oneWayShare"}

func csvRecord(period, branch, category string, f Figures) []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	fl := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	return []string{period, cell(branch), cell(category), i(f.AvailableCarDays), i(f.RentedCarDays), fl(f.Utilisation),
		i(f.RevenueNetCents), i(f.RevenueVatCents), i(f.RevenueGrossCents), i(f.RentalNetCents), i(f.FeeNetCents),
		i(f.ADRCents), i(f.RevPACCents), i(f.Bookings), i(f.Cancellations), i(f.CancellationFeeCents), i(f.NoShows),
		fl(f.AverageLeadTimeDays), fl(f.OneWayShare)}
}

// cell keeps a text cell from being read as a formula by a spreadsheet (a code that
// begins with =, +, -, @, a tab or a carriage return gets a leading apostrophe).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// writeCSV writes the rows and a last "total" row (RFC 4180).
func writeCSV(w http.ResponseWriter, rep Report) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="report-%s-%s.csv"`, rep.From, rep.To))
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	for _, r := range rep.Rows {
		_ = cw.Write(csvRecord(r.Period, r.Branch, r.Category, r.Figures))
	}
	_ = cw.Write(csvRecord("total", rep.Branch, rep.Category, rep.Total))
	cw.Flush()
	return cw.Error()
}

// Chart geometry (SVG user units).
const (
	chartW, chartH         = 800, 360
	padL, padR, padT, padB = 70, 70, 40, 50
)

// writeSVG draws utilisation (line, left axis 0–100 %) and net revenue (bars, right axis)
// per day: hand-written SVG with a title and a description for screen readers, no script.
func writeSVG(w http.ResponseWriter, rep Report) error {
	type day struct {
		util    float64
		revenue int64
	}
	// Every day of the period has its place, days without cars or revenue included.
	var labels []string
	byDay := map[string]*Figures{}
	from, _ := time.Parse(dateLayout, rep.From)
	to, _ := time.Parse(dateLayout, rep.To)
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		labels = append(labels, d.Format(dateLayout))
		byDay[d.Format(dateLayout)] = &Figures{}
	}
	for _, r := range rep.Rows {
		if f := byDay[r.Period]; f != nil {
			f.add(&r.Figures)
		}
	}
	series := make([]day, len(labels))
	var maxRev int64 = 1
	for i, l := range labels {
		f := byDay[l]
		f.finish()
		series[i] = day{f.Utilisation, f.RevenueNetCents}
		maxRev = max(maxRev, f.RevenueNetCents)
	}
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	var b strings.Builder
	scope := "all branches and categories"
	if rep.Branch != "" || rep.Category != "" {
		scope = strings.TrimSpace("branch " + or(rep.Branch, "all") + ", category " + or(rep.Category, "all"))
	}
	title := fmt.Sprintf("Utilisation and net revenue per day, %s to %s", rep.From, rep.To)
	desc := fmt.Sprintf("%s (%s, %s): utilisation %.1f %% over %d days, net revenue %s %s; bars are net revenue per day (right axis), the line utilisation (left axis).",
		title, scope, rep.Zone, rep.Total.Utilisation*100, len(labels), money(rep.Total.RevenueNetCents), rep.Currency)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="title desc">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, "<title id=\"title\">%s</title>\n<desc id=\"desc\">%s</desc>\n", html.EscapeString(title), html.EscapeString(desc))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", chartW, chartH)
	// Axes and grid: 0, 25, 50, 75, 100 % on the left, the revenue at the same heights right.
	for i := 0; i <= 4; i++ {
		y := float64(padT) + plotH*(1-float64(i)/4)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", padL, y, chartW-padR, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" font-family="sans-serif">%d %%</text>`+"\n", padL-6, y+4, i*25)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" font-family="sans-serif">%s</text>`+"\n", chartW-padR+6, y+4, money(maxRev*int64(i)/4))
	}
	n := max(len(series), 1)
	slot := plotW / float64(n)
	var points []string
	for i, d := range series {
		x := float64(padL) + slot*float64(i)
		h := plotH * float64(d.revenue) / float64(maxRev)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#f80" opacity="0.6"><title>%s: %s %s</title></rect>`+"\n",
			x+slot*0.1, float64(padT)+plotH-h, slot*0.8, h, labels[i], money(d.revenue), rep.Currency)
		points = append(points, fmt.Sprintf("%.1f,%.1f", x+slot/2, float64(padT)+plotH*(1-min(d.util, 1))))
		if n <= 31 || i%7 == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle" font-family="sans-serif">%s</text>`+"\n",
				x+slot/2, chartH-padB+14, labels[i][5:])
		}
	}
	if len(points) > 0 {
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#036" stroke-width="2"/>`+"\n", strings.Join(points, " "))
	}
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="13" font-family="sans-serif">Utilisation (line, left) and net revenue in %s (bars, right)</text>`+"\n", padL, rep.Currency)
	b.WriteString("</svg>\n")
	w.Header().Set("Content-Type", "image/svg+xml; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte(b.String()))
	return err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// money writes cents as euros with two decimals.
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}
