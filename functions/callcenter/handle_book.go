package callcenter

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// Booking on a customer's behalf: the agent chooses branches, times and (optionally) a
// category and sees the free cars with their gross prices (vehicles-api); then picks a car,
// the insurance and extras, has it quoted (pricing-api) and books it (reservations-api) with
// a payment method. The card never reaches the portal or the agent: the booking names a
// payment method (pm_…) payments-api made of the customer's card, or — with
// PORTAL_SANDBOX_CARDS — one of the sandbox provider's test tokens, which the portal has
// tokenized (docs/call-center-portal.md).

// sandboxTokens are the sandbox provider's test tokens an agent may book with in
// development.
var sandboxTokens = []string{"tok_success", "tok_decline", "tok_insufficient_funds"}

var paymentMethodPattern = regexp.MustCompile(`^pm_[0-9a-f]{32}$`)

// categories are the vehicle categories (design.md §4).
var categories = []string{"KLEIN", "KOMPAKT", "MITTEL", "OBER", "SUV", "KOMBI", "TRANS", "LUXUS"}

// bookPage is the booking page's data.
type bookPage struct {
	F          Fmt
	Customer   Customer
	Form       *web.Form
	Categories []string
	Catalogue  Catalogue
	// Searched: the trip is valid and Offers are the free cars for it.
	Searched bool
	Offers   []Offer
	Quote    *pricingapi.Quote
	Key      string
	Sandbox  []string
}

// trip is a validated search.
type trip struct {
	pickupLocation, returnLocation, category string
	pickupAt, returnAt                       time.Time
}

// parseTrip checks the search's fields into f: branches known to locations-api, times on
// their branches' clocks, a known category if any.
func parseTrip(p *web.Request, f *web.Form, fm Fmt) trip {
	t := trip{
		pickupLocation: strings.ToUpper(strings.TrimSpace(f.Get("pickupLocation"))),
		returnLocation: strings.ToUpper(strings.TrimSpace(f.Get("returnLocation"))),
		category:       strings.ToUpper(strings.TrimSpace(f.Get("category"))),
	}
	known := func(code string) bool {
		return slices.ContainsFunc(fm.Branches, func(l locationsapi.Location) bool { return l.Code == code })
	}
	if !known(t.pickupLocation) {
		f.Invalid("pickupLocation", p.T("bad.branch"))
	}
	if t.returnLocation == "" {
		t.returnLocation = t.pickupLocation
	} else if !known(t.returnLocation) {
		f.Invalid("returnLocation", p.T("bad.branch"))
	}
	if t.category != "" && !slices.Contains(categories, t.category) {
		f.Invalid("category", p.T("bad.category"))
	}
	t.pickupAt, _ = parseLocal(p, f, "pickupAt", fm.Zone(t.pickupLocation))
	var ok bool
	t.returnAt, ok = parseLocal(p, f, "returnAt", fm.Zone(t.returnLocation))
	if ok && !t.pickupAt.IsZero() && !t.returnAt.After(t.pickupAt) {
		f.Invalid("returnAt", p.T("bad.returnAfterPickup"))
	}
	return t
}

// bookForm is the search and, once the trip is valid, the free cars to choose from.
func (s *Service) bookForm(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id, err := pathID(r, "customer")
	if err != nil {
		return err
	}
	d, err := s.bookPage(r, p, id, web.NewForm(r.URL.Query()))
	if err != nil {
		return err
	}
	if d.Form.Get("pickupLocation") == "" && d.Form.Get("pickupAt") == "" {
		return p.Render(w, http.StatusOK, "customers/book", d)
	}
	_, status, err := s.search(r, p, d)
	if err != nil {
		return err
	}
	return p.Render(w, status, "customers/book", d)
}

func (s *Service) bookPage(r *http.Request, p *web.Request, id string, f *web.Form) (*bookPage, error) {
	a := client(r, p)
	c, err := a.customer(r.Context(), id)
	if err != nil {
		return nil, err
	}
	cat, err := a.catalogue(r.Context())
	if err != nil {
		return nil, err
	}
	d := &bookPage{F: s.formatter(r, p), Customer: c, Form: f, Categories: categories, Catalogue: cat, Key: f.Get("key")}
	if d.Key == "" {
		d.Key = formKey()
	}
	if s.sandboxCards {
		d.Sandbox = sandboxTokens
	}
	return d, nil
}

// search validates the trip and lists the free cars (vehicles-api's availability search).
func (s *Service) search(r *http.Request, p *web.Request, d *bookPage) (trip, int, error) {
	t := parseTrip(p, d.Form, d.F)
	if !d.Form.OK() {
		return t, http.StatusBadRequest, nil
	}
	q := url.Values{"location": {t.pickupLocation}, "pickup": {t.pickupAt.UTC().Format(time.RFC3339)},
		"return": {t.returnAt.UTC().Format(time.RFC3339)}, "pageSize": {"50"}}
	if t.category != "" {
		q.Set("category", t.category)
	}
	offers, err := client(r, p).offers(r.Context(), q)
	if err != nil {
		if absorb(p, d.Form, err, map[string]string{"location": "pickupLocation", "pickup": "pickupAt", "return": "returnAt"}) {
			return t, http.StatusBadRequest, nil
		}
		return t, 0, err
	}
	d.Searched, d.Offers = true, offers.Items
	return t, http.StatusOK, nil
}

// extras reads the extras' quantities (fields extra-<CODE>) against the catalogue.
func extras(p *web.Request, f *web.Form, cat Catalogue) []pricingapi.ExtraRequest {
	var out []pricingapi.ExtraRequest
	for _, e := range cat.Extras {
		v := strings.TrimSpace(f.Get("extra-" + e.Code))
		if v == "" || v == "0" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > max(e.MaxQuantity, 1) {
			f.Invalid("extra-"+e.Code, p.T("bad.quantity"))
			continue
		}
		out = append(out, pricingapi.ExtraRequest{Code: e.Code, Quantity: &n})
	}
	return out
}

// book quotes (action=quote) or books (action=book) the chosen car for the customer.
func (s *Service) book(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id, err := pathID(r, "customer")
	if err != nil {
		return err
	}
	d, err := s.bookPage(r, p, id, postForm(r))
	if err != nil {
		return err
	}
	t, status, err := s.search(r, p, d)
	if err != nil || status != http.StatusOK {
		if err != nil {
			return err
		}
		return p.Render(w, status, "customers/book", d)
	}
	f := d.Form
	vehicle := strings.TrimSpace(f.Get("vehicleId"))
	var offer *Offer
	for i := range d.Offers {
		if d.Offers[i].ID == vehicle {
			offer = &d.Offers[i]
		}
	}
	if offer == nil {
		if f.Get("action") == "book" {
			// The form sent again (a double click, a reload of the POST): its booking took the
			// car off the offers. That booking is the answer, not "choose a free car".
			if booked, ok := s.bookedBefore(r, p, id, vehicle, t); ok {
				return p.Redirect(w, "reservations/"+booked+"?done=book")
			}
		}
		f.Invalid("vehicleId", p.T("bad.vehicleId"))
	}
	insurance := strings.TrimSpace(f.Get("insurance"))
	if insurance != "" && !slices.ContainsFunc(d.Catalogue.Insurance, func(i CatalogueInsurance) bool { return i.Code == insurance }) {
		f.Invalid("insurance", p.T("bad.insurance"))
	}
	ex := extras(p, f, d.Catalogue)
	if !f.OK() {
		return p.Render(w, http.StatusBadRequest, "customers/book", d)
	}
	a := client(r, p)
	quote := pricingapi.QuoteRequest{PickupLocation: t.pickupLocation, ReturnLocation: t.returnLocation,
		PickupAt: t.pickupAt.UTC().Format(time.RFC3339Nano), ReturnAt: t.returnAt.UTC().Format(time.RFC3339Nano),
		Category: offer.Category, Insurance: insurance, Extras: ex}
	q, err := a.quote(r.Context(), quote)
	if err != nil {
		if absorb(p, f, err, nil) {
			return p.Render(w, http.StatusBadRequest, "customers/book", d)
		}
		return err
	}
	d.Quote = &q
	if f.Get("action") != "book" {
		return p.Render(w, http.StatusOK, "customers/book", d)
	}
	pm, err := s.paymentMethod(r, p, f)
	if err != nil {
		return err
	}
	if !f.OK() {
		return p.Render(w, http.StatusBadRequest, "customers/book", d)
	}
	res, err := a.book(r.Context(), f.Get("key"), booking{
		CustomerID: id, VehicleID: offer.ID, Category: offer.Category,
		PickupLocation: t.pickupLocation, ReturnLocation: t.returnLocation, PickupAt: quote.PickupAt, ReturnAt: quote.ReturnAt,
		Insurance: insurance, Extras: ex, PaymentMethodID: pm,
	})
	if err != nil {
		var call *platform.CallError
		if errors.As(err, &call) && (call.Status == http.StatusConflict || call.Status == http.StatusUnprocessableEntity) {
			// The car taken, or the key used with another body (a sandbox card tokenized
			// anew for the repeat): by this form's first submit, if the customer holds it.
			if booked, ok := s.bookedBefore(r, p, id, offer.ID, t); ok {
				return p.Redirect(w, "reservations/"+booked+"?done=book")
			}
		}
		if absorb(p, f, err, nil) {
			return p.Render(w, statusOfForm(err), "customers/book", d)
		}
		return err
	}
	return p.Redirect(w, "reservations/"+res.ID+"?done=book")
}

// bookedBefore finds the booking a repeated submit of the booking form made before: the
// customer's pending or confirmed booking of vehicle for the very period t asks. There is at
// most one (the exclusion constraint), and it is the one the agent meant to make. A failed
// lookup finds nothing: the form then says what it would have said.
func (s *Service) bookedBefore(r *http.Request, p *web.Request, customer, vehicle string, t trip) (string, bool) {
	if !platform.ValidUUID(vehicle) {
		return "", false
	}
	found, err := client(r, p).reservations(r.Context(), url.Values{"customer": {customer}, "vehicle": {strings.ToLower(vehicle)},
		"sort": {"-createdAt"}, "pageSize": {"20"}})
	if err != nil {
		return "", false
	}
	for _, res := range found.Items {
		if (res.Status == "pending" || res.Status == "confirmed") && res.PickupAt.Equal(t.pickupAt) && res.ReturnAt.Equal(t.returnAt) {
			return res.ID, true
		}
	}
	return "", false
}

// paymentMethod is the payment method a form names: a pm_… typed in, else (development
// only) a sandbox test token, tokenized by payments-api. A refusal is recorded in f.
func (s *Service) paymentMethod(r *http.Request, p *web.Request, f *web.Form) (string, error) {
	pm := strings.TrimSpace(f.Get("paymentMethodId"))
	if pm != "" {
		if !paymentMethodPattern.MatchString(pm) {
			f.Invalid("paymentMethodId", p.T("bad.paymentMethodId"))
		}
		return pm, nil
	}
	tok := f.Get("sandboxCard")
	if !s.sandboxCards || !slices.Contains(sandboxTokens, tok) {
		f.Invalid("paymentMethodId", p.T("bad.paymentMethodId"))
		return "", nil
	}
	pm, err := client(r, p).tokenize(r.Context(), tok)
	if err != nil {
		if absorb(p, f, err, map[string]string{"token": "sandboxCard"}) {
			return "", nil
		}
		return "", err
	}
	return pm, nil
}
