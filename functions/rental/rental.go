// Package rental holds the rental vocabulary every function checks input against: the vehicle
// categories, the shape of a branch code, and the days a rental is charged for. It imports nothing of the project, so any
// function (and any contract package) may use it without a cycle.
package rental

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// categories are the vehicle categories of the original system, smallest first
// (design.md §4).
var categories = []string{"KLEIN", "KOMPAKT", "MITTEL", "OBER", "SUV", "KOMBI", "TRANS", "LUXUS"}

// Categories returns the vehicle categories, smallest first; the slice is the caller's own.
func Categories() []string { return slices.Clone(categories) }

// ValidCategory reports whether c is a vehicle category (in canonical upper case).
func ValidCategory[S ~string](c S) bool { return slices.Contains(categories, string(c)) }

// CategoryList is the categories as a message names them: "KLEIN, KOMPAKT, …".
func CategoryList() string { return strings.Join(categories, ", ") }

// branchCode is a branch code such as BER-HBF: three letters, a dash, two to four letters or
// digits.
var branchCode = regexp.MustCompile(`^[A-Z]{3}-[A-Z0-9]{2,4}$`)

// ValidBranchCode reports whether code has the shape of a branch code such as BER-HBF (in
// canonical upper case). Whether the branch exists is the locations function's business.
func ValidBranchCode(code string) bool { return branchCode.MatchString(code) }

// GracePeriod is how far a rental may run into a new 24-hour period before that period is
// charged: a return up to an hour late costs nothing, and the hour a rental gains when clocks
// go back in October is absorbed.
const GracePeriod = time.Hour

// BillableDays is the number of 24-hour periods a rental is charged for: every started
// period counts, except that the last one is free while it has run for at most GracePeriod;
// at least 1. Periods are elapsed time, not calendar days, so a rental over a clock change is
// charged by the hours it really lasts. Pricing charges by it and reports count rented
// car-days by it: one unit, the daily rate's.
func BillableDays(pickupAt, returnAt time.Time) int {
	d := returnAt.Sub(pickupAt) - GracePeriod
	if d <= 0 {
		return 1
	}
	const day = 24 * time.Hour
	return int((d + day - 1) / day)
}

// LatestPickup is the latest pickup bookable at now: two calendar years ahead. It catches a
// typed 3025 without refusing any real early booking; pricing, the search and reservations
// hold a pickup to the same day (730 × 24 h fell a day short whenever a 29 February lay
// between).
func LatestPickup(now time.Time) time.Time { return now.AddDate(2, 0, 0) }

// TooFarAhead is the reason for a pickup after LatestPickup.
const TooFarAhead = "must be at most two years ahead"

// VATPercent is the German standard VAT rate every amount of a rental carries.
const VATPercent = 19

// VATOf is the VAT on a net amount (not negative), rounded half up once: pricing's rule for a
// quote's total, payments' for the return charges it invoices (docs/pricing.md).
func VATOf(net int64) int64 { return (net*VATPercent*2 + 100) / 200 }
