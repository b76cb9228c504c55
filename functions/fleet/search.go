package fleet

import (
	"cmp"
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// MaxRentalDuration is the longest rental the system takes (design §4: at most 90 days).
const MaxRentalDuration = 90 * 24 * time.Hour

// pickupGrace lets a walk-in customer search for "now": a pickup at most this far in the
// past is still accepted.
const pickupGrace = 15 * time.Minute

// maxAdvance is how far ahead a pickup may be: two years, as pricing prices (it catches a
// typed 3025 without refusing any real early booking).
const maxAdvance = 730 * 24 * time.Hour

// SearchQuery is an availability search: where, when, what kind of car, how to order.
type SearchQuery struct {
	LocationCode string
	PickupAt     time.Time
	ReturnAt     time.Time
	Category     Category
	MinSeats     int
	Fuel         Fuel
	Transmission Transmission
	// MaxDailyGrossCents drops offers whose gross daily price (pricing's dailyGrossCents) is
	// higher; 0 means no limit.
	MaxDailyGrossCents int64
	Sort               string
	Page               int
	PageSize           int
}

// The orders a search can be sorted in; price (cheapest first) is the default.
var searchSorts = []string{"price", "-price", "name", "-name", "seats", "-seats"}

var searchParams = []string{"location", "pickup", "return", "category", "minSeats", "fuel", "transmission", "maxDailyGross", "sort", "page", "pageSize"}

// Offer is a vehicle that is free for the whole period, with its price for that period.
// It leaves out what a customer has no use for (plate, status, version).
type Offer struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Category     Category     `json:"category"`
	LocationCode string       `json:"locationCode"`
	Seats        int          `json:"seats"`
	Fuel         Fuel         `json:"fuel"`
	Transmission Transmission `json:"transmission"`
	Price        OfferPrice   `json:"price"`
}

// OfferPrice is pricing's price of one vehicle for the period, in euro cents (19 % VAT).
type OfferPrice struct {
	Currency        string  `json:"currency"`
	Days            int     `json:"days"`
	DailyNetCents   int64   `json:"dailyNetCents"`
	DailyGrossCents int64   `json:"dailyGrossCents"`
	DiscountPercent float64 `json:"discountPercent"`
	TotalNetCents   int64   `json:"totalNetCents"`
	TotalVatCents   int64   `json:"totalVatCents"`
	TotalGrossCents int64   `json:"totalGrossCents"`
}

// SearchResult is one page of offers. Truncated says that more vehicles matched than one
// search prices (FLEET_SEARCH_MAX_CANDIDATES); the offers then come from the first of them
// by name, and a narrower search (a category, say) sees the rest.
type SearchResult struct {
	Items        []Offer   `json:"items"`
	Page         int       `json:"page"`
	PageSize     int       `json:"pageSize"`
	Total        int       `json:"total"`
	Truncated    bool      `json:"truncated"`
	LocationCode string    `json:"locationCode"`
	PickupAt     time.Time `json:"pickupAt"`
	ReturnAt     time.Time `json:"returnAt"`
}

// parseSearch reads and validates a search's query, listing every bad parameter at once.
func parseSearch(q url.Values, now time.Time) (SearchQuery, error) {
	p := newParams(q, searchParams)
	s := SearchQuery{
		LocationCode: NormalizeLocationCode(p.get("location")),
		Category:     Category(strings.ToUpper(p.get("category"))),
		Fuel:         Fuel(strings.ToLower(p.get("fuel"))),
		Transmission: Transmission(strings.ToLower(p.get("transmission"))),
		Sort:         p.get("sort"),
	}
	switch {
	case s.LocationCode == "":
		p.fail("location", "required: the pickup branch, such as BER-HBF")
	case !ValidLocationCode(s.LocationCode):
		p.fail("location", "must be a branch code such as BER-HBF")
	}
	s.PickupAt = p.time("pickup")
	s.ReturnAt = p.time("return")
	if !s.PickupAt.IsZero() && !s.ReturnAt.IsZero() {
		switch {
		case !s.ReturnAt.After(s.PickupAt):
			p.fail("return", "must be after pickup")
		case s.ReturnAt.Sub(s.PickupAt) > MaxRentalDuration:
			p.fail("return", "a rental lasts at most 90 days")
		}
	}
	switch {
	case s.PickupAt.IsZero():
	case s.PickupAt.Before(now.Add(-pickupGrace)):
		p.fail("pickup", "must not be in the past")
	case s.PickupAt.After(now.Add(maxAdvance)):
		p.fail("pickup", "must be at most 2 years ahead")
	}
	if s.Category != "" && !s.Category.valid() {
		p.fail("category", "must be one of "+join(categories))
	}
	if s.Fuel != "" && !s.Fuel.valid() {
		p.fail("fuel", "must be one of "+join(fuels))
	}
	if s.Transmission != "" && !s.Transmission.valid() {
		p.fail("transmission", "must be manual or automatic")
	}
	s.MinSeats = int(p.int("minSeats", 1, 9, 1))
	s.MaxDailyGrossCents = p.int("maxDailyGross", 1, 100_000_000, 0)
	if s.Sort == "" {
		s.Sort = "price"
	}
	if !slices.Contains(searchSorts, s.Sort) {
		p.fail("sort", "must be one of "+strings.Join(searchSorts, ", "))
	}
	s.Page, s.PageSize = p.paging()
	return s, p.err("invalid search")
}

// search finds the vehicles free for the whole period, prices them through pricing, then
// filters by price, sorts and cuts the page: price filter and price order need the prices,
// so they come after pricing, over a candidate set bounded by maxCandidates.
func (s *Service) search(ctx context.Context, q SearchQuery) (SearchResult, error) {
	res := SearchResult{Items: []Offer{}, Page: q.Page, PageSize: q.PageSize, LocationCode: q.LocationCode,
		PickupAt: q.PickupAt, ReturnAt: q.ReturnAt}
	cands, err := s.store.Candidates(ctx, q, s.cfg.MaxCandidates+1)
	if err != nil || len(cands) == 0 {
		return res, err
	}
	if len(cands) > s.cfg.MaxCandidates {
		cands, res.Truncated = cands[:s.cfg.MaxCandidates], true
	}
	prices, days, err := s.price(ctx, q, cands)
	if err != nil {
		return res, err
	}
	offers := make([]Offer, 0, len(cands))
	for _, v := range cands {
		pr := prices[v.ID]
		if q.MaxDailyGrossCents > 0 && pr.DailyGrossCents > q.MaxDailyGrossCents {
			continue
		}
		offers = append(offers, Offer{ID: v.ID, Name: v.Name, Category: v.Category, LocationCode: v.LocationCode,
			Seats: v.Seats, Fuel: v.Fuel, Transmission: v.Transmission, Price: OfferPrice{
				Currency: "EUR", Days: days, DailyNetCents: pr.DailyNetCents, DailyGrossCents: pr.DailyGrossCents,
				DiscountPercent: float64(pr.DiscountPercent), TotalNetCents: pr.TotalNetCents, TotalVatCents: pr.TotalVATCents,
				TotalGrossCents: pr.TotalGrossCents,
			}})
	}
	slices.SortStableFunc(offers, offerOrder(q.Sort))
	res.Total = len(offers)
	from := min((q.Page-1)*q.PageSize, len(offers))
	res.Items = offers[from:min(from+q.PageSize, len(offers))]
	return res, nil
}

// offerOrder compares offers for a sort key; ties fall back to name, then id, so pages are
// stable from one request to the next.
func offerOrder(sort string) func(a, b Offer) int {
	byName := func(a, b Offer) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.ID, b.ID))
	}
	byPrice := func(a, b Offer) int { return cmp.Compare(a.Price.TotalGrossCents, b.Price.TotalGrossCents) }
	bySeats := func(a, b Offer) int { return cmp.Compare(a.Seats, b.Seats) }
	switch sort {
	case "-price":
		return func(a, b Offer) int { return cmp.Or(byPrice(b, a), byName(a, b)) }
	case "name":
		return byName
	case "-name":
		return func(a, b Offer) int { return byName(b, a) }
	case "seats":
		return func(a, b Offer) int { return cmp.Or(bySeats(a, b), byPrice(a, b), byName(a, b)) }
	case "-seats":
		return func(a, b Offer) int { return cmp.Or(bySeats(b, a), byPrice(a, b), byName(a, b)) }
	default:
		return func(a, b Offer) int { return cmp.Or(byPrice(a, b), byName(a, b)) }
	}
}

// params reads query parameters strictly: unknown and repeated parameters are errors, and
// every problem is collected so the answer lists them all.
type params struct {
	q    url.Values
	errs []platform.FieldError
}

func newParams(q url.Values, allowed []string) *params {
	p := &params{q: q}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case !slices.Contains(allowed, k):
			p.fail(k, "unknown parameter; supported: "+strings.Join(allowed, ", "))
		case len(q[k]) > 1:
			p.fail(k, "give it once")
		}
	}
	return p
}

func (p *params) fail(field, reason string) {
	p.errs = append(p.errs, platform.FieldError{Field: field, Reason: reason})
}

func (p *params) get(key string) string { return strings.TrimSpace(p.q.Get(key)) }

// time reads a required RFC 3339 time.
func (p *params) time(key string) time.Time {
	raw := p.get(key)
	if raw == "" {
		p.fail(key, "required: an RFC 3339 time such as 2026-06-01T10:00:00+02:00")
		return time.Time{}
	}
	// An unencoded "+02:00" in a URL arrives as " 02:00"; there is no other space in a time.
	t, err := time.Parse(time.RFC3339, strings.Replace(raw, " ", "+", 1))
	if err != nil {
		p.fail(key, "must be an RFC 3339 time such as 2026-06-01T10:00:00+02:00")
		return time.Time{}
	}
	return t
}

// int reads an optional integer within [lo, hi], def when absent.
func (p *params) int(key string, lo, hi, def int64) int64 {
	raw := p.get(key)
	if raw == "" {
		return def
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < lo || n > hi {
		p.fail(key, "must be a whole number from "+strconv.FormatInt(lo, 10)+" to "+strconv.FormatInt(hi, 10))
		return def
	}
	return n
}

// paging reads page (from 1) and pageSize (default 20, at most 100).
func (p *params) paging() (page, size int) {
	return int(p.int("page", 1, 1_000_000, 1)), int(p.int("pageSize", 1, 100, 20))
}

func (p *params) err(message string) error {
	if len(p.errs) == 0 {
		return nil
	}
	return platform.Invalid(message, p.errs...)
}
