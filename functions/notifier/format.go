package notifier

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/locations/locationsapi"
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
	t, err := time.Parse(time.RFC3339Nano, raw)
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

// A branch's time zone is read from locations-api and kept for branchTTL: branches do not
// move between zones, and a mail must not wait on a call per event.
const (
	branchTTL     = 10 * time.Minute
	branchTimeout = 5 * time.Second
)

// branchZones are the time zones a booking's pickup and return are shown in: each branch's
// own (a renter reads "10:00" on the branch's clock), the company's zone for a branch
// locations-api does not know (any more). locations-api unreachable is an error: the event
// is retried rather than mailed with a wrong time.
func (s *Service) branchZones(ctx context.Context, pickup, ret string) (*time.Location, *time.Location, error) {
	p, err := s.branchZone(ctx, pickup)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.branchZone(ctx, ret)
	return p, r, err
}

func (s *Service) branchZone(ctx context.Context, code string) (*time.Location, error) {
	if s.branches == nil || code == "" {
		return s.zone, nil
	}
	b, err := s.branches.Location(ctx, code)
	if errors.Is(err, locationsapi.ErrUnknown) {
		return s.zone, nil
	}
	if err != nil {
		return nil, fmt.Errorf("time zone of branch %s: %w", code, err)
	}
	return b.Zone()
}
