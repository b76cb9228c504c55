package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
)

// price asks pricing for every candidate's price for the period and returns the prices in
// the candidates' order and the days charged.
//
// A car's price for a period depends only on its category and its own daily rate (none: the
// category's policy at the branch at pickup), so the call carries one item per distinct
// (category, own rate), not one per car: at most the eight categories plus the distinct own
// rates among the candidates, instead of up to FLEET_SEARCH_MAX_CANDIDATES items each way
// (issue 19: encoding ~200 items to pricing and back was most of a search's Go time). Each
// car then takes its kind's price.
//
// Prices pricing gave are kept for FLEET_PRICE_CACHE_TTL per (branch, period, kind)
// (priceCache): a search of the same branch and period within that time asks pricing only
// for the kinds it has not seen. A search's price is a display — the booking re-quotes at
// pricing-api — so a policy change shows in searches at most one TTL late; a car's own rate
// is part of its kind, so changing it shows at once (docs/fleet.md, "Prices").
//
// A kind pricing has no rate policy for at the branch (its 404 names the items) is no
// failure: no booking of such a car can be priced either, so those cars are left out (their
// price's Key is ""), and the others are offered — one category without a policy made every
// search of the branch a 503 "try again shortly", a lasting state told as a passing one.
//
// Any other failure — pricing unreachable, slower than FLEET_PRICING_TIMEOUT, answering other
// than 2xx, or without a valid price for every item asked — is one unavailable error (503):
// the search cannot show prices, and a price it cannot show must not be guessed. Failures are
// not cached.
func (s *Service) price(ctx context.Context, q SearchQuery, cands []Vehicle) ([]pricingapi.RateResult, int, error) {
	keys := make([]string, len(cands))
	var items []pricingapi.RatesItem
	for i, v := range cands {
		keys[i] = priceKey(v)
		if !slicesContainsKey(items, keys[i]) {
			items = append(items, pricingapi.RatesItem{Key: keys[i], Category: string(v.Category), DailyRateNetCents: v.DailyRateNetCents})
		}
	}
	period := periodKey{branch: q.LocationCode, pickup: q.PickupAt.UnixNano(), ret: q.ReturnAt.UnixNano()}
	byKind := make(map[string]pricingapi.RateResult, len(items))
	days, missing := s.prices.lookup(period, s.now(), items, byKind)
	if len(missing) > 0 {
		out, err := s.askPricingInChunks(ctx, q, missing)
		if err != nil {
			return nil, 0, err
		}
		for _, it := range out.Items {
			byKind[it.Key] = it
		}
		// Every kind missing had no rate policy: pricing was not asked for a price, and its
		// answer carries no days — the cached kinds' days stand, and nothing is stored (0 days
		// written into the period's cache went out with every later offer of it).
		if out.Days > 0 {
			days = out.Days
			s.prices.store(period, s.now(), out)
		}
	}
	prices := make([]pricingapi.RateResult, len(cands))
	for i, k := range keys {
		prices[i] = byKind[k]
	}
	return prices, days, nil
}

// slicesContainsKey says whether items holds key; a search has at most a few dozen kinds, so
// a scan is cheaper than a map.
func slicesContainsKey(items []pricingapi.RatesItem, key string) bool {
	for _, it := range items {
		if it.Key == key {
			return true
		}
	}
	return false
}

// askPricingInChunks is askPricing for any number of items: pricing takes at most
// pricingapi.MaxRatesItems in one request (a branch with more kinds of price than that —
// cars with their own rates, FLEET_SEARCH_MAX_CANDIDATES above 200 — had every search
// refused as "try again shortly"). The answers are one: the same days, the items together.
func (s *Service) askPricingInChunks(ctx context.Context, q SearchQuery, items []pricingapi.RatesItem) (pricingapi.RatesResponse, error) {
	var all pricingapi.RatesResponse
	for chunk := range slices.Chunk(items, pricingapi.MaxRatesItems) {
		out, err := s.askPricing(ctx, q, chunk)
		if err != nil {
			return out, err
		}
		if out.Days > 0 {
			all.Days = out.Days
		}
		all.Items = append(all.Items, out.Items...)
	}
	return all, nil
}

// askPricing prices items at pricing-api and checks that every item came back valid; the
// items pricing has no rate policy for are left out of the answer (asked again without them).
func (s *Service) askPricing(ctx context.Context, q SearchQuery, items []pricingapi.RatesItem) (pricingapi.RatesResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PricingTimeout)
	defer cancel()
	req := pricingapi.RatesRequest{PickupLocation: q.LocationCode,
		PickupAt: q.PickupAt.Format(time.RFC3339Nano), ReturnAt: q.ReturnAt.Format(time.RFC3339Nano), Items: items}
	out, err := s.pricing.Rates(ctx, req)
	if unpriced := withoutPolicy(err, len(items)); unpriced != nil {
		items = slices.Clone(items)
		for _, i := range slices.Backward(unpriced) {
			items = slices.Delete(items, i, i+1)
		}
		if len(items) == 0 {
			return pricingapi.RatesResponse{}, nil
		}
		req.Items = items
		out, err = s.pricing.Rates(ctx, req)
	}
	if err != nil {
		return out, pricingUnavailable(err)
	}
	if out.Days < 1 {
		return out, pricingUnavailable(fmt.Errorf("pricing answered %d days", out.Days))
	}
	for _, it := range items {
		i := indexOfKey(out.Items, it.Key)
		if i < 0 || out.Items[i].TotalGrossCents < 0 || out.Items[i].DailyGrossCents < 0 {
			return out, pricingUnavailable(fmt.Errorf("pricing gave no valid price for item %s", it.Key))
		}
	}
	return out, nil
}

// withoutPolicy reads pricing's 404 for a rates request of n items that names, for each
// item without an active rate policy, items[i].category: the indices, ascending; nil for any
// other answer.
func withoutPolicy(err error, n int) []int {
	var ce *platform.CallError
	if !errors.As(err, &ce) || ce.Status != http.StatusNotFound || len(ce.Problem.Errors) == 0 {
		return nil
	}
	var idx []int
	for _, f := range ce.Problem.Errors {
		rest, ok := strings.CutPrefix(f.Field, "items[")
		num, ok2 := strings.CutSuffix(rest, "].category")
		i, err := strconv.Atoi(num)
		if !ok || !ok2 || err != nil || i < 0 || i >= n || slices.Contains(idx, i) {
			return nil
		}
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

func indexOfKey(rs []pricingapi.RateResult, key string) int {
	for i, r := range rs {
		if r.Key == key {
			return i
		}
	}
	return -1
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

// periodKey is what a price depends on besides the kind of car: the branch and the period
// (pricing takes the policy valid at pickup and bills the started days).
type periodKey struct {
	branch      string
	pickup, ret int64 // Unix nanoseconds: the same instants in any zone are the same key
}

// priceCache keeps pricing's answers per (branch, period, kind) for ttl, in at most max
// periods. It is per process and needs no invalidation beyond its ttl: pricing publishes no
// event when a policy changes (an event-driven cache would need one, a Trigger and a
// receiver here), and a search's price is a display the booking re-quotes. ttl 0 turns it
// off: every search asks pricing.
type priceCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	periods map[periodKey]*cachedPeriod
}

// cachedPeriod is the prices known for one branch and period.
type cachedPeriod struct {
	days    int
	expires time.Time // the latest of its kinds', for sweeping
	kinds   map[string]cachedRate
}

type cachedRate struct {
	rate    pricingapi.RateResult
	expires time.Time
}

func newPriceCache(ttl time.Duration, max int) *priceCache {
	return &priceCache{ttl: ttl, max: max, periods: map[periodKey]*cachedPeriod{}}
}

// lookup puts the fresh prices of period it knows for items into into and returns the days
// billed and the items it does not know (all of them when the cache is off or cold).
func (c *priceCache) lookup(period periodKey, now time.Time, items []pricingapi.RatesItem, into map[string]pricingapi.RateResult) (int, []pricingapi.RatesItem) {
	if c == nil || c.ttl <= 0 {
		return 0, items
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.periods[period]
	if p == nil {
		return 0, items
	}
	var missing []pricingapi.RatesItem
	for _, it := range items {
		if r, ok := p.kinds[it.Key]; ok && now.Before(r.expires) {
			into[it.Key] = r.rate
		} else {
			missing = append(missing, it)
		}
	}
	return p.days, missing
}

// store keeps the prices of a pricing answer for period until now + ttl. When max periods
// are kept it first drops the expired ones, then, if none were, arbitrary ones: the bound
// holds whatever the traffic, at the cost of a few more pricing calls.
func (c *priceCache) store(period periodKey, now time.Time, out pricingapi.RatesResponse) {
	if c == nil || c.ttl <= 0 {
		return
	}
	expires := now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.periods[period]
	if p == nil {
		if len(c.periods) >= c.max {
			c.evict(now)
		}
		p = &cachedPeriod{kinds: make(map[string]cachedRate, len(out.Items))}
		c.periods[period] = p
	}
	p.days, p.expires = out.Days, expires
	for _, it := range out.Items {
		p.kinds[it.Key] = cachedRate{rate: it, expires: expires}
	}
}

// evict makes room for one period; c.mu is held.
func (c *priceCache) evict(now time.Time) {
	for k, p := range c.periods {
		if !now.Before(p.expires) {
			delete(c.periods, k)
		}
	}
	for k := range c.periods {
		if len(c.periods) < c.max {
			break
		}
		delete(c.periods, k)
	}
}

// len is how many periods are kept (tests).
func (c *priceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.periods)
}
