package pricing

import (
	"fmt"
	"time"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/functions/rental"
)

// This file is the arithmetic of prices: pure functions of their arguments (no clock, no
// database), so their tables of hand-computed cases pin every rule down.
//
// The one rounding rule: every line's net amount is an exact number of cents (unit price ×
// quantity); the only division, a percentage (duration discount, VAT, cancellation fee), is
// rounded half up to the cent, once, on the amount it applies to. VAT is 19 % of the total
// net, rounded half up; gross = net + VAT. So the lines add up to the net total to the cent,
// and net + VAT = gross exactly. (Per-day gross figures shown for information are derived
// from those amounts, rounded half up; totals are never computed from them.)

const day = 24 * time.Hour

// BillableDays is the number of 24-hour periods a rental is charged for (rental.BillableDays:
// reports count rented car-days by the same rule).
func BillableDays(pickupAt, returnAt time.Time) int { return rental.BillableDays(pickupAt, returnAt) }

// DiscountPercent is the duration discount for a rental of days (0 below the first tier).
func DiscountPercent(days int) int {
	for _, t := range DurationDiscounts {
		if days >= t.MinDays {
			return t.Percent
		}
	}
	return 0
}

// percentOf is percent % of a non-negative amount, rounded half up to the cent.
func percentOf(cents int64, percent int) int64 {
	return (cents*int64(percent) + 50) / 100
}

// VATCents is the VAT on a net amount: 19 %, rounded half up (rental.VATOf, payments' rule too).
func VATCents(netCents int64) int64 { return rental.VATOf(netCents) }

// GrossCents is a net amount plus its VAT.
func GrossCents(netCents int64) int64 { return netCents + VATCents(netCents) }

// RentalPrice is the price of the base rental alone (no extras, insurance or fees): what the
// rates endpoint returns per vehicle.
type RentalPrice struct {
	Days          int
	DailyNetCents int64
	// DailyGrossCents is the average gross price per day, discount included: GrossCents /
	// Days, rounded half up. It is what a search shows and filters by.
	DailyGrossCents int64
	BaseNetCents    int64 // daily rate × days
	DiscountPercent int
	DiscountCents   int64
	NetCents        int64 // base − discount
	VATCents        int64
	GrossCents      int64
}

// PriceRental prices days at dailyNetCents a day, with the duration discount.
func PriceRental(days int, dailyNetCents int64) RentalPrice {
	p := RentalPrice{Days: days, DailyNetCents: dailyNetCents}
	p.BaseNetCents = int64(days) * dailyNetCents
	p.DiscountPercent = DiscountPercent(days)
	p.DiscountCents = percentOf(p.BaseNetCents, p.DiscountPercent)
	p.NetCents = p.BaseNetCents - p.DiscountCents
	p.VATCents = VATCents(p.NetCents)
	p.GrossCents = p.NetCents + p.VATCents
	p.DailyGrossCents = (2*p.GrossCents + int64(days)) / (2 * int64(days)) // half up
	return p
}

// Line is one row of a quote (the contract's type). NetCents = Quantity × UnitNetCents
// always; for a per-day price the quantity counts item-days (2 child seats for 5 days: 10 ×
// 8.00 €).
type Line = pricingapi.Line

func newLine(code, description string, quantity int, per Per, unit int64) Line {
	return Line{Code: code, Description: description, Quantity: quantity, Per: per, UnitNetCents: unit, NetCents: int64(quantity) * unit}
}

// ExtraChoice is a catalogue extra and how many of it.
type ExtraChoice struct {
	Extra    Extra
	Quantity int
}

// QuoteSpec is a validated quote request with its daily rate resolved.
type QuoteSpec struct {
	Category      Category
	Days          int
	DailyNetCents int64
	Insurance     Insurance
	Extras        []ExtraChoice // in catalogue order
	OneWay        bool
}

// Breakdown is a priced quote: its lines add up to NetCents.
type Breakdown struct {
	Lines           []Line
	DiscountPercent int
	NetCents        int64
	VATCents        int64
	GrossCents      int64
}

// PriceQuote prices a rental with its insurance, extras and one-way fee. Lines come in a
// fixed order: rental, duration discount, insurance, extras (catalogue order), one-way fee.
// The duration discount applies to the base rental only.
func PriceQuote(s QuoteSpec) Breakdown {
	rental := PriceRental(s.Days, s.DailyNetCents)
	b := Breakdown{DiscountPercent: rental.DiscountPercent}
	b.Lines = append(b.Lines, newLine("RENTAL", fmt.Sprintf("Daily rate %s (%s)", s.Category, plural(s.Days, "day")), s.Days, PerDay, s.DailyNetCents))
	if rental.DiscountCents > 0 {
		b.Lines = append(b.Lines, newLine("DURATION_DISCOUNT", fmt.Sprintf("Duration discount %d %% (%s or more)", rental.DiscountPercent, plural(minDaysOf(rental.DiscountPercent), "day")), 1, PerRental, -rental.DiscountCents))
	}
	b.Lines = append(b.Lines, newLine("INSURANCE_"+s.Insurance.Code, s.Insurance.Description, s.Days, PerDay, s.Insurance.DailyNetCents))
	for _, c := range s.Extras {
		if c.Extra.Per == PerDay {
			b.Lines = append(b.Lines, newLine(c.Extra.Code, fmt.Sprintf("%s (%d × %s)", c.Extra.Description, c.Quantity, plural(s.Days, "day")), c.Quantity*s.Days, PerDay, c.Extra.NetCents))
		} else {
			b.Lines = append(b.Lines, newLine(c.Extra.Code, fmt.Sprintf("%s (%d ×)", c.Extra.Description, c.Quantity), c.Quantity, PerRental, c.Extra.NetCents))
		}
	}
	if s.OneWay {
		b.Lines = append(b.Lines, newLine("ONE_WAY_FEE", "One-way fee (return at another branch)", 1, PerRental, OneWayFeeNetCents))
	}
	for _, l := range b.Lines {
		b.NetCents += l.NetCents
	}
	b.VATCents = VATCents(b.NetCents)
	b.GrossCents = b.NetCents + b.VATCents
	return b
}

func minDaysOf(percent int) int {
	for _, t := range DurationDiscounts {
		if t.Percent == percent {
			return t.MinDays
		}
	}
	return 0
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// Fee is a cancellation fee.
type Fee struct {
	// HoursBeforePickup is the time left before pickup in whole hours, rounded down (so
	// 47 h 59 min is 47, and 30 min after pickup is −1): the tiers compare against it.
	HoursBeforePickup int64
	FeePercent        int
	FeeCents          int64
}

// CancellationFee is the fee for cancelling, at cancelledAt, a booking that picks up at
// pickupAt and costs totalGrossCents: ≥ 48 h before pickup free, ≥ 24 h 50 %, later (and
// after pickup) 100 %. The fee is a share of the gross total, rounded half up.
func CancellationFee(pickupAt, cancelledAt time.Time, totalGrossCents int64) Fee {
	left := pickupAt.Sub(cancelledAt)
	h := int64(left / time.Hour)
	if left < 0 && left%time.Hour != 0 {
		h-- // round toward minus infinity, not toward zero
	}
	f := Fee{HoursBeforePickup: h}
	for _, t := range CancellationTiers {
		if t.MinHoursBeforePickup == nil || left >= time.Duration(*t.MinHoursBeforePickup)*time.Hour {
			f.FeePercent = t.FeePercent
			break
		}
	}
	f.FeeCents = percentOf(totalGrossCents, f.FeePercent)
	return f
}
