package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
)

// price asks pricing for every candidate's price for the period and returns the prices by
// vehicle id and the days charged. Any failure — pricing unreachable, slower than
// FLEET_PRICING_TIMEOUT, answering other than 2xx, or without a valid price for every
// candidate — is one unavailable error (503): the search cannot show prices, and a price it
// cannot show must not be guessed.
func (s *Service) price(ctx context.Context, q SearchQuery, cands []Vehicle) (map[string]pricingapi.RateResult, int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PricingTimeout)
	defer cancel()
	req := pricingapi.RatesRequest{PickupLocation: q.LocationCode,
		PickupAt: q.PickupAt.Format(time.RFC3339Nano), ReturnAt: q.ReturnAt.Format(time.RFC3339Nano)}
	for _, v := range cands {
		req.Items = append(req.Items, pricingapi.RatesItem{Key: v.ID, Category: string(v.Category), DailyRateNetCents: v.DailyRateNetCents})
	}
	out, err := s.pricing.Rates(ctx, req)
	if err != nil {
		return nil, 0, pricingUnavailable(err)
	}
	prices := make(map[string]pricingapi.RateResult, len(out.Items))
	for _, it := range out.Items {
		prices[it.Key] = it
	}
	for _, it := range req.Items {
		pr, ok := prices[it.Key]
		if !ok || pr.TotalGrossCents < 0 || pr.DailyGrossCents < 0 {
			return nil, 0, pricingUnavailable(fmt.Errorf("pricing gave no valid price for item %s", it.Key))
		}
	}
	if out.Days < 1 {
		return nil, 0, pricingUnavailable(fmt.Errorf("pricing answered %d days", out.Days))
	}
	return prices, out.Days, nil
}

// pricingUnavailable is the caller-safe error for any pricing failure; the cause is logged.
func pricingUnavailable(cause error) error {
	return &platform.Error{Kind: platform.KindUnavailable, Message: "prices cannot be calculated right now; please try again shortly", Err: cause}
}
