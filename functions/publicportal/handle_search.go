package publicportal

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// The search: a GET form, so a search is a link that can be shared and reloaded.

// searchView is the search page's data.
type searchView struct {
	Form                                         *web.Form
	Location, Category, Fuel, Transmission, Sort selectView
	Searched                                     bool
	Offers                                       []offerView
	Truncated                                    bool
	PrevURL, NextURL                             string
}

// offerView is one offer ready to print.
type offerView struct {
	Offer
	Daily, Total, TotalLabel, FuelLabel, TransmissionLabel, SeatsLabel, ChooseLabel string
	URL                                                                             string
}

// apis returns the calls for one page request: as the signed-in user or anonymously, with the
// browser's address (reservations counts guest holds per address; clientaddr.go).
func (s *Service) apis(r *http.Request, p *web.Request) apis {
	h := http.Header{}
	_, addr, _ := s.proxies.ClientAddr(r)
	h.Set(platform.ClientAddressHeader, addr)
	return apis{c: p.API(r.Context()), headers: h}
}

// searchDefaults fills an empty search form: Berlin, tomorrow 10:00 for three days.
func searchDefaults(v url.Values, branches []Branch, now time.Time) url.Values {
	if v.Get("location") == "" && len(branches) > 0 {
		v.Set("location", branches[0].Code)
		if b, ok := branchByCode(branches, "BER-HBF"); ok {
			v.Set("location", b.Code)
		}
	}
	zone := time.UTC
	b, known := branchByCode(branches, v.Get("location"))
	if known {
		zone = b.Zone()
	}
	// 10:00 on a day the branch is open at 10:00: the search, as a booking, is refused
	// outside the branch's hours, and the form's defaults must not be (a Saturday's
	// "tomorrow" is a Sunday many branches are closed on).
	openAt10 := func(from time.Time) time.Time {
		first := time.Date(from.Year(), from.Month(), from.Day(), 10, 0, 0, 0, zone)
		for k := range 14 {
			at := first.AddDate(0, 0, k)
			if open, err := b.location().OpenAt(at); !known || (err == nil && open) {
				return at
			}
		}
		return first
	}
	start := openAt10(now.In(zone).AddDate(0, 0, 1))
	if v.Get("pickup") == "" {
		v.Set("pickup", localInput(start, zone))
	}
	if v.Get("return") == "" {
		v.Set("return", localInput(openAt10(start.AddDate(0, 0, 3)), zone))
	}
	return v
}

func (s *Service) searchView(p *web.Request, f *web.Form, branches []Branch) *searchView {
	sel := func(name, prefix, any string, values []string) selectView {
		return selectView{Form: f, Name: name, Label: p.T("search." + name), Any: any, Options: options(p, prefix, values, f.Get(name))}
	}
	return &searchView{
		Form:         f,
		Location:     selectView{Form: f, Name: "location", Label: p.T("search.location"), Options: branchOptions(branches, f.Get("location"))},
		Category:     sel("category", "", p.T("search.any"), rental.Categories()),
		Fuel:         sel("fuel", "fuel.", p.T("search.any"), fuels),
		Transmission: sel("transmission", "transmission.", p.T("search.any"), transmissions),
		Sort:         sel("sort", "sort.", "", searchSorts),
	}
}

func (s *Service) handleHome(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	a := s.apis(r, p)
	branches, err := a.Branches(r.Context())
	if err != nil {
		return err
	}
	f := web.NewForm(searchDefaults(url.Values{}, branches, s.now()))
	return p.Render(w, http.StatusOK, "search", s.searchView(p, f, branches))
}

func (s *Service) handleSearch(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	a := s.apis(r, p)
	branches, err := a.Branches(r.Context())
	if err != nil {
		return err
	}
	f := web.NewForm(r.URL.Query())
	q, t, errs := searchQuery(f.Values, branches, s.now())
	for field, key := range errs {
		f.Invalid(field, p.T(key))
	}
	closedThen(p, f, t, false)
	v := s.searchView(p, f, branches)
	if !f.OK() {
		return p.Render(w, http.StatusBadRequest, "search", v)
	}
	res, err := a.Search(r.Context(), q)
	if err != nil {
		if p.Absorb(f, err, nil) {
			return p.Render(w, http.StatusBadRequest, "search", v)
		}
		return err
	}
	v.Searched, v.Truncated = true, res.Truncated
	trip := url.Values{"location": {f.Get("location")}, "pickup": {f.Get("pickup")}, "return": {f.Get("return")}}
	for _, o := range res.Items {
		v.Offers = append(v.Offers, offerView{
			Offer: o, Daily: money(p.Lang, o.Price.DailyGrossCents), Total: money(p.Lang, o.Price.TotalGrossCents),
			TotalLabel: daysTotal(p, o.Price.Days), FuelLabel: p.T("fuel." + o.Fuel),
			TransmissionLabel: p.T("transmission." + o.Transmission), SeatsLabel: p.T("vehicle.seats", o.Seats),
			ChooseLabel: p.T("search.choose.label", o.Name),
			URL:         p.Path("vehicles/"+url.PathEscape(o.ID)) + "?" + trip.Encode(),
		})
	}
	page := max(1, res.Page)
	if res.PageSize > 0 && page*res.PageSize < res.Total {
		next := r.URL.Query()
		next.Set("page", strconv.Itoa(page+1))
		v.NextURL = p.Path("search") + "?" + next.Encode()
	}
	if page > 1 {
		prev := r.URL.Query()
		prev.Set("page", strconv.Itoa(page-1))
		v.PrevURL = p.Path("search") + "?" + prev.Encode()
	}
	return p.Render(w, http.StatusOK, "search", v)
}

// daysTotal labels a total for days ("gesamt für 1 Tag", "… für 3 Tage").
func daysTotal(p *web.Request, days int) string {
	if days == 1 {
		return p.T("search.total1")
	}
	return p.T("search.total", days)
}
