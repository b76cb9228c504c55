package fleet

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
)

// MaxRentalDuration is the longest rental the system takes (design §4: at most 90 days).
const MaxRentalDuration = 90 * 24 * time.Hour

// pickupGrace lets a walk-in customer search for "now": a pickup at most this far in the
// past is still accepted.
const pickupGrace = 15 * time.Minute

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

// parseSearch reads and validates a search's query strictly (platform.ParseQuery: unknown,
// repeated or malformed parameters, ';' as a separator included, are named), listing every
// bad parameter at once.
func parseSearch(r *http.Request, now time.Time) (SearchQuery, error) {
	p := platform.ParseQuery(r, searchParams...)
	s := SearchQuery{
		LocationCode: NormalizeLocationCode(p.Get("location")),
		Category:     Category(strings.ToUpper(p.Get("category"))),
		Fuel:         Fuel(strings.ToLower(p.Get("fuel"))),
		Transmission: Transmission(strings.ToLower(p.Get("transmission"))),
		Sort:         p.Get("sort"),
	}
	switch {
	case s.LocationCode == "":
		p.Fail("location", "required: the pickup branch, such as BER-HBF")
	case !rental.ValidBranchCode(s.LocationCode):
		p.Fail("location", "must be a branch code such as BER-HBF")
	}
	s.PickupAt = p.Time("pickup", true)
	s.ReturnAt = p.Time("return", true)
	if !s.PickupAt.IsZero() && !s.ReturnAt.IsZero() {
		switch {
		case !s.ReturnAt.After(s.PickupAt):
			p.Fail("return", "must be after pickup")
		case s.ReturnAt.Sub(s.PickupAt) > MaxRentalDuration:
			p.Fail("return", "a rental lasts at most 90 days")
		}
	}
	switch {
	case s.PickupAt.IsZero():
	case s.PickupAt.Before(now.Add(-pickupGrace)):
		p.Fail("pickup", "must not be in the past")
	case s.PickupAt.After(rental.LatestPickup(now)):
		p.Fail("pickup", rental.TooFarAhead)
	}
	if s.Category != "" && !s.Category.valid() {
		p.Fail("category", "must be one of "+rental.CategoryList())
	}
	if s.Fuel != "" && !s.Fuel.valid() {
		p.Fail("fuel", "must be one of "+join(fuels))
	}
	if s.Transmission != "" && !s.Transmission.valid() {
		p.Fail("transmission", "must be manual or automatic")
	}
	s.MinSeats = int(p.Int("minSeats", 1, 9, 1))
	s.MaxDailyGrossCents = p.Int("maxDailyGross", 1, 100_000_000, 0)
	if s.Sort == "" {
		s.Sort = "price"
	}
	if !slices.Contains(searchSorts, s.Sort) {
		p.Fail("sort", "must be one of "+strings.Join(searchSorts, ", "))
	}
	s.Page, s.PageSize = p.Paging()
	return s, p.Err("invalid search")
}

// search finds the vehicles free for the whole period, prices them through pricing, then
// filters by price, sorts and cuts the page: price filter and price order need the prices,
// so they come after pricing, over a candidate set bounded by maxCandidates.
func (s *Service) search(ctx context.Context, q SearchQuery) (SearchResult, error) {
	res := SearchResult{Items: []Offer{}, Page: q.Page, PageSize: q.PageSize, LocationCode: q.LocationCode,
		PickupAt: q.PickupAt, ReturnAt: q.ReturnAt}
	if err := s.branchTakes(ctx, q); errors.Is(err, errNoSuchBranch) {
		return res, nil // none of its cars can be booked
	} else if err != nil {
		return res, err
	}
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
	// Sort small entries (a price, a seat count, the lower-cased name, an index), not whole
	// offers: a 200-car search swapped ~250-byte structs ~1,500 times; only the page's offers
	// are built (issue 19).
	ranks := make([]ranked, 0, len(cands))
	for i, v := range cands {
		if prices[i].Key == "" {
			continue // no rate policy prices its kind at the branch: no booking could
		}
		if q.MaxDailyGrossCents > 0 && prices[i].DailyGrossCents > q.MaxDailyGrossCents {
			continue
		}
		ranks = append(ranks, ranked{gross: prices[i].TotalGrossCents, seats: v.Seats, name: strings.ToLower(v.Name), id: v.ID, i: i})
	}
	// Every order ends in the id, so it is total and a plain sort is stable enough.
	slices.SortFunc(ranks, offerOrder(q.Sort))
	res.Total = len(ranks)
	from := min((q.Page-1)*q.PageSize, len(ranks))
	page := ranks[from:min(from+q.PageSize, len(ranks))]
	res.Items = make([]Offer, len(page))
	for j, r := range page {
		v, pr := cands[r.i], prices[r.i]
		res.Items[j] = Offer{ID: v.ID, Name: v.Name, Category: v.Category,
			LocationCode: v.LocationCode, Seats: v.Seats, Fuel: v.Fuel, Transmission: v.Transmission, Price: OfferPrice{
				Currency: "EUR", Days: days, DailyNetCents: pr.DailyNetCents, DailyGrossCents: pr.DailyGrossCents,
				DiscountPercent: float64(pr.DiscountPercent), TotalNetCents: pr.TotalNetCents, TotalVatCents: pr.TotalVATCents,
				TotalGrossCents: pr.TotalGrossCents,
			}}
	}
	return res, nil
}

// ranked is what the orders compare of a candidate, its name lower-cased once (a comparison
// that lower-cased both names allocated twice per comparison: ~8 % of a search's CPU at 200
// candidates), and its index among the candidates.
type ranked struct {
	gross int64
	seats int
	name  string
	id    string
	i     int
}

// offerOrder compares offers for a sort key; ties fall back to name, then id, so pages are
// stable from one request to the next. A later key is compared only on a tie (cmp.Or would
// compare every key every time: most comparisons of a price sort are settled by the price).
func offerOrder(sort string) func(a, b ranked) int {
	byName := func(a, b ranked) int {
		if c := cmp.Compare(a.name, b.name); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	}
	byPrice := func(a, b ranked) int {
		if c := cmp.Compare(a.gross, b.gross); c != 0 {
			return c
		}
		return byName(a, b)
	}
	bySeats := func(a, b ranked) int {
		if c := cmp.Compare(a.seats, b.seats); c != 0 {
			return c
		}
		return byPrice(a, b)
	}
	switch sort {
	case "-price":
		return func(a, b ranked) int {
			if c := cmp.Compare(b.gross, a.gross); c != 0 {
				return c
			}
			return byName(a, b)
		}
	case "name":
		return byName
	case "-name":
		return func(a, b ranked) int { return byName(b, a) }
	case "seats":
		return bySeats
	case "-seats":
		return func(a, b ranked) int {
			if c := cmp.Compare(b.seats, a.seats); c != 0 {
				return c
			}
			return byPrice(a, b)
		}
	default:
		return byPrice
	}
}

// branchTakes holds a search to the rules a booking's pickup is held to (reservations checks
// the same, with locationsapi's Refusal): a branch closed or in maintenance, or a pickup
// outside its opening hours, is a 422 naming the field and the hours —
// offers it listed were each refused at booking. A branch locations-api does not know is
// errNoSuchBranch: the search finds no cars, though a fleet manager may have put cars there
// ahead of its opening (a booking of them is refused: "no such branch"). A locations-api
// that does not answer leaves the search as it was: the booking checks again, and a search
// is no promise.
func (s *Service) branchTakes(ctx context.Context, q SearchQuery) error {
	b, err := s.branches.Location(ctx, q.LocationCode)
	if errors.Is(err, locationsapi.ErrUnknown) {
		return errNoSuchBranch
	}
	if err != nil {
		platform.LoggerFrom(ctx).WarnContext(ctx, "search without the branch's hours", slog.String("branch", q.LocationCode), slog.String("error", err.Error()))
		return nil
	}
	// The pickup only: the search names no return branch, and a one-way trip is returned at
	// another branch's hours — held to the pickup branch's, it refused trips the booking
	// takes. The booking checks the return at its branch.
	f := b.Refusal("location", "pickup", "picked up", q.PickupAt)
	if f == nil {
		return nil
	}
	return &platform.Error{Kind: platform.KindUnprocessable, Fields: []platform.FieldError{*f},
		Message: "no car can be booked for this search: " + f.Reason}
}

// errNoSuchBranch is branchTakes' answer for a branch locations-api does not know.
var errNoSuchBranch = errors.New("no such branch")
