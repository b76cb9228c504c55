package fleet_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// searchPage is a search answer as a client reads it.
type searchPage struct {
	Items        []fleet.Offer `json:"items"`
	Page         int           `json:"page"`
	PageSize     int           `json:"pageSize"`
	Total        int           `json:"total"`
	Truncated    bool          `json:"truncated"`
	LocationCode string        `json:"locationCode"`
	PickupAt     time.Time     `json:"pickupAt"`
	ReturnAt     time.Time     `json:"returnAt"`
}

// pickupDay is a pickup a month ahead at 10:00 UTC, so searches are never in the past.
func pickupDay() time.Time {
	return time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(24 * time.Hour).Add(10 * time.Hour)
}

// searchPath is a search at BER-HBF for [pickup, pickup+days) with extra query parameters.
func searchPath(pickup time.Time, days int, extra string) string {
	q := url.Values{"location": {"BER-HBF"}, "pickup": {pickup.Format(time.RFC3339)},
		"return": {pickup.Add(time.Duration(days) * 24 * time.Hour).Format(time.RFC3339)}}
	path := "/api/vehicles?" + q.Encode()
	if extra != "" {
		path += "&" + extra
	}
	return path
}

func names(offers []fleet.Offer) []string {
	out := []string{}
	for _, o := range offers {
		out = append(out, o.Name)
	}
	return out
}

// testSearchOffersFreeCarsWithPrices is the acceptance case: free compact cars in Berlin for
// three days, each with pricing's price, obtained through the transport with the caller's
// token. Totals are worked out by hand: 3 × 39.99 = 119.97 net, 19 % VAT 22.79 (22.7943),
// 142.76 gross, 47.59 a day (47.5867).
func testSearchOffersFreeCarsWithPrices(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db, nil)
	pickup := pickupDay()
	r := a.get(searchPath(pickup, 3, "category=KOMPAKT"))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	page := decode[searchPage](t, r)
	assert.Equal(t, []string{"VW Golf", "VW ID.3"}, names(page.Items), "the Opel Astra is in the workshop")
	assert.Equal(t, 2, page.Total)
	assert.False(t, page.Truncated)
	assert.Equal(t, "BER-HBF", page.LocationCode)
	assert.True(t, pickup.Equal(page.PickupAt))
	want := fleet.OfferPrice{Currency: "EUR", Days: 3, DailyNetCents: 3999, DailyGrossCents: 4759, DiscountPercent: 0,
		TotalNetCents: 11997, TotalVatCents: 2279, TotalGrossCents: 14276}
	for _, o := range page.Items {
		assert.Equal(t, want, o.Price, o.Name)
		assert.Equal(t, fleet.CategoryKompakt, o.Category)
		assert.Equal(t, "BER-HBF", o.LocationCode)
	}
	assert.Equal(t, vwGolf, page.Items[0].ID)
	assert.NotContains(t, string(r.body), "licencePlate", "offers do not show plates")

	calls := a.pricing.recorded()
	require.Len(t, calls, 1)
	assert.NotEqual(t, a.fleet, calls[0].authorization, "the searcher's token stays with fleet")
	assert.Equal(t, fleet.ServiceName, a.callerOf(calls[0].authorization).Service, "fleet prices as itself")
	body := calls[0].body
	assert.Equal(t, "BER-HBF", body.PickupLocation)
	assert.True(t, pickup.Equal(mustTime(t, body.PickupAt)))
	assert.True(t, pickup.Add(72*time.Hour).Equal(mustTime(t, body.ReturnAt)))
	// Both cars cost what a KOMPAKT costs: one item prices them (prices.go).
	require.Len(t, body.Items, 1)
	assert.Equal(t, "KOMPAKT", body.Items[0].Key)
	assert.Equal(t, "KOMPAKT", body.Items[0].Category)
	assert.Nil(t, body.Items[0].DailyRateNetCents)

	// Anonymous callers search too, and pricing is still called as fleet.
	r = a.get(searchPath(pickup, 3, "category=KOMPAKT"), "Authorization", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	calls = a.pricing.recorded()
	require.Len(t, calls, 2)
	assert.Equal(t, fleet.ServiceName, a.callerOf(calls[1].authorization).Service)
}

// testSearchFiltersSortsAndPages runs over Berlin's eight offerable cars for three days.
// Gross totals by hand (net × 3, + 19 % VAT rounded to the cent): up! 107.06, Golf and ID.3
// 142.76, Passat 178.46, Tiguan 249.86, Vito 285.56, 5er 321.26, Taycan (own rate 229.99)
// 821.06. Daily gross: up! 35.69, Golf/ID.3 47.59, Passat 59.49, Taycan 273.69.
func testSearchFiltersSortsAndPages(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db, nil)
	pickup := pickupDay()
	byPrice := []string{"VW up!", "VW Golf", "VW ID.3", "VW Passat Variant", "VW Tiguan", "Mercedes-Benz Vito", "BMW 5er", "Porsche Taycan"}
	tests := []struct {
		query     string
		want      []string
		wantTotal int
	}{
		{"", byPrice, 8},
		{"sort=price", byPrice, 8},
		{"sort=-price", []string{"Porsche Taycan", "BMW 5er", "Mercedes-Benz Vito", "VW Tiguan", "VW Passat Variant", "VW Golf", "VW ID.3", "VW up!"}, 8},
		{"sort=name", []string{"BMW 5er", "Mercedes-Benz Vito", "Porsche Taycan", "VW Golf", "VW ID.3", "VW Passat Variant", "VW Tiguan", "VW up!"}, 8},
		{"sort=-name", []string{"VW up!", "VW Tiguan", "VW Passat Variant", "VW ID.3", "VW Golf", "Porsche Taycan", "Mercedes-Benz Vito", "BMW 5er"}, 8},
		{"sort=seats", []string{"VW up!", "Porsche Taycan", "VW Golf", "VW ID.3", "VW Passat Variant", "VW Tiguan", "BMW 5er", "Mercedes-Benz Vito"}, 8},
		{"sort=-seats", []string{"Mercedes-Benz Vito", "VW Golf", "VW ID.3", "VW Passat Variant", "VW Tiguan", "BMW 5er", "VW up!", "Porsche Taycan"}, 8},
		{"minSeats=6", []string{"Mercedes-Benz Vito"}, 1},
		{"minSeats=5&transmission=automatic&fuel=diesel", []string{"VW Passat Variant", "VW Tiguan", "Mercedes-Benz Vito", "BMW 5er"}, 4},
		{"fuel=electric", []string{"VW ID.3", "Porsche Taycan"}, 2},
		{"transmission=MANUAL", []string{"VW up!", "VW Golf"}, 2},
		{"category=luxus", []string{"Porsche Taycan"}, 1},
		{"maxDailyGross=4759", []string{"VW up!", "VW Golf", "VW ID.3"}, 3}, // the limit itself is in
		{"maxDailyGross=4758", []string{"VW up!"}, 1},
		{"maxDailyGross=100", []string{}, 0},
		{"pageSize=3&page=2", []string{"VW Passat Variant", "VW Tiguan", "Mercedes-Benz Vito"}, 8},
		{"pageSize=3&page=3", []string{"BMW 5er", "Porsche Taycan"}, 8},
		{"pageSize=3&page=4", []string{}, 8},
		{"category=KOMBI&minSeats=7", []string{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := a.get(searchPath(pickup, 3, tt.query))
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			page := decode[searchPage](t, r)
			assert.Equal(t, tt.want, names(page.Items))
			assert.Equal(t, tt.wantTotal, page.Total)
		})
	}

	// Prices the test worked out by hand, including the Taycan's own rate.
	page := decode[searchPage](t, a.get(searchPath(pickup, 3, "")))
	gross := map[string]int64{}
	for _, o := range page.Items {
		gross[o.Name] = o.Price.TotalGrossCents
	}
	assert.Equal(t, map[string]int64{"VW up!": 10706, "VW Golf": 14276, "VW ID.3": 14276, "VW Passat Variant": 17846,
		"VW Tiguan": 24986, "Mercedes-Benz Vito": 28556, "BMW 5er": 32126, "Porsche Taycan": 82106}, gross)
	// One item per kind of price: the seven categories and the Taycan's own rate, which goes
	// to pricing with it.
	items := map[string]*int64{}
	for _, it := range a.pricing.recorded()[0].body.Items {
		items[it.Key] = it.DailyRateNetCents
	}
	require.Len(t, items, 7)
	require.Contains(t, items, "LUXUS/22999")
	require.NotNil(t, items["LUXUS/22999"], "the car's own rate goes to pricing")
	assert.EqualValues(t, 22999, *items["LUXUS/22999"])
	assert.Nil(t, items["KOMPAKT"])

	// A branch without matching cars answers at once, without asking pricing.
	calls := len(a.pricing.recorded())
	r := a.get(strings.Replace(searchPath(pickup, 3, ""), "BER-HBF", "LEJ-HBF", 1))
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, 0, decode[searchPage](t, r).Total)
	assert.Len(t, a.pricing.recorded(), calls)
}

// TestSearchCarriesPricingsDiscount: a week of the Golf, 10 % off from 7 days (the fake's
// policy): 7 × 39.99 = 279.93, less 10 % = 251.94 (251.937), VAT 47.87 (47.8686), gross
// 299.81, 42.83 a day (42.83).
func testSearchCarriesPricingsDiscount(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db, nil)
	page := decode[searchPage](t, a.get(searchPath(pickupDay(), 7, "category=KOMPAKT&transmission=manual")))
	require.Len(t, page.Items, 1)
	assert.Equal(t, fleet.OfferPrice{Currency: "EUR", Days: 7, DailyNetCents: 3999, DailyGrossCents: 4283, DiscountPercent: 10,
		TotalNetCents: 25194, TotalVatCents: 4787, TotalGrossCents: 29981}, page.Items[0].Price)
}

// TestSearchNeverOffersBlockedCars books the Golf in every way relative to the searched
// period [P, P+3d) and checks whether it is offered; bookings are [pickup, return), so one
// ending at P or starting at P+3d does not collide. Each case is cleared afterwards by a
// newer "cancelled" version, which the read model must honour too.
func TestSearchNeverOffersBlockedCars(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	ctx := context.Background()
	p := pickupDay()
	end := p.Add(72 * time.Hour)
	offered := func() bool {
		r := a.get(searchPath(p, 3, "category=KOMPAKT"))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		for _, o := range decode[searchPage](t, r).Items {
			if o.ID == vwGolf {
				return true
			}
		}
		return false
	}
	require.True(t, offered())

	tests := []struct {
		name        string
		from, to    time.Time
		status      fleet.BookingStatus
		wantOffered bool
	}{
		{"pending hold over the period", p, end, fleet.BookingPending, false},
		{"confirmed over the period", p, end, fleet.BookingConfirmed, false},
		{"active (picked up) over the period", p.Add(-24 * time.Hour), end, fleet.BookingActive, false},
		{"confirmed inside the period", p.Add(time.Hour), p.Add(2 * time.Hour), fleet.BookingConfirmed, false},
		{"confirmed around the period", p.Add(-48 * time.Hour), end.Add(48 * time.Hour), fleet.BookingConfirmed, false},
		{"confirmed overlapping the start by a minute", p.Add(-24 * time.Hour), p.Add(time.Minute), fleet.BookingConfirmed, false},
		{"confirmed overlapping the end by a minute", end.Add(-time.Minute), end.Add(24 * time.Hour), fleet.BookingConfirmed, false},
		{"confirmed, returned exactly at pickup", p.Add(-24 * time.Hour), p, fleet.BookingConfirmed, true},
		{"confirmed, picked up exactly at return", end, end.Add(24 * time.Hour), fleet.BookingConfirmed, true},
		{"confirmed, a week later", p.Add(7 * 24 * time.Hour), p.Add(9 * 24 * time.Hour), fleet.BookingConfirmed, true},
		{"cancelled over the period", p, end, fleet.BookingCancelled, true},
		{"expired over the period", p, end, fleet.BookingExpired, true},
		{"completed over the period", p, end, fleet.BookingCompleted, true},
		{"no-show over the period", p, end, fleet.BookingNoShow, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newUUID()
			c := fleet.BookingChange{ReservationID: res, VehicleID: vwGolf, PickupAt: tt.from, ReturnAt: tt.to, Status: tt.status, Version: 1}
			_, err := a.store.ApplyBooking(ctx, c)
			require.NoError(t, err)
			assert.Equal(t, tt.wantOffered, offered())
			c.Status, c.Version = fleet.BookingCancelled, 2
			_, err = a.store.ApplyBooking(ctx, c)
			require.NoError(t, err)
			require.True(t, offered(), "a cancelled booking frees the car")
		})
	}

	// A car's own status: rented, in the workshop or off the road is never offered; a
	// reserved car is, outside its bookings.
	for _, tt := range []struct {
		status      fleet.Status
		wantOffered bool
	}{
		{fleet.StatusRented, false},
		{fleet.StatusMaintenance, false},
		{fleet.StatusOutOfService, false},
		{fleet.StatusReserved, true},
	} {
		t.Run(string(tt.status), func(t *testing.T) {
			for _, s := range []fleet.Status{tt.status, fleet.StatusAvailable} {
				r := a.json(http.MethodPut, "/api/vehicles/"+vwGolf+"/status", fmt.Sprintf(`{"status":%q}`, s))
				require.Equal(t, http.StatusOK, r.status, string(r.body))
				if s == tt.status {
					assert.Equal(t, tt.wantOffered, offered())
				}
			}
		})
	}
}

func testSearchRejectsBadQueries(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db, nil)
	p := pickupDay()
	rfc := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339)) }
	base := func(pickup, ret time.Time) string {
		return "/api/vehicles?location=BER-HBF&pickup=" + rfc(pickup) + "&return=" + rfc(ret)
	}
	ok := base(p, p.Add(72*time.Hour))
	tests := []struct {
		name       string
		path       string
		wantFields []string
	}{
		{"nothing", "/api/vehicles", []string{"location", "pickup", "return"}},
		{"no location", "/api/vehicles?pickup=" + rfc(p) + "&return=" + rfc(p.Add(time.Hour)), []string{"location"}},
		{"no return", "/api/vehicles?location=BER-HBF&pickup=" + rfc(p), []string{"return"}},
		{"bad location", strings.Replace(ok, "BER-HBF", "Berlin", 1), []string{"location"}},
		{"date without time", "/api/vehicles?location=BER-HBF&pickup=2031-06-01&return=2031-06-04", []string{"pickup", "return"}},
		{"time without zone", "/api/vehicles?location=BER-HBF&pickup=2031-06-01T10:00:00&return=2031-06-04T10:00:00", []string{"pickup", "return"}},
		// Go's parser takes an offset of 24 hours and cannot write the time back (it was a 500).
		{"offset of 24 h", "/api/vehicles?location=BER-HBF&pickup=" + p.Format("2006-01-02T15:04:05") + "%2B24:00&return=" +
			p.Add(72*time.Hour).Format("2006-01-02T15:04:05") + "-24:00", []string{"pickup", "return"}},
		{"return before pickup", base(p, p.Add(-time.Hour)), []string{"return"}},
		{"return at pickup", base(p, p), []string{"return"}},
		{"longer than 90 days", base(p, p.Add(fleet.MaxRentalDuration+time.Minute)), []string{"return"}},
		{"pickup in the past", base(time.Now().Add(-24*time.Hour), time.Now().Add(24*time.Hour)), []string{"pickup"}},
		{"pickup more than two years ahead", base(time.Now().AddDate(2, 1, 0), time.Now().AddDate(2, 1, 3)), []string{"pickup"}},
		{"unknown category", ok + "&category=VAN", []string{"category"}},
		{"unknown fuel", ok + "&fuel=coal", []string{"fuel"}},
		{"unknown gearbox", ok + "&transmission=cvt", []string{"transmission"}},
		{"no seats", ok + "&minSeats=0", []string{"minSeats"}},
		{"too many seats", ok + "&minSeats=10", []string{"minSeats"}},
		{"seats not a number", ok + "&minSeats=five", []string{"minSeats"}},
		{"price in euros", ok + "&maxDailyGross=47.59", []string{"maxDailyGross"}},
		{"price zero", ok + "&maxDailyGross=0", []string{"maxDailyGross"}},
		{"unknown order", ok + "&sort=cheapest", []string{"sort"}},
		{"page zero", ok + "&page=0", []string{"page"}},
		{"page too big", ok + "&pageSize=101", []string{"pageSize"}},
		{"unknown parameter", ok + "&colour=orange", []string{"colour"}},
		{"repeated parameter", ok + "&category=SUV&category=KLEIN", []string{"category"}},
		{"';' as a separator", ok + "&page=1;pageSize=9999999", []string{"page"}},
		{"';' hiding a filter", ok + "&category=SUV;fuel=electric", []string{"category"}},
		{"repeated, empty once", ok + "&sort=&sort=name", []string{"sort"}},
		{"a bad %-escape", ok + "&colour=%ZZ", []string{"colour"}},
		{"a repeated time", ok + "&pickup=" + rfc(p), []string{"pickup"}},
		{"everything at once", "/api/vehicles?location=x&pickup=soon&category=VAN&fuel=coal&transmission=cvt&minSeats=0&maxDailyGross=-1&sort=up&page=x&pageSize=0&x=1",
			[]string{"x", "location", "pickup", "return", "category", "fuel", "transmission", "minSeats", "maxDailyGross", "sort", "page", "pageSize"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.get(tt.path, "Authorization", "")
			require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			prob := decode[platform.Problem](t, r)
			assert.Equal(t, platform.ProblemTypeBase+"invalid", prob.Type)
			assert.ElementsMatch(t, tt.wantFields, fieldsOf(prob))
		})
	}
	assert.Empty(t, a.pricing.recorded(), "a rejected search does not reach pricing")

	// Boundaries that are fine: exactly 90 days, a pickup a few minutes ago (a walk-in),
	// and an offset typed into a URL without encoding its "+".
	for _, path := range []string{
		base(p, p.Add(fleet.MaxRentalDuration)),
		base(time.Now().Add(-5*time.Minute), time.Now().Add(24*time.Hour)),
		"/api/vehicles?location=ber-hbf&pickup=" + p.In(time.FixedZone("CEST", 7200)).Format(time.RFC3339) +
			"&return=" + p.Add(72*time.Hour).In(time.FixedZone("CEST", 7200)).Format(time.RFC3339),
	} {
		r := a.get(path)
		assert.Equal(t, http.StatusOK, r.status, "%s: %s", path, r.body)
	}
}

// TestSearchWhenPricingFails: without prices there is no answer worth giving, so every kind
// of pricing failure is a 503 problem with Retry-After — quickly, never a hang — and the
// failure's details stay in the log.
func testSearchWhenPricingFails(t *testing.T, db *database.DB) {
	short := func(s *setup) { s.cfg.PricingTimeout = 300 * time.Millisecond }
	shortClient := func(s *setup) { s.callTimeout = 300 * time.Millisecond }
	tests := []struct {
		name string
		mode string
		opt  option
	}{
		{"pricing answers 500", "fail", nil},
		{"pricing leaves out a vehicle", "partial", nil},
		{"pricing hangs past FLEET_PRICING_TIMEOUT", "hang", short},
		{"pricing hangs past the client's CALL_TIMEOUT", "hang", shortClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAPIOn(t, db, tt.opt)
			a.pricing.setMode(tt.mode)
			start := time.Now()
			r := a.get(searchPath(pickupDay(), 3, ""))
			elapsed := time.Since(start)
			require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.body))
			assert.Less(t, elapsed, 3*time.Second)
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			assert.Equal(t, "5", r.header.Get("Retry-After"))
			prob := decode[platform.Problem](t, r)
			assert.Equal(t, platform.ProblemTypeBase+"unavailable", prob.Type)
			assert.NotContains(t, prob.Detail, "internal")
			assert.NotContains(t, prob.Detail, "pricing answered")
			assert.Len(t, a.pricing.recorded(), 1)
		})
	}
}

func testSearchPricesAtMostMaxCandidates(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db, func(s *setup) { s.cfg.MaxCandidates = 2 })
	page := decode[searchPage](t, a.get(searchPath(pickupDay(), 3, "")))
	assert.True(t, page.Truncated)
	// The first two by name (byte order) are priced; the answer is ordered by price.
	assert.Equal(t, []string{"Mercedes-Benz Vito", "BMW 5er"}, names(page.Items))
	calls := a.pricing.recorded()
	require.Len(t, calls, 1)
	assert.Len(t, calls[0].body.Items, 2)

	page = decode[searchPage](t, a.get(searchPath(pickupDay(), 3, "category=KOMPAKT")))
	assert.False(t, page.Truncated, "exactly the cap is not truncated")
}

// TestSearchPricesEachKindOnce: pricing gets one item per kind of price among the candidates
// (prices.go), and every car gets its own kind's price — a car with its own rate never the
// category's, nor the category's cars its rate. The Golf gets 44.99 of its own; the ID.3
// stays on the KOMPAKT policy: 3 × 44.99 = 134.97 net, 160.61 gross; 3 × 39.99 → 142.76.
func TestSearchPricesEachKindOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	r := a.json(http.MethodPut, "/api/vehicles/"+vwGolf+"/daily-rate", `{"dailyRateNetCents":4499}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	page := decode[searchPage](t, a.get(searchPath(pickupDay(), 3, "category=KOMPAKT")))
	gross := map[string]int64{}
	for _, o := range page.Items {
		gross[o.ID] = o.Price.TotalGrossCents
	}
	assert.Equal(t, map[string]int64{vwID3: 14276, vwGolf: 16061}, gross)
	calls := a.pricing.recorded()
	require.Len(t, calls, 1)
	keys := map[string]*int64{}
	for _, it := range calls[0].body.Items {
		keys[it.Key] = it.DailyRateNetCents
	}
	require.Len(t, keys, 2)
	assert.Nil(t, keys["KOMPAKT"])
	require.NotNil(t, keys["KOMPAKT/4499"])
	assert.EqualValues(t, 4499, *keys["KOMPAKT/4499"])
}

// TestSearchFollowsACarThatChangesBranch: the search finds a branch's blocked cars by the
// branch their bookings carry (migration 0007), which must always be the car's. A car that
// changes branch while booked — as a one-way return records it (handover), here written
// directly — is not offered at its new branch for the booked period, nor at its old one; a
// booking recorded after a move carries the new branch; a booking moved to another car takes
// that car's branch.
func TestSearchFollowsACarThatChangesBranch(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	ctx := context.Background()
	p := pickupDay()
	offeredAt := func(branch, id string) bool {
		t.Helper()
		path := strings.Replace(searchPath(p, 3, "category=KOMPAKT"), "location=BER-HBF", "location="+branch, 1)
		r := a.get(path)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		for _, o := range decode[searchPage](t, r).Items {
			if o.ID == id {
				return true
			}
		}
		return false
	}
	moveTo := func(id, branch string) {
		t.Helper()
		_, err := a.db.Pool.Exec(ctx, `UPDATE fleet.vehicles SET location_code = $2 WHERE id = $1`, id, branch)
		require.NoError(t, err)
	}
	book := func(res, id string) {
		t.Helper()
		_, err := a.store.ApplyBooking(ctx, fleet.BookingChange{ReservationID: res, VehicleID: id, PickupAt: p, ReturnAt: p.Add(72 * time.Hour),
			Status: fleet.BookingConfirmed, Version: 1})
		require.NoError(t, err)
	}

	first := newUUID()
	book(first, vwGolf)
	require.False(t, offeredAt("BER-HBF", vwGolf))
	moveTo(vwGolf, "MUC-FLG")
	assert.False(t, offeredAt("MUC-FLG", vwGolf), "booked at its new branch")
	assert.False(t, offeredAt("BER-HBF", vwGolf), "no longer at its old branch")

	// Booked after a move: the ID.3 moves first, then is booked.
	moveTo(vwID3, "MUC-FLG")
	require.True(t, offeredAt("MUC-FLG", vwID3))
	book(newUUID(), vwID3)
	assert.False(t, offeredAt("MUC-FLG", vwID3), "a booking after the move blocks at the new branch")

	// The Golf's booking moves to the MUC-FLG Golf GTE (a newer version naming another car):
	// the Golf is free, the GTE blocked.
	_, err := a.store.ApplyBooking(ctx, fleet.BookingChange{ReservationID: first, VehicleID: golfGTE, PickupAt: p, ReturnAt: p.Add(72 * time.Hour),
		Status: fleet.BookingConfirmed, Version: 2})
	require.NoError(t, err)
	assert.True(t, offeredAt("MUC-FLG", vwGolf))
	assert.False(t, offeredAt("MUC-FLG", golfGTE))

	var stray int
	require.NoError(t, a.db.Pool.QueryRow(ctx, `SELECT count(*) FROM fleet.bookings b JOIN fleet.vehicles v ON v.id = b.vehicle_id
		WHERE b.location_code <> v.location_code`).Scan(&stray))
	assert.Zero(t, stray, "every booking carries its car's branch")
}

// TestSearchHeldToTheBranch: the search listed priced cars at a closed branch and for a
// pickup at 03:00 at a branch open 07:00–21:00 — each of them refused at booking. It answers
// as the booking would now: 422 naming the field and the hours.
func TestSearchHeldToTheBranch(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(s *setup) { s.cfg.BranchTTL = time.Millisecond })
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	day := pickupDay().In(berlin)
	at := func(hour int) time.Time { return time.Date(day.Year(), day.Month(), day.Day(), hour, 0, 0, 0, berlin) }
	require.Equal(t, http.StatusOK, a.get(searchPath(at(3), 2, "")).status, "open around the clock")

	a.branches.setHours("07:00", "21:00")
	time.Sleep(5 * time.Millisecond) // past the branch's TTL
	priced := len(a.pricing.recorded())
	r := a.get(searchPath(at(3), 2, ""))
	require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
	prob := decode[platform.Problem](t, r)
	require.Len(t, prob.Errors, 1)
	assert.Equal(t, "pickup", prob.Errors[0].Field)
	assert.Contains(t, prob.Errors[0].Reason, "07:00–21:00")
	assert.Equal(t, priced, len(a.pricing.recorded()), "nothing was priced for a search no booking fits")
	assert.Equal(t, http.StatusOK, a.get(searchPath(at(10), 2, "")).status)
	// The return is not the pickup branch's to judge: a one-way trip returns elsewhere, at
	// that branch's hours (the booking checks it there).
	late := url.Values{"location": {"BER-HBF"}, "pickup": {at(10).Format(time.RFC3339)}, "return": {at(10).Add(36 * time.Hour).Format(time.RFC3339)}}
	r = a.get("/api/vehicles?" + late.Encode())
	assert.Equal(t, http.StatusOK, r.status, string(r.body))

	a.branches.close("BER-HBF")
	time.Sleep(5 * time.Millisecond)
	r = a.get(searchPath(at(10), 2, ""))
	require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
	assert.Equal(t, []platform.FieldError{{Field: "location", Reason: "the branch BER-HBF is closed and takes no bookings"}}, decode[platform.Problem](t, r).Errors)
}

// TestSearchWithoutAPolicyForOneCategory: one category without a rate policy at the branch
// made every search there a 503 "try again shortly" — a lasting state told as a passing
// one. Its cars are left out (no booking of them could be priced), the others offered; a
// search of that category alone finds nothing, and a car of it with its own rate is offered.
func TestSearchWithoutAPolicyForOneCategory(t *testing.T) {
	t.Parallel()
	for name, cache := range map[string]option{"no cache": nil, "price cache": withPriceCache(time.Minute, 100, &fakeClock{t: time.Now()})} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			searchWithoutAPolicyForOneCategory(t, newAPI(t, cache))
		})
	}
}

func searchWithoutAPolicyForOneCategory(t *testing.T, a *api) {
	a.pricing.setRate("KOMPAKT", 0)
	type searchPage struct {
		Items []struct {
			ID, Category string
			Price        struct{ Days int }
		} `json:"items"`
		Total int `json:"total"`
	}
	// Asked again, the priced kinds come from the cache and only the unpriced one is asked
	// for: its empty answer carried 0 days, which every offer then showed (and the cache kept).
	for range 3 {
		r := a.get(searchPath(pickupDay(), 3, "pageSize=100"))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		page := decode[searchPage](t, r)
		require.NotEmpty(t, page.Items)
		for _, o := range page.Items {
			assert.NotEqual(t, "KOMPAKT", o.Category, o.ID)
			assert.Equal(t, 3, o.Price.Days, o.ID)
		}
	}
	r := a.get(searchPath(pickupDay(), 3, "category=KOMPAKT"))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Zero(t, decode[searchPage](t, r).Total)

	require.Equal(t, http.StatusOK, a.json(http.MethodPut, "/api/vehicles/"+vwGolf+"/daily-rate", `{"dailyRateNetCents":4499}`).status)
	r = a.get(searchPath(pickupDay(), 3, "category=KOMPAKT"))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	page := decode[searchPage](t, r)
	require.Len(t, page.Items, 1)
	assert.Equal(t, vwGolf, page.Items[0].ID, "its own rate prices it")
}

// TestSearchLeavesOutACarAOneWayBookingTakesAway: a car booked one way (returned at another
// branch) before the period was offered at its branch for the period after — and booking it
// was reservations-api's 409, the car's chain. A booking returned where it began does not.
func TestSearchLeavesOutACarAOneWayBookingTakesAway(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ctx := context.Background()
	pickup := pickupDay()
	ids := func() []string {
		r := a.get(searchPath(pickup, 2, "category=KOMPAKT&pageSize=100"))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		page := decode[struct{ Items []struct{ ID string } }](t, r)
		var out []string
		for _, o := range page.Items {
			out = append(out, o.ID)
		}
		return out
	}
	require.Contains(t, ids(), vwGolf)
	book := func(car string, oneWay bool) {
		_, err := a.store.ApplyBooking(ctx, fleet.BookingChange{ReservationID: newUUID(), VehicleID: car, PickupAt: pickup.Add(-72 * time.Hour),
			ReturnAt: pickup.Add(-48 * time.Hour), Status: fleet.BookingConfirmed, Version: 1, OneWay: oneWay})
		require.NoError(t, err)
	}
	book(vwID3, false)
	book(vwGolf, true)
	got := ids()
	assert.NotContains(t, got, vwGolf, "taken to another branch first")
	assert.Contains(t, got, vwID3, "returned where it began")

	// reservation.created tells it: its return branch is another.
	h := history(newUUID(), vwID3, pickup.Add(-72*time.Hour), 1, events.ReservationCreated)
	h[0].data.ReturnLocation = "MUC-FLG"
	require.Equal(t, http.StatusAccepted, a.event(newUUID(), h[0].typ, h[0].data).status)
	assert.NotContains(t, ids(), vwID3)
}

// TestABranchNotYetOpenOffersNothing: a fleet manager may put cars at a branch locations-api
// does not know yet (it is about to open); the search offered them, priced, and every
// booking of them was refused ("no such branch"). It finds none now.
func TestABranchNotYetOpenOffersNothing(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.branches.mu.Lock()
	a.branches.unknown = map[string]bool{"BER-HBF": true}
	a.branches.mu.Unlock()
	r := a.get(searchPath(pickupDay(), 3, ""))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Zero(t, decode[struct{ Total int }](t, r).Total)
}

// TestSearchOverMoreKindsThanOneRatesRequestTakes: a branch with more kinds of price (cars
// with their own rates) than pricing takes in one request had every search refused as "try
// again shortly"; the kinds are asked for in several requests.
func TestSearchOverMoreKindsThanOneRatesRequestTakes(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(s *setup) { s.cfg.MaxCandidates = 300 })
	_, err := a.db.Pool.Exec(context.Background(), `INSERT INTO fleet.vehicles
		(name, category, location_code, seats, fuel, transmission, licence_plate, status, daily_rate_net_cents)
		SELECT 'Own rate ' || i, 'KLEIN', 'BER-HBF', 4, 'petrol', 'manual', 'B-OR ' || i, 'available', 2000 + i
		FROM generate_series(1, $1::int) AS i`, pricingapi.MaxRatesItems+1)
	require.NoError(t, err)
	r := a.get(searchPath(pickupDay(), 3, "category=KLEIN&pageSize=100"))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.GreaterOrEqual(t, decode[struct{ Total int }](t, r).Total, pricingapi.MaxRatesItems+1)
}
