package fleet

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
)

// price asks pricing for every candidate's price for the period and returns the prices by
// vehicle id and the days charged.
//
// A car's price for a period depends only on its category and its own daily rate (none: the
// category's policy at the branch at pickup), so the call carries one item per distinct
// (category, own rate), not one per car: at most the eight categories plus the distinct own
// rates among the candidates, instead of up to FLEET_SEARCH_MAX_CANDIDATES items each way
// (issue 19: encoding ~200 items to pricing and back was most of a search's Go time). Each
// car then takes its kind's price. The prices are pricing's, computed per call: no cache,
// as pricing publishes no event that would say when a cached rate went stale.
//
// Any failure — pricing unreachable, slower than FLEET_PRICING_TIMEOUT, answering other than
// 2xx, or without a valid price for every item — is one unavailable error (503): the search
// cannot show prices, and a price it cannot show must not be guessed.
func (s *Service) price(ctx context.Context, q SearchQuery, cands []Vehicle) (map[string]pricingapi.RateResult, int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PricingTimeout)
	defer cancel()
	req := pricingapi.RatesRequest{PickupLocation: q.LocationCode,
		PickupAt: q.PickupAt.Format(time.RFC3339Nano), ReturnAt: q.ReturnAt.Format(time.RFC3339Nano)}
	kinds := make(map[string]bool, 16)
	for _, v := range cands {
		k := priceKey(v)
		if !kinds[k] {
			kinds[k] = true
			req.Items = append(req.Items, pricingapi.RatesItem{Key: k, Category: string(v.Category), DailyRateNetCents: v.DailyRateNetCents})
		}
	}
	out, err := s.pricing.Rates(ctx, req)
	if err != nil {
		return nil, 0, pricingUnavailable(err)
	}
	byKind := make(map[string]pricingapi.RateResult, len(out.Items))
	for _, it := range out.Items {
		byKind[it.Key] = it
	}
	for _, it := range req.Items {
		pr, ok := byKind[it.Key]
		if !ok || pr.TotalGrossCents < 0 || pr.DailyGrossCents < 0 {
			return nil, 0, pricingUnavailable(fmt.Errorf("pricing gave no valid price for item %s", it.Key))
		}
	}
	if out.Days < 1 {
		return nil, 0, pricingUnavailable(fmt.Errorf("pricing answered %d days", out.Days))
	}
	prices := make(map[string]pricingapi.RateResult, len(cands))
	for _, v := range cands {
		prices[v.ID] = byKind[priceKey(v)]
	}
	return prices, out.Days, nil
}

// priceKey names what a car's price depends on besides the period and branch: its category,
// or its category and own daily rate ("KOMPAKT", "LUXUS/22999").
func priceKey(v Vehicle) string {
	if v.DailyRateNetCents == nil {
		return string(v.Category)
	}
	return string(v.Category) + "/" + strconv.FormatInt(*v.DailyRateNetCents, 10)
}

// pricingUnavailable is the caller-safe error for any pricing failure; the cause is logged.
func pricingUnavailable(cause error) error {
	return &platform.Error{Kind: platform.KindUnavailable, Message: "prices cannot be calculated right now; please try again shortly", Err: cause}
}
