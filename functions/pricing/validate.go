package pricing

import (
	"fmt"
	"time"

	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
)

// parseTime parses an RFC 3339 time (platform.ParseTime: fractional seconds rounded to the
// microsecond, the offset within ±23:59).
func parseTime(raw string) (time.Time, bool) {
	t, err := platform.ParseTime(raw)
	return t, err == nil
}

// checkTime parses a required time field, recording an error when it is missing or malformed.
func checkTime(e *platform.FieldErrors, field, raw string) (time.Time, bool) {
	t, ok := parseTime(raw)
	switch {
	case !ok:
		e.Add(field, platform.TimeReason(raw, "2026-05-01T10:00:00+02:00"))
	case t.Year() < 2000 || t.Year() > 2199:
		// A time no booking has: beyond ±292 years the hours between two times are not
		// even representable (a fee for year 1 answered -2,562,048 hours).
		e.Add(field, "must lie between the years 2000 and 2199")
		ok = false
	}
	return t, ok
}

// checkPeriod checks a rental period against the rules every price shares: pickup not in the
// past (beyond PickupTolerance) nor after rental.LatestPickup, return after pickup and at
// most MaxRentalDuration later.
func checkPeriod(e *platform.FieldErrors, pickupRaw, returnRaw string, now time.Time) (pickupAt, returnAt time.Time) {
	pickupAt, pickupOK := checkTime(e, "pickupAt", pickupRaw)
	returnAt, returnOK := checkTime(e, "returnAt", returnRaw)
	if pickupOK {
		switch {
		case pickupAt.Before(now.Add(-PickupTolerance)):
			e.Add("pickupAt", fmt.Sprintf("must not be in the past (%d minutes of tolerance)", int(PickupTolerance/time.Minute)))
		case pickupAt.After(rental.LatestPickup(now)):
			e.Add("pickupAt", rental.TooFarAhead)
		}
	}
	if pickupOK && returnOK {
		switch d := returnAt.Sub(pickupAt); {
		case d <= 0:
			e.Add("returnAt", "must be after pickupAt")
		case d > MaxRentalDuration:
			e.Add("returnAt", fmt.Sprintf("a rental lasts at most %d days (%d × 24 h)", MaxRentalDays, MaxRentalDays))
		}
	}
	return pickupAt, returnAt
}

// checkLocation checks a required branch code, returning it canonical.
func checkLocation(e *platform.FieldErrors, field, raw string) string {
	code := NormalizeLocation(raw)
	if !rental.ValidBranchCode(code) {
		e.Add(field, "required, a branch code such as BER-HBF")
	}
	return code
}

// checkCategory checks a required vehicle category, returning it canonical.
func checkCategory(e *platform.FieldErrors, field, raw string) Category {
	c, ok := ParseCategory(raw)
	if !ok {
		e.Add(field, "must be one of "+rental.CategoryList())
	}
	return c
}

// checkDailyRate checks a daily net rate in cents.
func checkDailyRate(e *platform.FieldErrors, field string, cents int64) {
	if cents < 1 || cents > MaxDailyRateNetCents {
		e.Add(field, fmt.Sprintf("required, net cents from 1 to %d", MaxDailyRateNetCents))
	}
}
