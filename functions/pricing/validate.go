package pricing

import (
	"fmt"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// fieldErrors collects every invalid field of a request, so a form can show them together.
type fieldErrors []platform.FieldError

func (e *fieldErrors) add(field, reason string) {
	*e = append(*e, platform.FieldError{Field: field, Reason: reason})
}

const timeReason = "required, an RFC 3339 time such as 2026-05-01T10:00:00+02:00"

// parseTime parses an RFC 3339 time (fractional seconds allowed).
func parseTime(raw string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(raw))
	return t, err == nil
}

// timeField parses a required time field, recording an error when it is missing or malformed.
func (e *fieldErrors) timeField(field, raw string) (time.Time, bool) {
	t, ok := parseTime(raw)
	if !ok {
		e.add(field, timeReason)
	}
	return t, ok
}

// period checks a rental period against the rules every price shares: pickup not in the
// past (beyond PickupTolerance) nor more than MaxAdvance ahead, return after pickup and at
// most MaxRentalDuration later.
func (e *fieldErrors) period(pickupRaw, returnRaw string, now time.Time) (pickupAt, returnAt time.Time) {
	pickupAt, pickupOK := e.timeField("pickupAt", pickupRaw)
	returnAt, returnOK := e.timeField("returnAt", returnRaw)
	if pickupOK {
		switch {
		case pickupAt.Before(now.Add(-PickupTolerance)):
			e.add("pickupAt", fmt.Sprintf("must not be in the past (%d minutes of tolerance)", int(PickupTolerance/time.Minute)))
		case pickupAt.After(now.Add(MaxAdvance)):
			e.add("pickupAt", "must be at most 2 years ahead")
		}
	}
	if pickupOK && returnOK {
		switch d := returnAt.Sub(pickupAt); {
		case d <= 0:
			e.add("returnAt", "must be after pickupAt")
		case d > MaxRentalDuration:
			e.add("returnAt", fmt.Sprintf("a rental lasts at most %d days (%d × 24 h)", MaxRentalDays, MaxRentalDays))
		}
	}
	return pickupAt, returnAt
}

// location checks a required branch code, returning it canonical.
func (e *fieldErrors) location(field, raw string) string {
	code := NormalizeLocation(raw)
	if !ValidLocation(code) {
		e.add(field, "required, a branch code such as BER-HBF")
	}
	return code
}

// category checks a required vehicle category, returning it canonical.
func (e *fieldErrors) category(field, raw string) Category {
	c, ok := ParseCategory(raw)
	if !ok {
		e.add(field, "must be one of KLEIN, KOMPAKT, MITTEL, OBER, SUV, KOMBI, TRANS, LUXUS")
	}
	return c
}

// dailyRate checks a daily net rate in cents.
func (e *fieldErrors) dailyRate(field string, cents int64) {
	if cents < 1 || cents > MaxDailyRateNetCents {
		e.add(field, fmt.Sprintf("required, net cents from 1 to %d", MaxDailyRateNetCents))
	}
}
