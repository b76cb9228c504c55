package pricing_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/pricing"
)

// Every expected amount in this file was computed by hand (the comments show the working),
// not by the code under test.

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v
}

func TestVATRoundsHalfUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		net, vat int64
	}{
		{0, 0},
		{1, 0},          // 0.19
		{2, 0},          // 0.38
		{3, 1},          // 0.57
		{10, 2},         // 1.90
		{50, 10},        // 9.50: exactly half a cent, up
		{150, 29},       // 28.50: half, up
		{1050, 200},     // 199.50: half, up
		{3950, 751},     // 750.50: half, up
		{2999, 570},     // 569.81
		{3999, 760},     // 759.81
		{11997, 2279},   // 2279.43
		{44395, 8435},   // 8435.05
		{14999, 2850},   // 2849.81
		{335978, 63836}, // 63835.82
	}
	for _, tt := range tests {
		assert.Equal(t, tt.vat, pricing.VATCents(tt.net), "VAT of %d", tt.net)
		assert.Equal(t, tt.net+tt.vat, pricing.GrossCents(tt.net), "gross of %d", tt.net)
	}
}

func TestBillableDays(t *testing.T) {
	t.Parallel()
	const p = "2026-03-02T10:00:00Z"
	tests := []struct {
		name        string
		pickup, ret string
		after       time.Duration // added to ret when ret is empty
		want        int
	}{
		{name: "one minute", pickup: p, after: time.Minute, want: 1},
		{name: "exactly 24 h", pickup: p, after: 24 * time.Hour, want: 1},
		{name: "24 h + grace", pickup: p, after: 25 * time.Hour, want: 1},
		{name: "one second past grace", pickup: p, after: 25*time.Hour + time.Second, want: 2},
		{name: "26 h", pickup: p, after: 26 * time.Hour, want: 2},
		{name: "exactly 48 h", pickup: p, after: 48 * time.Hour, want: 2},
		{name: "48 h + grace", pickup: p, after: 49 * time.Hour, want: 2},
		{name: "49 h and a minute", pickup: p, after: 49*time.Hour + time.Minute, want: 3},
		{name: "a week", pickup: p, after: 7 * 24 * time.Hour, want: 7},
		{name: "89 days and an hour is 89", pickup: p, after: 89*24*time.Hour + time.Hour, want: 89},
		{name: "89 days and two hours", pickup: p, after: 89*24*time.Hour + 2*time.Hour, want: 90},
		{name: "90 days", pickup: p, after: 90 * 24 * time.Hour, want: 90},
		// Clocks go back on 25 Oct 2026: 10:00 to 10:00 local is 25 hours, one day with grace.
		{name: "October clock change", pickup: "2026-10-24T10:00:00+02:00", ret: "2026-10-25T10:00:00+01:00", want: 1},
		// Clocks go forward on 29 Mar 2026: 10:00 to 10:00 local is 23 hours.
		{name: "March clock change", pickup: "2026-03-28T10:00:00+01:00", ret: "2026-03-29T10:00:00+02:00", want: 1},
		{name: "offsets differ, same instant span", pickup: "2026-03-02T10:00:00+01:00", ret: "2026-03-05T09:00:00Z", want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pickup := mustTime(t, tt.pickup)
			ret := pickup.Add(tt.after)
			if tt.ret != "" {
				ret = mustTime(t, tt.ret)
			}
			assert.Equal(t, tt.want, pricing.BillableDays(pickup, ret))
		})
	}
}

func TestDurationDiscountThresholds(t *testing.T) {
	t.Parallel()
	for days, want := range map[int]int{1: 0, 6: 0, 7: 10, 13: 10, 14: 15, 27: 15, 28: 20, 90: 20} {
		assert.Equal(t, want, pricing.DiscountPercent(days), "%d days", days)
	}
}

func TestPriceRental(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                                  string
		days                                  int
		daily                                 int64
		discountPct                           int
		discount, net, vat, gross, dailyGross int64
	}{
		// 3 × 39.99 = 119.97; VAT 22.7943 → 22.79; per day 142.76 / 3 → 47.59 (the rates
		// contract's example). The last column is the gross total per day, rounded half up.
		{"KOMPAKT 3 days", 3, 3999, 0, 0, 11997, 2279, 14276, 4759}, // per day 4758.67
		// 6 × 3999 = 23994; VAT 4558.86 → 4559.
		{"KOMPAKT 6 days, no discount yet", 6, 3999, 0, 0, 23994, 4559, 28553, 4759}, // 4758.83
		// 7 × 3999 = 27993; 10 % = 2799.3 → 2799; net 25194; VAT 4786.86 → 4787.
		{"KOMPAKT 7 days, 10 %", 7, 3999, 10, 2799, 25194, 4787, 29981, 4283}, // 29981 / 7 = 4283
		// 13 × 2999 = 38987; 10 % = 3898.7 → 3899; net 35088; VAT 6666.72 → 6667.
		{"KLEIN 13 days, still 10 %", 13, 2999, 10, 3899, 35088, 6667, 41755, 3212}, // 3211.92
		// 14 × 2999 = 41986; 15 % = 6297.9 → 6298; net 35688; VAT 6780.72 → 6781.
		{"KLEIN 14 days, 15 %", 14, 2999, 15, 6298, 35688, 6781, 42469, 3034}, // 3033.5: half, up
		// 28 × 14999 = 419972; 20 % = 83994.4 → 83994; net 335978; VAT 63835.82 → 63836.
		{"LUXUS 28 days, 20 %", 28, 14999, 20, 83994, 335978, 63836, 399814, 14279}, // 14279.07
		// 90 × 14999 = 1349910; 20 % = 269982; net 1079928; VAT 205186.32 → 205186.
		{"LUXUS 90 days", 90, 14999, 20, 269982, 1079928, 205186, 1285114, 14279}, // 14279.04
		// 7 × 2005 = 14035; 10 % = 1403.5 → 1404 (half up); net 12631; VAT 2399.89 → 2400.
		{"discount of exactly half a cent", 7, 2005, 10, 1404, 12631, 2400, 15031, 2147}, // 2147.29
		// 1 × 1050; VAT 199.5 → 200 (half up).
		{"VAT of exactly half a cent", 1, 1050, 0, 0, 1050, 200, 1250, 1250},
		// 3 × 1050 = 3150; VAT 598.5 → 599.
		{"VAT half a cent over 3 days", 3, 1050, 0, 0, 3150, 599, 3749, 1250}, // 1249.67
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pricing.PriceRental(tt.days, tt.daily)
			assert.Equal(t, tt.discountPct, p.DiscountPercent, "discount %")
			assert.Equal(t, tt.discount, p.DiscountCents, "discount")
			assert.Equal(t, tt.net, p.NetCents, "net")
			assert.Equal(t, tt.vat, p.VATCents, "VAT")
			assert.Equal(t, tt.gross, p.GrossCents, "gross")
			assert.Equal(t, tt.dailyGross, p.DailyGrossCents, "daily gross")
			assert.Equal(t, int64(tt.days)*tt.daily, p.BaseNetCents)
		})
	}
}

func extra(code string, n int) pricing.ExtraChoice {
	for _, e := range pricing.Extras {
		if e.Code == code {
			return pricing.ExtraChoice{Extra: e, Quantity: n}
		}
	}
	panic("no extra " + code)
}

func insurance(code string) pricing.Insurance {
	for _, p := range pricing.InsurancePackages {
		if p.Code == code {
			return p
		}
	}
	panic("no insurance " + code)
}

// line is a quote line as the tests write it: code, quantity, unit price, net.
type line struct {
	code      string
	qty       int
	unit, net int64
}

func TestPriceQuote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		spec            pricing.QuoteSpec
		lines           []line
		net, vat, gross int64
	}{
		{
			name:  "KOMPAKT 3 days, liability only",
			spec:  pricing.QuoteSpec{Category: "KOMPAKT", Days: 3, DailyNetCents: 3999, Insurance: insurance("LIABILITY")},
			lines: []line{{"RENTAL", 3, 3999, 11997}, {"INSURANCE_LIABILITY", 3, 0, 0}},
			net:   11997, vat: 2279, gross: 14276,
		},
		{
			// 19995 + 7500 + 2500 + 8000 + 1500 + 4900 = 44395; VAT 8435.05 → 8435.
			name: "KOMPAKT 5 days, full cover, GPS, two child seats, snow chains, one way",
			spec: pricing.QuoteSpec{Category: "KOMPAKT", Days: 5, DailyNetCents: 3999, Insurance: insurance("FULL"),
				Extras: []pricing.ExtraChoice{extra("GPS", 1), extra("CHILD_SEAT", 2), extra("SNOW_CHAINS", 1)}, OneWay: true},
			lines: []line{{"RENTAL", 5, 3999, 19995}, {"INSURANCE_FULL", 5, 1500, 7500}, {"GPS", 5, 500, 2500},
				{"CHILD_SEAT", 10, 800, 8000}, {"SNOW_CHAINS", 1, 1500, 1500}, {"ONE_WAY_FEE", 1, 4900, 4900}},
			net: 44395, vat: 8435, gross: 52830,
		},
		{
			// 38493 − 3849 (10 % of 38493 = 3849.3) + 5600 + 7000 + 1500 = 48744; VAT 9261.36 → 9261.
			name: "MITTEL 7 days: the discount touches the rental only",
			spec: pricing.QuoteSpec{Category: "MITTEL", Days: 7, DailyNetCents: 5499, Insurance: insurance("PARTIAL"),
				Extras: []pricing.ExtraChoice{extra("ADDITIONAL_DRIVER", 1), extra("CROSS_BORDER", 1)}},
			lines: []line{{"RENTAL", 7, 5499, 38493}, {"DURATION_DISCOUNT", 1, -3849, -3849}, {"INSURANCE_PARTIAL", 7, 800, 5600},
				{"ADDITIONAL_DRIVER", 7, 1000, 7000}, {"CROSS_BORDER", 1, 1500, 1500}},
			net: 48744, vat: 9261, gross: 58005,
		},
		{
			// 195972 − 39194 (20 % of 195972 = 39194.4) + 70000 + 67200 + 4900 = 298878;
			// VAT 56786.82 → 56787.
			name: "SUV 28 days, zero excess, three child seats, one way",
			spec: pricing.QuoteSpec{Category: "SUV", Days: 28, DailyNetCents: 6999, Insurance: insurance("ZERO_EXCESS"),
				Extras: []pricing.ExtraChoice{extra("CHILD_SEAT", 3)}, OneWay: true},
			lines: []line{{"RENTAL", 28, 6999, 195972}, {"DURATION_DISCOUNT", 1, -39194, -39194}, {"INSURANCE_ZERO_EXCESS", 28, 2500, 70000},
				{"CHILD_SEAT", 84, 800, 67200}, {"ONE_WAY_FEE", 1, 4900, 4900}},
			net: 298878, vat: 56787, gross: 355665,
		},
		{
			// 3950 + 500 = 4450; VAT 845.5 → 846: a total whose VAT is exactly half a cent.
			name: "VAT of exactly half a cent on the total",
			spec: pricing.QuoteSpec{Category: "KLEIN", Days: 1, DailyNetCents: 3950, Insurance: insurance("LIABILITY"),
				Extras: []pricing.ExtraChoice{extra("GPS", 1)}},
			lines: []line{{"RENTAL", 1, 3950, 3950}, {"INSURANCE_LIABILITY", 1, 0, 0}, {"GPS", 1, 500, 500}},
			net:   4450, vat: 846, gross: 5296,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := pricing.PriceQuote(tt.spec)
			var got []line
			var sum int64
			for _, l := range b.Lines {
				got = append(got, line{l.Code, l.Quantity, l.UnitNetCents, l.NetCents})
				sum += l.NetCents
				assert.NotEmpty(t, l.Description, l.Code)
			}
			assert.Equal(t, tt.lines, got)
			assert.Equal(t, tt.net, b.NetCents, "net")
			assert.Equal(t, tt.vat, b.VATCents, "VAT")
			assert.Equal(t, tt.gross, b.GrossCents, "gross")
			assert.Equal(t, b.NetCents, sum, "the lines add up to the net total")
		})
	}
}

func TestCancellationFee(t *testing.T) {
	t.Parallel()
	pickup := mustTime(t, "2026-06-10T10:00:00+02:00")
	tests := []struct {
		name      string
		before    time.Duration // cancelled this long before pickup (negative: after)
		total     int64
		wantHours int64
		wantPct   int
		wantFee   int64
	}{
		{"three days before", 72 * time.Hour, 14277, 72, 0, 0},
		{"a millisecond over 48 h: free", 48*time.Hour + time.Millisecond, 14277, 48, 0, 0},
		{"exactly 48 h before: free", 48 * time.Hour, 14277, 48, 0, 0},
		{"a millisecond under 48 h: half", 48*time.Hour - time.Millisecond, 14277, 47, 50, 7139}, // 7138.5 → 7139
		{"a second under 48 h: half", 48*time.Hour - time.Second, 14277, 47, 50, 7139},           // 7138.5 → 7139
		{"30 h before", 30 * time.Hour, 14276, 30, 50, 7138},
		{"a millisecond over 24 h: half", 24*time.Hour + time.Millisecond, 14277, 24, 50, 7139},
		{"exactly 24 h before: still half", 24 * time.Hour, 14277, 24, 50, 7139},
		{"a millisecond under 24 h: all", 24*time.Hour - time.Millisecond, 14277, 23, 100, 14277},
		{"0.3 s under 24 h: all", 24*time.Hour - 300*time.Millisecond, 14277, 23, 100, 14277},
		{"a nanosecond under 24 h: all", 24*time.Hour - time.Nanosecond, 14277, 23, 100, 14277},
		{"an hour before", time.Hour, 14277, 1, 100, 14277},
		{"at pickup", 0, 14277, 0, 100, 14277},
		{"half an hour after pickup", -30 * time.Minute, 14277, -1, 100, 14277},
		{"two hours after pickup", -2 * time.Hour, 14277, -2, 100, 14277},
		{"a free booking", 30 * time.Hour, 0, 30, 50, 0},
		{"half of one cent rounds up", 30 * time.Hour, 1, 30, 50, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := pricing.CancellationFee(pickup, pickup.Add(-tt.before), tt.total)
			assert.Equal(t, tt.wantHours, f.HoursBeforePickup, "hours")
			assert.Equal(t, tt.wantPct, f.FeePercent, "percent")
			assert.Equal(t, tt.wantFee, f.FeeCents, "fee")
		})
	}
	// Offsets don't matter, instants do: 48 h before, written in UTC.
	f := pricing.CancellationFee(pickup, mustTime(t, "2026-06-08T08:00:00Z"), 10000)
	assert.Equal(t, 0, f.FeePercent)
}
