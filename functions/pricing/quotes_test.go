package pricing_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/pricing"
	"github.com/orangecarrental/orange/platform"
)

// Every expected amount here was computed by hand (see calc_test.go for the working); the
// API tests prove the handlers feed the arithmetic the right rate, days and options.

func testQuotes(t *testing.T, a *api) {
	seed := seedKompakt
	tests := []struct {
		name            string
		body            string
		days            int
		daily           int64
		policy          *string
		returnLocation  string
		codes           []string
		net, vat, gross int64
	}{
		{
			name: "KOMPAKT 3 days, liability by default",
			body: `{"pickupLocation":"BER-HBF","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-13T10:00:00+01:00","category":"KOMPAKT"}`,
			days: 3, daily: 3999, policy: &seed, returnLocation: "BER-HBF",
			codes: []string{"RENTAL", "INSURANCE_LIABILITY"},
			net:   11997, vat: 2279, gross: 14276,
		},
		{
			// 5 days and 30 minutes is 5 days (grace); 19995 + 7500 + 2500 + 8000 + 1500 + 4900.
			name: "one way with full cover and extras, in any order and case",
			body: `{"pickupLocation":"ber-hbf","returnLocation":"MUC-FLG","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-15T10:30:00+01:00",
				"category":"kompakt","insurance":"full","extras":[{"code":"snow_chains"},{"code":"CHILD_SEAT","quantity":2},{"code":"GPS","quantity":1}]}`,
			days: 5, daily: 3999, policy: &seed, returnLocation: "MUC-FLG",
			codes: []string{"RENTAL", "INSURANCE_FULL", "GPS", "CHILD_SEAT", "SNOW_CHAINS", "ONE_WAY_FEE"},
			net:   44395, vat: 8435, gross: 52830,
		},
		{
			// 38493 − 3849 + 5600 + 7000 + 1500.
			name: "MITTEL a week: 10 % off the rental",
			body: `{"pickupLocation":"FRA-FLG","returnLocation":"FRA-FLG","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-17T10:00:00+01:00",
				"category":"MITTEL","insurance":"PARTIAL","extras":[{"code":"ADDITIONAL_DRIVER"},{"code":"CROSS_BORDER"}]}`,
			days: 7, daily: 5499, returnLocation: "FRA-FLG",
			codes: []string{"RENTAL", "DURATION_DISCOUNT", "INSURANCE_PARTIAL", "ADDITIONAL_DRIVER", "CROSS_BORDER"},
			net:   48744, vat: 9261, gross: 58005,
		},
		{
			// 3950 + 500 = 4450; VAT 845.5 → 846.
			name: "a vehicle's own rate, VAT of exactly half a cent",
			body: `{"pickupLocation":"HAM-HBF","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-11T10:00:00+01:00","category":"KLEIN",
				"dailyRateNetCents":3950,"extras":[{"code":"GPS"}]}`,
			days: 1, daily: 3950, returnLocation: "HAM-HBF",
			codes: []string{"RENTAL", "INSURANCE_LIABILITY", "GPS"},
			net:   4450, vat: 846, gross: 5296,
		},
		{
			// 25 hours and a minute is 2 days: 5998; VAT 1139.62 → 1140.
			name: "more than an hour past a day is a second day",
			body: `{"pickupLocation":"CGN-HBF","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-11T11:01:00+01:00","category":"KLEIN"}`,
			days: 2, daily: 2999, returnLocation: "CGN-HBF",
			codes: []string{"RENTAL", "INSURANCE_LIABILITY"},
			net:   5998, vat: 1140, gross: 7138,
		},
		{
			// 90 × 14999 = 1349910 − 269982.
			name: "LUXUS for the longest rental there is",
			body: `{"pickupLocation":"MUC-FLG","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-06-08T10:00:00+01:00","category":"LUXUS"}`,
			days: 90, daily: 14999, returnLocation: "MUC-FLG",
			codes: []string{"RENTAL", "DURATION_DISCOUNT", "INSURANCE_LIABILITY"},
			net:   1079928, vat: 205186, gross: 1285114,
		},
		{
			// Keyed in at the counter ten minutes after the car left: 1 day of KOMPAKT.
			name: "pickup ten minutes ago",
			body: `{"pickupLocation":"BER-HBF","pickupAt":"2026-03-02T07:50:00+01:00","returnAt":"2026-03-03T07:50:00+01:00","category":"KOMPAKT"}`,
			days: 1, daily: 3999, policy: &seed, returnLocation: "BER-HBF",
			codes: []string{"RENTAL", "INSURANCE_LIABILITY"},
			net:   3999, vat: 760, gross: 4759,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.post("/api/pricing/quotes", tt.body)
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			q := decode[pricing.Quote](t, r)
			assert.Equal(t, tt.days, q.Days)
			assert.Equal(t, tt.daily, q.DailyRateNetCents)
			if tt.policy != nil {
				assert.Equal(t, tt.policy, q.PolicyID)
			}
			if strings.Contains(tt.body, "dailyRateNetCents") {
				assert.Equal(t, "override", q.RateSource)
				assert.Nil(t, q.PolicyID)
			} else {
				assert.Equal(t, "policy", q.RateSource)
				assert.NotNil(t, q.PolicyID)
			}
			assert.Equal(t, tt.returnLocation, q.ReturnLocation)
			var codes []string
			var sum int64
			for _, l := range q.Lines {
				codes = append(codes, l.Code)
				sum += l.NetCents
				assert.Equal(t, int64(l.Quantity)*l.UnitNetCents, l.NetCents, l.Code)
			}
			assert.Equal(t, tt.codes, codes)
			assert.Equal(t, tt.net, q.NetCents, "net")
			assert.Equal(t, tt.vat, q.VATCents, "VAT")
			assert.Equal(t, tt.gross, q.GrossCents, "gross")
			assert.Equal(t, q.NetCents, sum, "lines add up to the net total")
			assert.Equal(t, 19, q.VATPercent)
			assert.Equal(t, "EUR", q.Currency)
		})
	}
}

// TestRatesContract pins the exact response the fleet function codes against.
func testRatesContract(t *testing.T, a *api) {
	r := a.post("/api/pricing/rates", `{"pickupLocation":"BER-HBF","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-13T10:00:00+01:00",
		"items":[{"key":"3f0c6a52-0d7b-4a55-9a43-2f1c0e6d9b11","category":"KOMPAKT","dailyRateNetCents":null}]}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.JSONEq(t, `{"days":3,"items":[{"key":"3f0c6a52-0d7b-4a55-9a43-2f1c0e6d9b11","category":"KOMPAKT","dailyNetCents":3999,
		"discountPercent":0,"totalNetCents":11997,"totalVatCents":2279,"totalGrossCents":14276,"dailyGrossCents":4759}]}`, string(r.body))
}

func TestRates(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	require.Equal(t, http.StatusCreated, a.fleet(http.MethodPost, "/api/pricing/policies",
		`{"category":"KOMPAKT","locationCode":"BER-HBF","dailyRateNetCents":4499,"validFrom":"2026-01-01T00:00:00+01:00"}`).status)

	week := func(location, items string) response {
		return a.post("/api/pricing/rates", fmt.Sprintf(`{"pickupLocation":%q,"pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-17T10:00:00+01:00","items":[%s]}`, location, items))
	}
	r := week("HAM-HBF", `{"key":"a","category":"KOMPAKT"},{"key":"b","category":"klein"},{"key":"c","category":"LUXUS","dailyRateNetCents":2005},{"key":"a","category":"KOMPAKT"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	got := decode[pricing.RatesResponse](t, r)
	assert.Equal(t, 7, got.Days)
	assert.Equal(t, []pricing.RateResult{
		// 27993 − 2799 = 25194; VAT 4786.86 → 4787; per day 29981 / 7 = 4283.
		{Key: "a", Category: "KOMPAKT", DailyNetCents: 3999, DiscountPercent: 10, TotalNetCents: 25194, TotalVATCents: 4787, TotalGrossCents: 29981, DailyGrossCents: 4283},
		// 20993 − 2099 (2099.3) = 18894; VAT 3589.86 → 3590; per day 22484 / 7 = 3212.
		{Key: "b", Category: "KLEIN", DailyNetCents: 2999, DiscountPercent: 10, TotalNetCents: 18894, TotalVATCents: 3590, TotalGrossCents: 22484, DailyGrossCents: 3212},
		// The vehicle's own rate: 14035 − 1404 (1403.5, half up) = 12631; VAT 2399.89 → 2400;
		// per day 15031 / 7 = 2147.29 → 2147.
		{Key: "c", Category: "LUXUS", DailyNetCents: 2005, DiscountPercent: 10, TotalNetCents: 12631, TotalVATCents: 2400, TotalGrossCents: 15031, DailyGrossCents: 2147},
		// Items are priced independently, in request order, duplicates included.
		{Key: "a", Category: "KOMPAKT", DailyNetCents: 3999, DiscountPercent: 10, TotalNetCents: 25194, TotalVATCents: 4787, TotalGrossCents: 29981, DailyGrossCents: 4283},
	}, got.Items)

	// At BER-HBF the branch's own rate applies: 7 × 4499 = 31493 − 3149 (3149.3) = 28344;
	// VAT 5385.36 → 5385; per day 33729 / 7 = 4818.43 → 4818.
	r = week("BER-HBF", `{"key":"a","category":"KOMPAKT"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, []pricing.RateResult{{Key: "a", Category: "KOMPAKT", DailyNetCents: 4499, DiscountPercent: 10,
		TotalNetCents: 28344, TotalVATCents: 5385, TotalGrossCents: 33729, DailyGrossCents: 4818}}, decode[pricing.RatesResponse](t, r).Items)

	// Without a policy, the items that need one are named; the request fails as a whole.
	require.Equal(t, http.StatusOK, a.fleet(http.MethodPost, "/api/pricing/policies/"+seedLuxus+"/deactivate", "").status)
	r = week("HAM-HBF", `{"key":"a","category":"KOMPAKT"},{"key":"b","category":"LUXUS"},{"key":"c","category":"LUXUS","dailyRateNetCents":2005}`)
	p := requireProblem(t, r, http.StatusNotFound, "not-found", "items[1].category")
	assert.Len(t, p.Errors, 1)
}

func testCancellationFeeAPI(t *testing.T, a *api) {
	tests := []struct {
		name, body  string
		cancelledAt string
		hours       int64
		percent     int
		fee         int64
	}{
		// The clock is 2026-03-02T08:00+01:00.
		{"exactly 48 h ahead, now", `{"pickupAt":"2026-03-04T08:00:00+01:00","totalGrossCents":14277}`, "2026-03-02T08:00:00+01:00", 48, 0, 0},
		{"a second less, now", `{"pickupAt":"2026-03-04T07:59:59+01:00","totalGrossCents":14277}`, "2026-03-02T08:00:00+01:00", 47, 50, 7139},
		{"exactly 24 h ahead", `{"pickupAt":"2026-03-10T10:00:00+01:00","cancelledAt":"2026-03-09T10:00:00+01:00","totalGrossCents":14277}`, "2026-03-09T10:00:00+01:00", 24, 50, 7139},
		{"a minute less", `{"pickupAt":"2026-03-10T10:00:00+01:00","cancelledAt":"2026-03-09T10:01:00+01:00","totalGrossCents":14277}`, "2026-03-09T10:01:00+01:00", 23, 100, 14277},
		{"after pickup", `{"pickupAt":"2026-03-01T10:00:00+01:00","totalGrossCents":29981}`, "2026-03-02T08:00:00+01:00", -22, 100, 29981},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.call("alice", http.MethodPost, "/api/pricing/cancellation-fee", "application/json", tt.body)
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			f := decode[pricing.FeeResponse](t, r)
			assert.True(t, mustTime(t, tt.cancelledAt).Equal(f.CancelledAt), "cancelledAt %s", f.CancelledAt)
			assert.Equal(t, tt.hours, f.HoursBeforePickup)
			assert.Equal(t, tt.percent, f.FeePercent)
			assert.Equal(t, tt.fee, f.FeeCents)
		})
	}
}

// testFeeBoundaryPrecision: the tier is decided on the exact time left, fractional seconds
// included (issue 13: 0.3 s inside the 24 h line charged 50 %), to the microsecond — the
// precision a booking's times are stored in, so a fee is decided on the times as stored —
// and both times come back so. hoursBeforePickup is a display figure (whole hours, rounded
// down). Fees by hand: 50 % of 14277 = 7138.5 → 7139 (half up); 100 % = 14277.
func testFeeBoundaryPrecision(t *testing.T, a *api) {
	tests := []struct {
		name, pickupAt, cancelledAt string
		hours                       int64
		percent                     int
		fee                         int64
	}{
		{"48 h + 1 ms: free", "2026-03-12T10:00:00.001+01:00", "2026-03-10T10:00:00+01:00", 48, 0, 0},
		{"exactly 48 h: free", "2026-03-12T10:00:00.5+01:00", "2026-03-10T10:00:00.5+01:00", 48, 0, 0},
		{"48 h − 1 ms: half", "2026-03-12T09:59:59.999+01:00", "2026-03-10T10:00:00+01:00", 47, 50, 7139},
		{"48 h − 0.3 s, cancel time fractional: half", "2026-03-12T10:00:00+01:00", "2026-03-10T10:00:00.3+01:00", 47, 50, 7139},
		{"24 h + 1 ms: half", "2026-03-11T10:00:00+01:00", "2026-03-10T09:59:59.999+01:00", 24, 50, 7139},
		{"exactly 24 h, in UTC: half", "2026-03-11T10:00:00.123+01:00", "2026-03-10T09:00:00.123Z", 24, 50, 7139},
		{"24 h − 1 ms: all", "2026-03-11T10:00:00+01:00", "2026-03-10T10:00:00.001+01:00", 23, 100, 14277},
		{"24 h − 0.3 s: all", "2026-03-11T10:00:00+01:00", "2026-03-10T10:00:00.3+01:00", 23, 100, 14277},
		{"24 h − 1 µs: all", "2026-03-11T10:00:00.000001+01:00", "2026-03-10T10:00:00.000002+01:00", 23, 100, 14277},
		{"24 h − 0.4 µs is 24 h as stored: half", "2026-03-11T10:00:00+01:00", "2026-03-10T10:00:00.0000004+01:00", 24, 50, 7139},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"pickupAt":"` + tt.pickupAt + `","cancelledAt":"` + tt.cancelledAt + `","totalGrossCents":14277}`
			r := a.call(reservationsAPI, http.MethodPost, "/api/pricing/cancellation-fee", "application/json", body)
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			f := decode[pricing.FeeResponse](t, r)
			assert.True(t, mustTime(t, tt.pickupAt).Round(time.Microsecond).Equal(f.PickupAt), "pickupAt %s", f.PickupAt)
			assert.True(t, mustTime(t, tt.cancelledAt).Round(time.Microsecond).Equal(f.CancelledAt), "cancelledAt %s", f.CancelledAt)
			assert.Equal(t, tt.hours, f.HoursBeforePickup)
			assert.Equal(t, tt.percent, f.FeePercent)
			assert.Equal(t, tt.fee, f.FeeCents)
		})
	}
}

// testReturnChargesAPI: REFUEL is 12.00 € net per eighth short of the pickup level; VAT 19 %
// of the net total, rounded half up. By hand: 3 eighths = 36.00 net, 6.84 VAT, 42.84 gross;
// 8 eighths = 96.00, 18.24, 114.24; 1 eighth = 12.00, 2.28, 14.28.
func testReturnChargesAPI(t *testing.T, a *api) {
	refuel := func(eighths int, net int64) []pricing.Line {
		return []pricing.Line{{Code: "REFUEL", Quantity: eighths, Per: pricing.PerRental, UnitNetCents: 1200, NetCents: net}}
	}
	tests := []struct {
		name, caller, body string
		lines              []pricing.Line
		net, vat, gross    int64
	}{
		{"full to 5/8", reservationsAPI, `{"fuelAtPickup":8,"fuelAtReturn":5}`, refuel(3, 3600), 3600, 684, 4284},
		{"full to empty", "carla", `{"fuelAtPickup":8,"fuelAtReturn":0}`, refuel(8, 9600), 9600, 1824, 11424},
		{"1/8 to empty", "ada", `{"fuelAtPickup":1,"fuelAtReturn":0}`, refuel(1, 1200), 1200, 228, 1428},
		{"same level", reservationsAPI, `{"fuelAtPickup":5,"fuelAtReturn":5}`, []pricing.Line{}, 0, 0, 0},
		{"more fuel than at pickup: nothing paid back", reservationsAPI, `{"fuelAtPickup":3,"fuelAtReturn":8}`, []pricing.Line{}, 0, 0, 0},
		{"empty both times", reservationsAPI, `{"fuelAtPickup":0,"fuelAtReturn":0}`, []pricing.Line{}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.call(tt.caller, http.MethodPost, "/api/pricing/return-charges", "application/json", tt.body)
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			assert.Contains(t, string(r.body), `"lines":[`, "no charge is an empty list, never null")
			c := decode[pricing.ReturnChargesResponse](t, r)
			for i := range c.Lines {
				assert.NotEmpty(t, c.Lines[i].Description)
				c.Lines[i].Description = ""
			}
			assert.Equal(t, tt.lines, c.Lines)
			assert.Equal(t, tt.net, c.NetCents, "net")
			assert.Equal(t, tt.vat, c.VATCents, "VAT")
			assert.Equal(t, tt.gross, c.GrossCents, "gross")
			assert.Equal(t, "EUR", c.Currency)
		})
	}
}

func testCatalogue(t *testing.T, a *api) {
	r := a.call("", http.MethodGet, "/api/pricing/catalogue", "", "")
	require.Equal(t, http.StatusOK, r.status)
	c := decode[pricing.Catalogue](t, r)
	assert.Equal(t, int64(4900), c.OneWayFeeNetCents)
	assert.Equal(t, 60, c.GracePeriodMinutes)
	assert.Equal(t, 90, c.MaxRentalDays)
	assert.Equal(t, int64(1200), c.RefuelNetCentsPerEighth)
	assert.Len(t, c.Categories, 8)
	assert.Len(t, c.Insurance, 4)
	for _, e := range c.Extras {
		if e.Code == "CHILD_SEAT" {
			assert.Equal(t, 3, e.MaxQuantity)
		}
	}
}

// TestRejectedRequestsWriteNothing sends bad input to every endpoint that takes a body or
// changes state: each answers 4xx problem+json naming the bad fields, and no row changes.
func TestRejectedRequestsWriteNothing(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// A category without a policy, to price in vain.
	require.Equal(t, http.StatusOK, a.fleet(http.MethodPost, "/api/pricing/policies/"+seedLuxus+"/deactivate", "").status)

	const (
		policy  = `{"category":"KOMPAKT","locationCode":"BER-HBF","dailyRateNetCents":4499,"validFrom":"2026-04-01T00:00:00+02:00"}`
		terms   = `{"dailyRateNetCents":4499,"validFrom":"2025-01-01T00:00:00+01:00"}`
		quote   = `{"pickupLocation":"BER-HBF","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-13T10:00:00+01:00","category":"KOMPAKT"}`
		period  = `"pickupLocation":"BER-HBF","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-13T10:00:00+01:00"`
		unknown = "/api/pricing/policies/99999999-9999-4999-8999-999999999999"
	)
	seedPath := "/api/pricing/policies/" + seedKompakt
	withQuote := func(old, new string) string { return strings.Replace(quote, old, new, 1) }
	huge := `{"category":"` + strings.Repeat("x", platform.DefaultMaxBodyBytes) + `"}`
	items := make([]string, pricing.MaxRatesItems+1)
	for i := range items {
		items[i] = fmt.Sprintf(`{"key":"v%d","category":"KLEIN"}`, i)
	}
	tooManyExtras := `[` + strings.Repeat(`{"code":"GPS"},`, 8) + `{"code":"GPS"}]`

	tests := []struct {
		name, method, path, contentType, body string
		header                                []string
		wantStatus                            int
		wantType                              string
		wantFields                            []string
	}{
		// Creating a policy.
		{"create: malformed JSON", "POST", "/api/pricing/policies", "application/json", `{"category":`, nil, 400, "invalid", nil},
		{"create: unknown field", "POST", "/api/pricing/policies", "application/json", strings.Replace(policy, `"category"`, `"colour":"orange","category"`, 1), nil, 400, "invalid", []string{"colour"}},
		{"create: wrong content type", "POST", "/api/pricing/policies", "text/plain", policy, nil, 415, "unsupported-media-type", nil},
		{"create: oversize body", "POST", "/api/pricing/policies", "application/json", huge, nil, 413, "payload-too-large", nil},
		{"create: two JSON values", "POST", "/api/pricing/policies", "application/json", policy + policy, nil, 400, "invalid", nil},
		{"create: every field wrong", "POST", "/api/pricing/policies", "application/json",
			`{"category":"BUS","locationCode":"berlin","dailyRateNetCents":0,"validFrom":"soon","validTo":"later"}`, nil, 400, "invalid",
			[]string{"category", "locationCode", "dailyRateNetCents", "validFrom", "validTo"}},
		{"create: nothing given", "POST", "/api/pricing/policies", "application/json", `{}`, nil, 400, "invalid", []string{"category", "dailyRateNetCents", "validFrom"}},
		{"create: window ends before it starts", "POST", "/api/pricing/policies", "application/json",
			strings.Replace(policy, `}`, `,"validTo":"2026-03-31T00:00:00+02:00"}`, 1), nil, 400, "invalid", []string{"validTo"}},
		{"create: empty window", "POST", "/api/pricing/policies", "application/json",
			strings.Replace(policy, `}`, `,"validTo":"2026-04-01T00:00:00+02:00"}`, 1), nil, 400, "invalid", []string{"validTo"}},
		{"create: a window empty as stored (100 ns)", "POST", "/api/pricing/policies", "application/json",
			strings.Replace(policy, `}`, `,"validTo":"2026-04-01T00:00:00.0000001+02:00"}`, 1), nil, 400, "invalid", []string{"validTo"}},
		{"create: an end no policy has", "POST", "/api/pricing/policies", "application/json",
			strings.Replace(policy, `}`, `,"validTo":"9999-12-31T23:59:59.999999999+14:00"}`, 1), nil, 400, "invalid", []string{"validTo"}},
		{"create: rate over 10,000 €", "POST", "/api/pricing/policies", "application/json", strings.Replace(policy, "4499", "1000001", 1), nil, 400, "invalid", []string{"dailyRateNetCents"}},
		{"create: rate in euros", "POST", "/api/pricing/policies", "application/json", strings.Replace(policy, "4499", "44.99", 1), nil, 400, "invalid", []string{"dailyRateNetCents"}},
		{"create: overlaps the seed", "POST", "/api/pricing/policies", "application/json", strings.Replace(policy, `"locationCode":"BER-HBF",`, "", 1), nil, 409, "conflict", nil},
		// Updating one.
		{"update: unknown policy", "PUT", unknown, "application/json", terms, nil, 404, "not-found", nil},
		{"update: not an id", "PUT", "/api/pricing/policies/42", "application/json", terms, nil, 404, "not-found", nil},
		{"update: category cannot change", "PUT", seedPath, "application/json", `{"category":"KLEIN","dailyRateNetCents":4499,"validFrom":"2025-01-01T00:00:00+01:00"}`, nil, 400, "invalid", []string{"category"}},
		{"update: bad terms", "PUT", seedPath, "application/json", `{"dailyRateNetCents":-5,"validFrom":"2025-13-01T00:00:00Z","validTo":"never"}`, nil, 400, "invalid", []string{"dailyRateNetCents", "validFrom", "validTo"}},
		{"update: bad If-Match", "PUT", seedPath, "application/json", terms, []string{"If-Match", `"1" "2"`}, 400, "invalid", nil},
		{"update: weak If-Match (never a strong match)", "PUT", seedPath, "application/json", terms, []string{"If-Match", `W/"1"`}, 412, "precondition-failed", nil},
		{"update: stale If-Match", "PUT", seedPath, "application/json", terms, []string{"If-Match", `"7"`}, 412, "precondition-failed", nil},
		{"update: wrong content type", "PUT", seedPath, "application/xml", `<terms/>`, nil, 415, "unsupported-media-type", nil},
		{"update: a deactivated policy", "PUT", "/api/pricing/policies/" + seedLuxus, "application/json", terms, nil, 409, "conflict", nil},
		// Deactivating one.
		{"deactivate: unknown policy", "POST", unknown + "/deactivate", "", "", nil, 404, "not-found", nil},
		{"deactivate: bad If-Match", "POST", seedPath + "/deactivate", "", "", []string{"If-Match", "one"}, 400, "invalid", nil},
		{"deactivate: stale If-Match", "POST", seedPath + "/deactivate", "", "", []string{"If-Match", `"2"`}, 412, "precondition-failed", nil},
		{"policies: wrong method", "DELETE", seedPath, "", "", nil, 405, "method-not-allowed", nil},
		// Quotes.
		{"quote: every field wrong", "POST", "/api/pricing/quotes", "application/json",
			`{"pickupLocation":"x","returnLocation":"y","pickupAt":"tomorrow","returnAt":"","category":"BUS","insurance":"NONE",
			"extras":[{"code":"JETPACK"},{"code":"GPS","quantity":2}],"dailyRateNetCents":0}`, nil, 400, "invalid",
			[]string{"pickupLocation", "returnLocation", "pickupAt", "returnAt", "category", "insurance", "extras[0].code", "extras[1].quantity", "dailyRateNetCents"}},
		{"quote: pickup 16 minutes ago", "POST", "/api/pricing/quotes", "application/json", withQuote("2026-03-10T10:00:00+01:00", "2026-03-02T07:44:00+01:00"), nil, 400, "invalid", []string{"pickupAt"}},
		{"quote: pickup beyond two years", "POST", "/api/pricing/quotes", "application/json",
			withQuote(`"2026-03-10T10:00:00+01:00","returnAt":"2026-03-13T10:00:00+01:00"`, `"2028-03-02T08:00:01+01:00","returnAt":"2028-03-03T10:00:00+01:00"`), nil, 400, "invalid", []string{"pickupAt"}}, // two calendar years and a second: 731 days, 29 February between
		{"quote: return before pickup", "POST", "/api/pricing/quotes", "application/json", withQuote("2026-03-13T10:00:00+01:00", "2026-03-09T10:00:00+01:00"), nil, 400, "invalid", []string{"returnAt"}},
		{"quote: return at pickup", "POST", "/api/pricing/quotes", "application/json", withQuote("2026-03-13T10:00:00+01:00", "2026-03-10T10:00:00+01:00"), nil, 400, "invalid", []string{"returnAt"}},
		{"quote: 90 days and a second", "POST", "/api/pricing/quotes", "application/json", withQuote("2026-03-13T10:00:00+01:00", "2026-06-08T10:00:01+01:00"), nil, 400, "invalid", []string{"returnAt"}},
		{"quote: four child seats", "POST", "/api/pricing/quotes", "application/json", withQuote(`}`, `,"extras":[{"code":"CHILD_SEAT","quantity":4}]}`), nil, 400, "invalid", []string{"extras[0].quantity"}},
		{"quote: zero of an extra", "POST", "/api/pricing/quotes", "application/json", withQuote(`}`, `,"extras":[{"code":"GPS","quantity":0}]}`), nil, 400, "invalid", []string{"extras[0].quantity"}},
		{"quote: an extra twice", "POST", "/api/pricing/quotes", "application/json", withQuote(`}`, `,"extras":[{"code":"GPS"},{"code":"gps"}]}`), nil, 400, "invalid", []string{"extras[1].code"}},
		{"quote: more extras than exist", "POST", "/api/pricing/quotes", "application/json", withQuote(`}`, `,"extras":`+tooManyExtras+`}`), nil, 400, "invalid", []string{"extras"}},
		{"quote: unknown field", "POST", "/api/pricing/quotes", "application/json", withQuote(`}`, `,"coupon":"FREE"}`), nil, 400, "invalid", []string{"coupon"}},
		{"quote: wrong content type", "POST", "/api/pricing/quotes", "text/plain", quote, nil, 415, "unsupported-media-type", nil},
		{"quote: no policy", "POST", "/api/pricing/quotes", "application/json", withQuote("KOMPAKT", "LUXUS"), nil, 404, "not-found", nil},
		{"quote: wrong method", "GET", "/api/pricing/quotes", "", "", nil, 405, "method-not-allowed", nil},
		// Rates.
		{"rates: no items", "POST", "/api/pricing/rates", "application/json", `{` + period + `,"items":[]}`, nil, 400, "invalid", []string{"items"}},
		{"rates: too many items", "POST", "/api/pricing/rates", "application/json", `{` + period + `,"items":[` + strings.Join(items, ",") + `]}`, nil, 400, "invalid", []string{"items"}},
		{"rates: bad items", "POST", "/api/pricing/rates", "application/json",
			`{` + period + `,"items":[{"key":"","category":"KLEIN"},{"key":"b","category":"BUS"},{"key":"c","category":"KLEIN","dailyRateNetCents":0}]}`, nil, 400, "invalid",
			[]string{"items[0].key", "items[1].category", "items[2].dailyRateNetCents"}},
		{"rates: bad period", "POST", "/api/pricing/rates", "application/json",
			`{"pickupLocation":"Berlin","pickupAt":"2026-03-10","returnAt":"2026-03-09T10:00:00Z","items":[{"key":"a","category":"KLEIN"}]}`, nil, 400, "invalid",
			[]string{"pickupLocation", "pickupAt"}},
		{"rates: unknown field", "POST", "/api/pricing/rates", "application/json", `{` + period + `,"items":[{"key":"a","category":"KLEIN","seats":5}]}`, nil, 400, "invalid", []string{"seats"}},
		{"rates: no policy", "POST", "/api/pricing/rates", "application/json", `{` + period + `,"items":[{"key":"a","category":"LUXUS"}]}`, nil, 404, "not-found", []string{"items[0].category"}},
		// Cancellation fee.
		{"fee: nothing given", "POST", "/api/pricing/cancellation-fee", "application/json", `{}`, nil, 400, "invalid", []string{"pickupAt", "totalGrossCents"}},
		{"fee: bad times, negative total", "POST", "/api/pricing/cancellation-fee", "application/json",
			`{"pickupAt":"monday","cancelledAt":"now","totalGrossCents":-1}`, nil, 400, "invalid", []string{"pickupAt", "cancelledAt", "totalGrossCents"}},
		{"fee: times no booking has", "POST", "/api/pricing/cancellation-fee", "application/json",
			`{"pickupAt":"0001-01-01T00:00:00Z","cancelledAt":"9999-12-31T23:59:59Z","totalGrossCents":100}`, nil, 400, "invalid", []string{"pickupAt", "cancelledAt"}},
		{"fee: offsets of 24 hours", "POST", "/api/pricing/cancellation-fee", "application/json",
			`{"pickupAt":"2027-03-28T10:00:00+24:00","cancelledAt":"2027-03-20T10:00:00+23:60","totalGrossCents":100}`, nil, 400, "invalid", []string{"pickupAt", "cancelledAt"}},
		{"fee: total over the limit", "POST", "/api/pricing/cancellation-fee", "application/json",
			`{"pickupAt":"2026-03-10T10:00:00+01:00","totalGrossCents":100000001}`, nil, 400, "invalid", []string{"totalGrossCents"}},
		{"fee: total in euros", "POST", "/api/pricing/cancellation-fee", "application/json",
			`{"pickupAt":"2026-03-10T10:00:00+01:00","totalGrossCents":142.77}`, nil, 400, "invalid", []string{"totalGrossCents"}},
		{"fee: wrong content type", "POST", "/api/pricing/cancellation-fee", "text/plain", `{}`, nil, 415, "unsupported-media-type", nil},
		// Return charges.
		{"return: nothing given", "POST", "/api/pricing/return-charges", "application/json", `{}`, nil, 400, "invalid", []string{"fuelAtPickup", "fuelAtReturn"}},
		{"return: null levels", "POST", "/api/pricing/return-charges", "application/json", `{"fuelAtPickup":null,"fuelAtReturn":null}`, nil, 400, "invalid", []string{"fuelAtPickup", "fuelAtReturn"}},
		{"return: levels out of range", "POST", "/api/pricing/return-charges", "application/json", `{"fuelAtPickup":9,"fuelAtReturn":-1}`, nil, 400, "invalid", []string{"fuelAtPickup", "fuelAtReturn"}},
		{"return: a level in litres", "POST", "/api/pricing/return-charges", "application/json", `{"fuelAtPickup":8,"fuelAtReturn":42}`, nil, 400, "invalid", []string{"fuelAtReturn"}},
		{"return: a fraction of an eighth", "POST", "/api/pricing/return-charges", "application/json", `{"fuelAtPickup":8,"fuelAtReturn":4.5}`, nil, 400, "invalid", []string{"fuelAtReturn"}},
		{"return: a level as text", "POST", "/api/pricing/return-charges", "application/json", `{"fuelAtPickup":"full","fuelAtReturn":4}`, nil, 400, "invalid", []string{"fuelAtPickup"}},
		{"return: unknown field", "POST", "/api/pricing/return-charges", "application/json", `{"fuelAtPickup":8,"fuelAtReturn":4,"damage":"scratch"}`, nil, 400, "invalid", []string{"damage"}},
		{"return: malformed JSON", "POST", "/api/pricing/return-charges", "application/json", `{"fuelAtPickup":8,`, nil, 400, "invalid", nil},
		{"return: wrong content type", "POST", "/api/pricing/return-charges", "text/plain", `{"fuelAtPickup":8,"fuelAtReturn":4}`, nil, 415, "unsupported-media-type", nil},
		{"return: wrong method", "GET", "/api/pricing/return-charges", "", "", nil, 405, "method-not-allowed", nil},
	}
	before := a.snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.call("ada", tt.method, tt.path, tt.contentType, tt.body, tt.header...)
			requireProblem(t, r, tt.wantStatus, tt.wantType, tt.wantFields...)
			assert.Equal(t, before, a.snapshot(), "a rejected request changed the data")
		})
	}
}

// TestQuoteKeepsOffsets checks that the request's own offsets are kept in a quote while the
// rules compare instants.
func testQuoteKeepsOffsets(t *testing.T, a *api) {
	r := a.post("/api/pricing/quotes", `{"pickupLocation":"BER-HBF","pickupAt":"2026-03-10T09:00:00Z","returnAt":"2026-03-13T10:00:00+01:00","category":"KOMPAKT"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	q := decode[pricing.Quote](t, r)
	assert.Equal(t, 3, q.Days)
	_, offset := q.ReturnAt.Zone()
	assert.Equal(t, int(time.Hour/time.Second), offset)
}

// testWhoMayCallWhat: quotes and rates are public (a visitor prices a rental; the fleet's
// search prices as vehicles-api); planned prices are for staff, people only; the
// cancellation fee is for customers, agents and reservations-api, which cancels bookings.
func testWhoMayCallWhat(t *testing.T, a *api) {
	callers := []string{"", "alice", "carla", "frank", "ada", reservationsAPI, vehiclesAPI}
	fee := `{"pickupAt":"2026-03-10T10:00:00+01:00","totalGrossCents":14276}`
	quote := `{"pickupLocation":"BER-HBF","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-13T10:00:00+01:00","category":"KOMPAKT"}`
	rates := `{"pickupLocation":"BER-HBF","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-13T10:00:00+01:00","items":[{"key":"a","category":"KOMPAKT"}]}`
	tests := []struct {
		method, path, body string
		want               [7]int // per caller, in the order of callers
	}{
		{"POST", "/api/pricing/quotes", quote, [7]int{200, 200, 200, 200, 200, 200, 200}},
		{"POST", "/api/pricing/rates", rates, [7]int{200, 200, 200, 200, 200, 200, 200}},
		{"POST", "/api/pricing/cancellation-fee", fee, [7]int{401, 200, 200, 403, 200, 200, 403}},
		{"POST", "/api/pricing/return-charges", `{"fuelAtPickup":8,"fuelAtReturn":6}`, [7]int{401, 403, 200, 403, 200, 200, 403}},
		{"GET", "/api/pricing/policies", "", [7]int{401, 403, 200, 200, 200, 403, 403}},
		{"GET", "/api/pricing/policies/" + seedKompakt, "", [7]int{401, 403, 200, 200, 200, 403, 403}},
	}
	for _, tt := range tests {
		for i, user := range callers {
			contentType := ""
			if tt.body != "" {
				contentType = "application/json"
			}
			r := a.call(user, tt.method, tt.path, contentType, tt.body)
			assert.Equal(t, tt.want[i], r.status, "%s %s as %q: %s", tt.method, tt.path, user, r.body)
		}
	}
}
