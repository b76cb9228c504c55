package pricing

import (
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/functions/rental"
)

// The pricing rules of the company. They are constants in code, not rows, because a change to
// any of them changes what customers pay and so deserves a review and a release; only the
// daily rates change often enough to be data (rate policies).
const (
	// Currency of every amount; amounts are integer cents.
	Currency = "EUR"
	// VATPercent is the German standard VAT rate applied to every net total.
	VATPercent = rental.VATPercent
	// GracePeriod is how far a rental may run into a new 24-hour period before that period
	// is charged (rental.GracePeriod).
	GracePeriod = rental.GracePeriod
	// MaxRentalDuration is the longest bookable rental (90 × 24 h); the grace period does not
	// extend it.
	MaxRentalDuration = 90 * 24 * time.Hour
	// MaxRentalDays is MaxRentalDuration in days.
	MaxRentalDays = 90
	// PickupTolerance is how far in the past a pickup time may lie, so a walk-in rental keyed
	// in at the counter, or a form submitted a few minutes late, still prices.
	PickupTolerance = 15 * time.Minute
	// OneWayFeeNetCents is charged once when the car is returned at another branch.
	OneWayFeeNetCents int64 = 4900
	// MaxDailyRateNetCents bounds a daily rate (10,000 € a day) so that no total can overflow
	// and a typo (an extra zero or three) is caught.
	MaxDailyRateNetCents int64 = 1_000_000
	// MaxTotalGrossCents bounds the total a cancellation fee is computed on (1,000,000 €).
	MaxTotalGrossCents int64 = 100_000_000
	// FullTank is the fuel gauge's top in eighths: the counter records fuel levels from 0
	// (empty) to 8 (full), as the gauge shows them.
	FullTank = 8
	// RefuelNetCentsPerEighth is charged per eighth of a tank the car came back short of its
	// pickup level: 12.00 € net, whatever the tank's size (a flat rate the counter can
	// explain by the gauge; a big tank costs more to fill, a small car more to drive to the
	// pump per litre, and the two are taken to even out).
	RefuelNetCentsPerEighth int64 = 1200
)

// DurationDiscount is a discount on the base rental (daily rate × days) from a number of
// days on; the highest tier reached applies, tiers do not add up.
type DurationDiscount struct {
	MinDays int `json:"minDays"`
	Percent int `json:"percent"`
}

// DurationDiscounts are the tiers, highest first.
var DurationDiscounts = []DurationDiscount{{MinDays: 28, Percent: 20}, {MinDays: 14, Percent: 15}, {MinDays: 7, Percent: 10}}

// CancellationTier is the fee charged when a booking is cancelled at least MinHours before
// pickup (the last tier, MinHours nil, applies to everything later, after pickup included).
type CancellationTier struct {
	MinHoursBeforePickup *int `json:"minHoursBeforePickup"`
	FeePercent           int  `json:"feePercent"`
}

func atLeastHours(h int) *int { return &h }

// CancellationTiers is the cancellation policy of design.md §4, earliest tier first.
var CancellationTiers = []CancellationTier{
	{MinHoursBeforePickup: atLeastHours(48), FeePercent: 0},
	{MinHoursBeforePickup: atLeastHours(24), FeePercent: 50},
	{MinHoursBeforePickup: nil, FeePercent: 100},
}

// Category is a vehicle category. The list is the fleet's; a rate policy exists per category.
// It is the contract's type.
type Category = pricingapi.Category

// categories are the vehicle categories (rental.Categories), smallest first, in the
// contract's type.
func categories() []Category {
	all := rental.Categories()
	out := make([]Category, len(all))
	for i, c := range all {
		out[i] = Category(c)
	}
	return out
}

// ParseCategory makes a caller's category canonical (upper case) and reports whether it is one.
func ParseCategory(s string) (Category, bool) {
	c := Category(strings.ToUpper(strings.TrimSpace(s)))
	return c, rental.ValidCategory(c)
}

// NormalizeLocation makes a branch code canonical (upper case, trimmed). Pricing checks a
// code's shape only: whether the branch exists is the locations function's business, and a
// quote must not fail because that function is slow or down.
func NormalizeLocation(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
