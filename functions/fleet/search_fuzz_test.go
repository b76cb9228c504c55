package fleet

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
)

// FuzzParseSearch feeds fuzzed query strings to the search's query parser (pagination, sort,
// filters and the rental period). It must never panic; a refusal is a 400 naming fields;
// an accepted search holds only known parameters, each once, within their documented
// ranges; and the search parses the same again from its own re-encoded query.
func FuzzParseSearch(f *testing.F) {
	base := "location=BER-HBF&pickup=2026-06-01T10:00:00%2B02:00&return=2026-06-04T10:00:00%2B02:00"
	for _, s := range []string{
		base,
		base + "&sort=-price&page=2&pageSize=50&minSeats=5&maxDailyGross=12000&category=SUV&fuel=electric&transmission=automatic",
		base + "&page=0", base + "&page=1000001", base + "&pageSize=101", base + "&page=9223372036854775808",
		base + "&page=-1&pageSize=0&sort=cheap", base + "&page=1&page=2", base + "&limit=10",
		base + "&sort=", base + "&sort=%20name%20",
		"location=ber-hbf&pickup=2026-06-01T10:00:00+02:00&return=2026-06-01T09:00:00+02:00",
		"location=BER-HBF&pickup=2026-06-01T10:00:00Z&return=2026-12-01T10:00:00Z",
		"location=BER-HBF&pickup=2020-06-01T10:00:00Z&return=2020-06-02T10:00:00Z",
		"location=BER-HBF&pickup=2030-06-01T10:00:00Z&return=2030-06-02T10:00:00Z",
		"location=%ZZ&pickup=x", "", "&&&=", "location", "page=%00",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // the pairs that parse, to check what was accepted
		s, err := parseSearch(queryRequest(raw), now)
		if err != nil {
			var perr *platform.Error
			if !errors.As(err, &perr) || perr.Kind != platform.KindInvalid || len(perr.Fields) == 0 {
				t.Fatalf("parseSearch(%q): %v, want a 400 naming the fields", raw, err)
			}
			return
		}
		for k, vs := range q {
			if !slices.Contains(searchParams, k) || len(vs) != 1 {
				t.Fatalf("parseSearch(%q) accepted parameter %q given %d times", raw, k, len(vs))
			}
		}
		switch {
		case !rental.ValidBranchCode(s.LocationCode):
			t.Fatalf("location %q", s.LocationCode)
		case s.PickupAt.IsZero() || !s.ReturnAt.After(s.PickupAt) || s.ReturnAt.Sub(s.PickupAt) > MaxRentalDuration:
			t.Fatalf("period %s – %s", s.PickupAt, s.ReturnAt)
		case s.PickupAt.Before(now.Add(-pickupGrace)) || s.PickupAt.After(rental.LatestPickup(now)):
			t.Fatalf("pickup %s for now %s", s.PickupAt, now)
		case s.Page < 1 || s.Page > 1_000_000 || s.PageSize < 1 || s.PageSize > 100:
			t.Fatalf("page %d, size %d", s.Page, s.PageSize)
		case s.MinSeats < 1 || s.MinSeats > 9 || s.MaxDailyGrossCents < 0:
			t.Fatalf("minSeats %d, maxDailyGross %d", s.MinSeats, s.MaxDailyGrossCents)
		case !slices.Contains(searchSorts, s.Sort):
			t.Fatalf("sort %q", s.Sort)
		case s.Category != "" && !s.Category.valid(), s.Fuel != "" && !s.Fuel.valid(),
			s.Transmission != "" && !s.Transmission.valid():
			t.Fatalf("category %q, fuel %q, transmission %q", s.Category, s.Fuel, s.Transmission)
		}
		again, err := parseSearch(queryRequest(q.Encode()), now)
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("re-encoded %q: %+v, %v; want %+v", q.Encode(), again, err, s)
		}
	})
}

// queryRequest is a search request with the raw query string, as it arrives.
func queryRequest(raw string) *http.Request {
	return &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/api/vehicles", RawQuery: raw}}
}
