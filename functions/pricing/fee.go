package pricing

import (
	"fmt"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// FeeRequest is the body of POST /api/pricing/cancellation-fee.
type FeeRequest struct {
	PickupAt string `json:"pickupAt"`
	// CancelledAt defaults to now; a later time answers "what if I cancel then".
	CancelledAt string `json:"cancelledAt,omitempty"`
	// TotalGrossCents is what the booking costs, VAT included; the fee is a share of it.
	TotalGrossCents *int64 `json:"totalGrossCents"`
}

// FeeResponse is a cancellation fee with the inputs it was computed from (cancelledAt
// filled in when the request left it to the clock).
type FeeResponse struct {
	PickupAt          time.Time `json:"pickupAt"`
	CancelledAt       time.Time `json:"cancelledAt"`
	TotalGrossCents   int64     `json:"totalGrossCents"`
	HoursBeforePickup int64     `json:"hoursBeforePickup"`
	FeePercent        int       `json:"feePercent"`
	FeeCents          int64     `json:"feeCents"`
	Currency          string    `json:"currency"`
}

// validate checks every field at once; an empty cancelledAt means now.
func (f FeeRequest) validate(now time.Time) (pickupAt, cancelledAt time.Time, total int64, err error) {
	var errs fieldErrors
	pickupAt, _ = errs.timeField("pickupAt", f.PickupAt)
	cancelledAt = now
	if strings.TrimSpace(f.CancelledAt) != "" {
		cancelledAt, _ = errs.timeField("cancelledAt", f.CancelledAt)
	}
	if f.TotalGrossCents == nil || *f.TotalGrossCents < 0 || *f.TotalGrossCents > MaxTotalGrossCents {
		errs.add("totalGrossCents", fmt.Sprintf("required, gross cents from 0 to %d", MaxTotalGrossCents))
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
