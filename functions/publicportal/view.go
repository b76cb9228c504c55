package publicportal

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform/web"
)

// The pages' templates get text ready to print: html/template's functions are platform/web's,
// so amounts and times are formatted here, in the request's language.

// money formats cents as a German or English reader writes euros: "1.234,56 €", "€1,234.56".
func money(lang string, cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	whole, frac := cents/100, cents%100
	digits := strconv.FormatInt(whole, 10)
	sep, dec := ",", "."
	if lang == "de" {
		sep, dec = ".", ","
	}
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(d)
	}
	if lang == "de" {
		return fmt.Sprintf("%s%s%s%02d\u00a0€", sign, b.String(), dec, frac)
	}
	return fmt.Sprintf("%s€%s%s%02d", sign, b.String(), dec, frac)
}

var (
	deDays   = []string{"So.", "Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa."}
	deMonths = []string{"", "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sep.", "Okt.", "Nov.", "Dez."}
)

// when formats an instant on the branch's clock: "Mo., 7. Dez. 2026, 10:00" or
// "Mon 7 Dec 2026, 10:00".
func when(lang string, t time.Time, zone *time.Location) string {
	if zone != nil {
		t = t.In(zone)
	}
	if lang == "de" {
		return fmt.Sprintf("%s %d. %s %d, %s", deDays[t.Weekday()], t.Day(), deMonths[t.Month()], t.Year(), t.Format("15:04"))
	}
	return t.Format("Mon 2 Jan 2006, 15:04")
}

// localInput is t as a datetime-local input shows it, on zone's clock.
func localInput(t time.Time, zone *time.Location) string { return t.In(zone).Format(localLayout) }

// lineView is a priced line ready to print.
type lineView struct {
	Code, Description string
	Quantity          int
	Net               string
}

// totalsView is a price's lines and sums.
type totalsView struct {
	Lines           []lineView
	Net, VAT, Gross string
	VATLabel        string
	// ReturnLines are the return's charges (net), Added what the return added (gross: a late
	// fee, the charges with their VAT) and Billed the total with it; all empty before a return
	// that added nothing. They follow the booking's own totals, which they are not part of.
	ReturnLines   []lineView
	Added, Billed string
}

func totals(p *web.Request, lines []Line, net, vat, gross int64, vatPercent int) totalsView {
	v := totalsView{Net: money(p.Lang, net), VAT: money(p.Lang, vat), Gross: money(p.Lang, gross),
		VATLabel: p.T("quote.vat", vatPercent)}
	for _, l := range lines {
		v.Lines = append(v.Lines, lineView{Code: l.Code, Description: p.LineName(l.Code, l.Quantity, l.Description), Quantity: l.Quantity, Net: money(p.Lang, l.NetCents)})
	}
	return v
}

// option is one <option> or radio of a choice.
type option struct {
	Value, Label string
	Selected     bool
}

func options(p *web.Request, prefix string, values []string, chosen string) []option {
	out := make([]option, 0, len(values))
	for _, v := range values {
		label := v
		if prefix != "" {
			label = p.T(prefix + v)
		}
		out = append(out, option{Value: v, Label: label, Selected: v == chosen})
	}
	return out
}

func branchOptions(bs []Branch, chosen string) []option {
	out := make([]option, 0, len(bs))
	for _, b := range bs {
		out = append(out, option{Value: b.Code, Label: b.Name + " (" + b.Code + ")", Selected: b.Code == chosen})
	}
	return out
}

// statusText is a booking's status in words.
func statusText(p *web.Request, status string) string { return p.T("status." + status) }

// selectView is a labelled <select> for the "select" template: Any, when set, is the
// label of the empty choice.
type selectView struct {
	Form             *web.Form
	Name, Label, Any string
	Options          []option
}
