package pricing

import (
	"fmt"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
)

// The return-charges operation's types are the contract's.
type (
	// ReturnChargesRequest is the body of POST /api/pricing/return-charges.
	ReturnChargesRequest = pricingapi.ReturnChargesRequest
	// ReturnChargesResponse is what a return costs on top of the booking.
	ReturnChargesResponse = pricingapi.ReturnChargesResponse
)

// validateReturnCharges checks both fuel levels at once.
func validateReturnCharges(r ReturnChargesRequest) (fuelAtPickup, fuelAtReturn int, err error) {
	var errs platform.FieldErrors
	level := func(field string, v *int) int {
		if v == nil || *v < 0 || *v > FullTank {
			errs.Add(field, fmt.Sprintf("required, eighths of a tank from 0 (empty) to %d (full)", FullTank))
			return 0
		}
		return *v
	}
	fuelAtPickup = level("fuelAtPickup", r.FuelAtPickup)
	fuelAtReturn = level("fuelAtReturn", r.FuelAtReturn)
	if len(errs) > 0 {
		return 0, 0, platform.Invalid("the return-charges request is invalid", errs...)
	}
	return fuelAtPickup, fuelAtReturn, nil
}

// ReturnCharges is what a return costs on top of the booking, in net lines with their VAT:
// REFUEL, missing eighths × RefuelNetCentsPerEighth, when the car came back with less fuel
// than it left with; nothing when the level is the same or higher (more fuel is not paid
// back). Levels are eighths of a tank, 0 to FullTank, already validated.
func ReturnCharges(fuelAtPickup, fuelAtReturn int) ReturnChargesResponse {
	out := ReturnChargesResponse{Lines: []Line{}, Currency: Currency}
	if missing := fuelAtPickup - fuelAtReturn; missing > 0 {
		l := Line{Code: "REFUEL", Description: "Refuelling: " + plural(missing, "eighth") + " of a tank",
			Quantity: missing, Per: PerRental, UnitNetCents: RefuelNetCentsPerEighth,
			NetCents: int64(missing) * RefuelNetCentsPerEighth}
		out.Lines = append(out.Lines, l)
		out.NetCents += l.NetCents
	}
	out.VATCents = VATCents(out.NetCents)
	out.GrossCents = out.NetCents + out.VATCents
	return out
}
