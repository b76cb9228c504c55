package pricing

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
)

// MaxRatesItems bounds one rates request (a page of availability search results fits); the
// contract's, which callers split a longer list by.
const MaxRatesItems = pricingapi.MaxRatesItems

// maxKeyLength bounds an item's opaque key (a vehicle id is 36 characters).
const maxKeyLength = 200

// The rates operation's types are the contract's: POST /api/pricing/rates is the batch
// calculator the fleet's availability search calls, one item per kind of price (a category,
// or a category with a car's own rate), not per car: fleet maps the prices onto its cars.
type (
	// RatesRequest is the body: the period and branch, and the items to price.
	RatesRequest = pricingapi.RatesRequest
	// RatesItem is one vehicle to price.
	RatesItem = pricingapi.RatesItem
	// RatesResponse prices every item of a request, in request order.
	RatesResponse = pricingapi.RatesResponse
	// RateResult is one item's base rental price.
	RateResult = pricingapi.RateResult
)

// ratesInput is a validated RatesRequest.
type ratesInput struct {
	location           string
	pickupAt, returnAt time.Time
	items              []RatesItem // categories canonical
}

// validateRates checks every field of r at once against the clock now.
func validateRates(r RatesRequest, now time.Time) (ratesInput, error) {
	var errs platform.FieldErrors
	in := ratesInput{location: checkLocation(&errs, "pickupLocation", r.PickupLocation)}
	in.pickupAt, in.returnAt = checkPeriod(&errs, r.PickupAt, r.ReturnAt, now)
	if len(r.Items) < 1 || len(r.Items) > MaxRatesItems {
		errs.Add("items", fmt.Sprintf("from 1 to %d items", MaxRatesItems))
	} else {
		in.items = make([]RatesItem, len(r.Items))
		for i, it := range r.Items {
			field := fmt.Sprintf("items[%d]", i)
			if strings.TrimSpace(it.Key) == "" || len(it.Key) > maxKeyLength {
				errs.Add(field+".key", fmt.Sprintf("required, at most %d characters", maxKeyLength))
			}
			in.items[i] = it
			in.items[i].Category = string(checkCategory(&errs, field+".category", it.Category))
			if it.DailyRateNetCents != nil {
				checkDailyRate(&errs, field+".dailyRateNetCents", *it.DailyRateNetCents)
			}
		}
	}
	if len(errs) > 0 {
		return ratesInput{}, platform.Invalid("the rates request is invalid", errs...)
	}
	return in, nil
}

// rates prices every item: an item's own rate if it has one, else the policy valid at pickup
// for its category at the branch (else the general one). Items no policy prices make the
// whole request fail, naming each of them: a vehicle without a price must not silently drop
// out of a search.
func (s *Service) rates(ctx context.Context, in ratesInput) (RatesResponse, error) {
	var need []Category
	for _, it := range in.items {
		if it.DailyRateNetCents == nil {
			need = append(need, Category(it.Category))
		}
	}
	policies := map[Category]policyRate{}
	if len(need) > 0 {
		var err error
		if policies, err = s.store.RatesAt(ctx, in.location, in.pickupAt, need); err != nil {
			return RatesResponse{}, err
		}
	}
	days := BillableDays(in.pickupAt, in.returnAt)
	out := RatesResponse{Days: days, Items: make([]RateResult, len(in.items))}
	var missing []platform.FieldError
	for i, it := range in.items {
		c := Category(it.Category)
		var daily int64
		if it.DailyRateNetCents != nil {
			daily = *it.DailyRateNetCents
		} else if p, ok := policies[c]; ok {
			daily = p.DailyNetCents
		} else {
			missing = append(missing, platform.FieldError{Field: fmt.Sprintf("items[%d].category", i), Reason: "no active rate policy for " + string(c)})
			continue
		}
		p := PriceRental(days, daily)
		out.Items[i] = RateResult{Key: it.Key, Category: c, DailyNetCents: daily, DiscountPercent: p.DiscountPercent,
			TotalNetCents: p.NetCents, TotalVATCents: p.VATCents, TotalGrossCents: p.GrossCents, DailyGrossCents: p.DailyGrossCents}
	}
	if len(missing) > 0 {
		return RatesResponse{}, &platform.Error{Kind: platform.KindNotFound, Fields: missing,
			Message: fmt.Sprintf("no active rate policy prices some categories at %s on %s", in.location, in.pickupAt.UTC().Format(time.RFC3339))}
	}
	return out, nil
}
