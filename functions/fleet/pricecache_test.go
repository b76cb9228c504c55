package fleet_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/fleet"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withPriceCache turns the price cache on with ttl over at most entries periods, on clock.
func withPriceCache(ttl time.Duration, entries int, clock *fakeClock) option {
	return func(s *setup) {
		s.cfg.PriceCacheTTL, s.cfg.PriceCacheEntries, s.clock = ttl, entries, clock.now
	}
}

// TestSearchReusesPricesForTheCacheTTL: within FLEET_PRICE_CACHE_TTL a search of the same
// branch and period shows the prices pricing gave the first one, whatever its filters, sort
// or page, without asking pricing again; a policy changed at pricing shows once the TTL has
// passed and not before; a car's own rate, part of its kind, shows at once (pricing is asked
// for that kind alone). Prices by hand: KOMPAKT 3 × 39.99 → 142.76 gross; after the policy
// moves to 49.99, 3 × 49.99 = 149.97 net + 28.49 VAT = 178.46; the Golf's own 44.99 → 160.61.
func TestSearchReusesPricesForTheCacheTTL(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now()}
	a := newAPI(t, withPriceCache(30*time.Second, 10, clock))
	path := searchPath(pickupDay(), 3, "category=KOMPAKT")
	gross := func(path string) map[string]int64 {
		t.Helper()
		page := decode[searchPage](t, a.get(path))
		out := map[string]int64{}
		for _, o := range page.Items {
			out[o.ID] = o.Price.TotalGrossCents
		}
		return out
	}

	assert.Equal(t, map[string]int64{vwID3: 14276, vwGolf: 14276}, gross(path))
	require.Len(t, a.pricing.recorded(), 1)

	a.pricing.setRate("KOMPAKT", 4999)
	clock.advance(29 * time.Second)
	assert.Equal(t, map[string]int64{vwID3: 14276, vwGolf: 14276}, gross(path), "before the TTL: the price pricing gave")
	assert.Equal(t, map[string]int64{vwID3: 14276, vwGolf: 14276}, gross(path+"&sort=-name&pageSize=5"), "other sort and page, same period")
	assert.Len(t, a.pricing.recorded(), 1, "pricing asked once within the TTL")

	r := a.json(http.MethodPut, "/api/vehicles/"+vwGolf+"/daily-rate", `{"dailyRateNetCents":4499}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, map[string]int64{vwID3: 14276, vwGolf: 16061}, gross(path), "a car's own rate shows at once")
	calls := a.pricing.recorded()
	require.Len(t, calls, 2)
	require.Len(t, calls[1].body.Items, 1, "only the kind the cache did not know")
	assert.Equal(t, "KOMPAKT/4499", calls[1].body.Items[0].Key)

	clock.advance(2 * time.Second) // 31 s after the first search
	assert.Equal(t, map[string]int64{vwID3: 17846, vwGolf: 16061}, gross(path), "after the TTL: the changed policy")
	assert.Len(t, a.pricing.recorded(), 3)

	// Another period is another price: pricing is asked.
	gross(searchPath(pickupDay().Add(24*time.Hour), 3, "category=KOMPAKT"))
	assert.Len(t, a.pricing.recorded(), 4)
}

// TestPriceCacheIsBounded: however many periods are searched, at most
// FLEET_PRICE_CACHE_ENTRIES are kept, and a failed pricing call keeps nothing: the next
// search asks again and gets prices.
func TestPriceCacheIsBounded(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now()}
	var svc *fleet.Service
	a := newAPI(t, withPriceCache(time.Minute, 3, clock), func(s *setup) { s.service = &svc })
	for day := range 6 {
		r := a.get(searchPath(pickupDay().Add(time.Duration(day)*24*time.Hour), 2, ""))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		assert.LessOrEqual(t, fleet.PriceCacheLen(svc), 3)
	}
	assert.Len(t, a.pricing.recorded(), 6)

	a.pricing.setMode("fail")
	path := searchPath(pickupDay().Add(40*24*time.Hour), 2, "")
	require.Equal(t, http.StatusServiceUnavailable, a.get(path).status)
	a.pricing.setMode("")
	r := a.get(path)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Len(t, a.pricing.recorded(), 8, "a failure is not cached")
}
