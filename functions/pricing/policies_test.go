package pricing_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/pricing"
	"github.com/orangecarrental/orange/platform/database"
)

type policyList struct {
	Items    []pricing.RatePolicy `json:"items"`
	Page     int                  `json:"page"`
	PageSize int                  `json:"pageSize"`
	Total    int                  `json:"total"`
}

func testSeedRates(t *testing.T, a *api) {
	r := a.call("carla", http.MethodGet, "/api/pricing/policies", "", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	list := decode[policyList](t, r)
	want := map[pricing.Category]int64{"KLEIN": 2999, "KOMPAKT": 3999, "MITTEL": 5499, "OBER": 8999, "SUV": 6999, "KOMBI": 4999, "TRANS": 7999, "LUXUS": 14999}
	got := map[pricing.Category]int64{}
	for _, p := range list.Items {
		got[p.Category] = p.DailyRateNetCents
		assert.Nil(t, p.LocationCode, "seed rates hold at every branch")
		assert.Nil(t, p.ValidTo, "seed rates have no end")
		assert.Equal(t, "2024-12-31T23:00:00Z", p.ValidFrom.Format("2006-01-02T15:04:05Z07:00"), "midnight, 1 January 2025, in Germany")
		assert.True(t, p.Active)
	}
	assert.Equal(t, want, got)
	assert.Equal(t, 8, list.Total)
	assert.Equal(t, 1, list.Page)
	assert.Equal(t, 20, list.PageSize)
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	require.Equal(t, http.StatusCreated, a.fleet(http.MethodPost, "/api/pricing/policies",
		`{"category":"KOMPAKT","locationCode":"ber-hbf","dailyRateNetCents":4499,"validFrom":"2026-04-01T00:00:00+02:00"}`).status)
	require.Equal(t, http.StatusOK, a.fleet(http.MethodPost, "/api/pricing/policies/"+seedLuxus+"/deactivate", "").status)

	tests := []struct {
		query     string
		wantTotal int
		wantCats  []pricing.Category // of the page, in order
	}{
		{"", 8, []pricing.Category{"KLEIN", "KOMBI", "KOMPAKT", "KOMPAKT", "MITTEL", "OBER", "SUV", "TRANS"}},
		{"?category=kompakt", 2, []pricing.Category{"KOMPAKT", "KOMPAKT"}},
		{"?location=BER-HBF", 1, []pricing.Category{"KOMPAKT"}},
		{"?location=MUC-FLG", 0, nil},
		{"?activeAt=2026-03-31T12:00:00Z", 7, []pricing.Category{"KLEIN", "KOMBI", "KOMPAKT", "MITTEL", "OBER", "SUV", "TRANS"}},
		{"?activeAt=2024-06-01T00:00:00Z", 0, nil},
		{"?status=inactive", 1, []pricing.Category{"LUXUS"}},
		{"?status=all&category=LUXUS", 1, []pricing.Category{"LUXUS"}},
		{"?status=all", 9, []pricing.Category{"KLEIN", "KOMBI", "KOMPAKT", "KOMPAKT", "LUXUS", "MITTEL", "OBER", "SUV", "TRANS"}},
		{"?status=all&page=2&pageSize=4", 9, []pricing.Category{"LUXUS", "MITTEL", "OBER", "SUV"}},
		{"?page=5&pageSize=4", 8, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := a.call("frank", http.MethodGet, "/api/pricing/policies"+tt.query, "", "")
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			list := decode[policyList](t, r)
			var cats []pricing.Category
			for _, p := range list.Items {
				cats = append(cats, p.Category)
			}
			assert.Equal(t, tt.wantCats, cats)
			assert.Equal(t, tt.wantTotal, list.Total)
		})
	}

	// Every bad parameter is reported at once.
	r := a.call("frank", http.MethodGet, "/api/pricing/policies?category=BUS&location=berlin&activeAt=tomorrow&status=gone&page=0&pageSize=101&colour=orange", "", "")
	requireProblem(t, r, http.StatusBadRequest, "invalid", "category", "location", "activeAt", "status", "page", "pageSize", "colour")

	// The query string is read strictly (platform.ParseQuery): a ';' used as a separator, a
	// repeated or unknown parameter, a bad %-escape is a 400 naming it, never dropped.
	for _, tt := range []struct {
		query  string
		fields []string
	}{
		{"?page=1;pageSize=9999999", []string{"page"}},
		{"?status=all;category=LUXUS", []string{"status"}},
		{"?category=KLEIN&category=LUXUS", []string{"category"}},
		{"?status=all&limit=5", []string{"limit"}},
		{"?location=%ZZ", []string{"location"}},
	} {
		r := a.call("frank", http.MethodGet, "/api/pricing/policies"+tt.query, "", "")
		p := requireProblem(t, r, http.StatusBadRequest, "invalid", tt.fields...)
		assert.Len(t, p.Errors, len(tt.fields), tt.query)
	}
	// A time typed into a URL without encoding its "+" still reads.
	r = a.call("frank", http.MethodGet, "/api/pricing/policies?activeAt=2026-05-01T00:00:00+02:00", "", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
}

func TestPolicyLifecycle(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// A branch's own KOMPAKT rate from 1 April 2026.
	r := a.fleet(http.MethodPost, "/api/pricing/policies",
		`{"category":"kompakt","locationCode":" ber-hbf ","dailyRateNetCents":4499,"validFrom":"2026-04-01T00:00:00+02:00"}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	created := decode[pricing.RatePolicy](t, r)
	assert.Equal(t, "/api/pricing/policies/"+created.ID, r.header.Get("Location"))
	assert.Equal(t, `"1"`, r.header.Get("ETag"))
	assert.Equal(t, pricing.Category("KOMPAKT"), created.Category)
	require.NotNil(t, created.LocationCode)
	assert.Equal(t, "BER-HBF", *created.LocationCode)
	assert.Equal(t, int64(5354), created.DailyRateGrossCents) // 4499 + 854.81 → 855
	assert.Equal(t, 1, created.Version)

	got := a.call("carla", http.MethodGet, "/api/pricing/policies/"+created.ID, "", "")
	require.Equal(t, http.StatusOK, got.status)
	assert.Equal(t, created, decode[pricing.RatePolicy](t, got))

	rateAt := func(location, pickup string) (int64, string) {
		t.Helper()
		q := a.post("/api/pricing/quotes", fmt.Sprintf(`{"pickupLocation":%q,"pickupAt":%q,"returnAt":"2026-04-20T10:00:00+02:00","category":"KOMPAKT"}`, location, pickup))
		require.Equal(t, http.StatusOK, q.status, string(q.body))
		quote := decode[pricing.Quote](t, q)
		require.NotNil(t, quote.PolicyID)
		return quote.DailyRateNetCents, *quote.PolicyID
	}
	// The branch's policy beats the general one from its start; other branches keep the general rate.
	rate, policy := rateAt("BER-HBF", "2026-04-01T00:00:00+02:00")
	assert.Equal(t, int64(4499), rate)
	assert.Equal(t, created.ID, policy)
	rate, policy = rateAt("BER-HBF", "2026-03-31T23:59:59+02:00")
	assert.Equal(t, int64(3999), rate, "a second before the window opens, the general rate")
	assert.Equal(t, seedKompakt, policy)
	rate, _ = rateAt("MUC-FLG", "2026-04-10T10:00:00+02:00")
	assert.Equal(t, int64(3999), rate)

	// Update under If-Match.
	terms := `{"dailyRateNetCents":4599,"validFrom":"2026-04-01T00:00:00+02:00","validTo":"2026-10-01T00:00:00+02:00"}`
	r = a.fleet(http.MethodPut, "/api/pricing/policies/"+created.ID, terms, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	updated := decode[pricing.RatePolicy](t, r)
	assert.Equal(t, 2, updated.Version)
	assert.Equal(t, `"2"`, r.header.Get("ETag"))
	assert.Equal(t, int64(4599), updated.DailyRateNetCents)
	require.NotNil(t, updated.ValidTo)
	assert.Equal(t, "2026-09-30T22:00:00Z", updated.ValidTo.Format("2006-01-02T15:04:05Z07:00"))
	rate, _ = rateAt("BER-HBF", "2026-04-02T10:00:00+02:00")
	assert.Equal(t, int64(4599), rate)

	before := a.snapshot()
	stale := a.fleet(http.MethodPut, "/api/pricing/policies/"+created.ID, `{"dailyRateNetCents":1,"validFrom":"2026-04-01T00:00:00Z"}`, "If-Match", `"1"`)
	requireProblem(t, stale, http.StatusPreconditionFailed, "precondition-failed")
	assert.Equal(t, before, a.snapshot())

	// The same terms again change nothing, not even the version.
	r = a.fleet(http.MethodPut, "/api/pricing/policies/"+created.ID, terms)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, updated, decode[pricing.RatePolicy](t, r))
	assert.Equal(t, before, a.snapshot())

	// Deactivate: final, idempotent, and the general rate applies again.
	r = a.fleet(http.MethodPost, "/api/pricing/policies/"+created.ID+"/deactivate", "", "If-Match", `"2"`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	gone := decode[pricing.RatePolicy](t, r)
	assert.False(t, gone.Active)
	assert.NotNil(t, gone.DeactivatedAt)
	assert.Equal(t, 3, gone.Version)
	again := a.fleet(http.MethodPost, "/api/pricing/policies/"+created.ID+"/deactivate", "")
	require.Equal(t, http.StatusOK, again.status)
	assert.Equal(t, gone, decode[pricing.RatePolicy](t, again))
	rate, _ = rateAt("BER-HBF", "2026-04-02T10:00:00+02:00")
	assert.Equal(t, int64(3999), rate)

	before = a.snapshot()
	requireProblem(t, a.fleet(http.MethodPut, "/api/pricing/policies/"+created.ID, terms), http.StatusConflict, "conflict")
	requireProblem(t, a.fleet(http.MethodPost, "/api/pricing/policies/"+created.ID+"/deactivate", "", "If-Match", `"2"`), http.StatusPreconditionFailed, "precondition-failed")
	assert.Equal(t, before, a.snapshot())
}

// TestOverlapsAreImpossible walks a rate change the way a fleet manager does it (close the
// current window, open the next) and checks every overlap is refused with a 409 that names
// the policy in the way, while adjacent half-open windows are fine.
func TestOverlapsAreImpossible(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	create := func(body string) response {
		t.Helper()
		return a.fleet(http.MethodPost, "/api/pricing/policies", body)
	}
	steps := []struct {
		name       string
		do         func() response
		wantStatus int
	}{
		{"a general KOMPAKT rate overlapping the open seed", func() response {
			return create(`{"category":"KOMPAKT","dailyRateNetCents":4199,"validFrom":"2026-07-01T00:00:00+02:00"}`)
		}, 409},
		{"close the seed at 1 July", func() response {
			return a.fleet(http.MethodPut, "/api/pricing/policies/"+seedKompakt, `{"dailyRateNetCents":3999,"validFrom":"2025-01-01T00:00:00+01:00","validTo":"2026-07-01T00:00:00+02:00"}`)
		}, 200},
		{"a window starting a day early still overlaps", func() response {
			return create(`{"category":"KOMPAKT","dailyRateNetCents":4199,"validFrom":"2026-06-30T00:00:00+02:00"}`)
		}, 409},
		{"the next window starts where the last ends", func() response {
			return create(`{"category":"KOMPAKT","dailyRateNetCents":4199,"validFrom":"2026-07-01T00:00:00+02:00"}`)
		}, 201},
		{"reopening the seed now overlaps the new one", func() response {
			return a.fleet(http.MethodPut, "/api/pricing/policies/"+seedKompakt, `{"dailyRateNetCents":3999,"validFrom":"2025-01-01T00:00:00+01:00"}`)
		}, 409},
		{"a branch rate is another key", func() response {
			return create(`{"category":"KOMPAKT","locationCode":"BER-HBF","dailyRateNetCents":4499,"validFrom":"2025-01-01T00:00:00+01:00"}`)
		}, 201},
		{"a second branch rate for the same time is not", func() response {
			return create(`{"category":"KOMPAKT","locationCode":"BER-HBF","dailyRateNetCents":4599,"validFrom":"2026-05-01T00:00:00+02:00","validTo":"2026-06-01T00:00:00+02:00"}`)
		}, 409},
		{"another category is another key", func() response {
			return create(`{"category":"KLEIN","locationCode":"BER-HBF","dailyRateNetCents":3299,"validFrom":"2026-05-01T00:00:00+02:00"}`)
		}, 201},
	}
	for _, s := range steps {
		before := a.snapshot()
		r := s.do()
		require.Equal(t, s.wantStatus, r.status, "%s: %s", s.name, r.body)
		if s.wantStatus == http.StatusConflict {
			p := requireProblem(t, r, 409, "conflict")
			assert.Contains(t, p.Detail, "overlaps active rate policy", s.name)
			assert.Equal(t, before, a.snapshot(), s.name)
		}
	}

	// The rate switches exactly at the boundary.
	for pickup, want := range map[string]int64{"2026-06-30T23:59:00+02:00": 3999, "2026-07-01T00:00:00+02:00": 4199} {
		q := a.post("/api/pricing/quotes", `{"pickupLocation":"MUC-FLG","pickupAt":"`+pickup+`","returnAt":"2026-07-05T10:00:00+02:00","category":"KOMPAKT"}`)
		require.Equal(t, http.StatusOK, q.status, string(q.body))
		assert.Equal(t, want, decode[pricing.Quote](t, q).DailyRateNetCents, pickup)
	}

	// The schema itself refuses an overlap, whatever the code does.
	_, err := a.db.Pool.Exec(context.Background(), `INSERT INTO pricing.rate_policies (category, daily_rate_net_cents, valid_from)
		VALUES ('LUXUS', 100, '2030-01-01')`)
	require.Error(t, err)
	assert.True(t, database.IsCode(err, database.ExclusionViolation), err.Error())
	// … but not once the policy in the way is deactivated.
	require.Equal(t, http.StatusOK, a.fleet(http.MethodPost, "/api/pricing/policies/"+seedLuxus+"/deactivate", "").status)
	require.Equal(t, http.StatusCreated, create(`{"category":"LUXUS","dailyRateNetCents":15999,"validFrom":"2026-03-01T00:00:00+01:00"}`).status)
}

func TestSchemaRefusesWhatValidationRefuses(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tests := []struct {
		name, values string
	}{
		{"unknown category", `('BUS', NULL, 100, '2030-01-01', NULL, true, NULL)`},
		{"malformed branch", `('KLEIN', 'berlin', 100, '2030-01-01', NULL, true, NULL)`},
		{"zero rate", `('KLEIN', 'BER-HBF', 0, '2030-01-01', NULL, true, NULL)`},
		{"rate over the limit", `('KLEIN', 'BER-HBF', 1000001, '2030-01-01', NULL, true, NULL)`},
		{"empty window", `('KLEIN', 'BER-HBF', 100, '2030-01-01', '2030-01-01', true, NULL)`},
		{"inactive without deactivation time", `('KLEIN', 'BER-HBF', 100, '2030-01-01', NULL, false, NULL)`},
		{"active with deactivation time", `('KLEIN', 'BER-HBF', 100, '2030-01-01', NULL, true, now())`},
	}
	for _, tt := range tests {
		_, err := a.db.Pool.Exec(context.Background(), `INSERT INTO pricing.rate_policies
			(category, location_code, daily_rate_net_cents, valid_from, valid_to, active, deactivated_at) VALUES `+tt.values)
		require.Error(t, err, tt.name)
		assert.True(t, database.IsCode(err, database.CheckViolation), "%s: %v", tt.name, err)
	}
}
