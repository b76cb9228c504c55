package pricing

import (
	"fmt"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
)

// The cancellation-fee operation's types are the contract's.
type (
	// FeeRequest is the body of POST /api/pricing/cancellation-fee.
	FeeRequest = pricingapi.FeeRequest
	// FeeResponse is a cancellation fee with the inputs it was computed from.
	FeeResponse = pricingapi.FeeResponse
)

// validateFee checks every field of f at once; an empty cancelledAt means now.
func validateFee(f FeeRequest, now time.Time) (pickupAt, cancelledAt time.Time, total int64, err error) {
	var errs platform.FieldErrors
	pickupAt, _ = checkTime(&errs, "pickupAt", f.PickupAt)
	cancelledAt = now
	if strings.TrimSpace(f.CancelledAt) != "" {
		cancelledAt, _ = checkTime(&errs, "cancelledAt", f.CancelledAt)
	}
	if f.TotalGrossCents == nil || *f.TotalGrossCents < 0 || *f.TotalGrossCents > MaxTotalGrossCents {
		errs.Add("totalGrossCents", fmt.Sprintf("required, gross cents from 0 to %d", MaxTotalGrossCents))
	} else {
		total = *f.TotalGrossCents
	}
	if len(errs) > 0 {
		return time.Time{}, time.Time{}, 0, platform.Invalid("the cancellation-fee request is invalid", errs...)
	}
	return pickupAt, cancelledAt, total, nil
}

// cancellationFee applies CancellationFee and reports it with its inputs.
func cancellationFee(pickupAt, cancelledAt time.Time, total int64) FeeResponse {
	f := CancellationFee(pickupAt, cancelledAt, total)
	return FeeResponse{PickupAt: pickupAt, CancelledAt: cancelledAt, TotalGrossCents: total,
		HoursBeforePickup: f.HoursBeforePickup, FeePercent: f.FeePercent, FeeCents: f.FeeCents, Currency: Currency}
}
