package notifier

import (
	"strconv"
	"strings"
	"time"
)

// money formats integer cents in lang's convention: "1.234,56 €" in German, "€1,234.56" in
// English. Other currencies show their code in the symbol's place.
func money(cents int64, currency, lang string) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	units, rest := cents/100, cents%100
	group, decimal := ".", ","
	if lang == English {
		group, decimal = ",", "."
	}
	digits := strconv.FormatInt(units, 10)
	var b strings.Builder
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteRune(r)
	}
	amount := b.String() + decimal + pad2(rest)
	currency = strings.ToUpper(strings.TrimSpace(currency))
	symbol := currency
	if currency == "" || currency == "EUR" {
		symbol = "€"
	}
	switch {
	case lang == English && symbol == "€":
		return sign + "€" + amount
	case lang == English:
		return sign + symbol + " " + amount
	default:
		return sign + amount + " " + symbol
	}
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// when formats an RFC 3339 timestamp of a payload in zone for lang: "02.01.2026, 10:00 Uhr"
// or "2 Jan 2026, 10:00". Anything unparseable is shown as it came.
func when(raw string, zone *time.Location, lang string) string {
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return raw
	}
	t = t.In(zone)
	if lang == English {
		return t.Format("2 Jan 2006, 15:04")
	}
	return t.Format("02.01.2006, 15:04") + " Uhr"
}

// reference is the short form of a reservation id a subject shows.
func reference(id string) string {
	if len(id) > 8 {
		id = id[:8]
	}
	return strings.ToUpper(id)
}
