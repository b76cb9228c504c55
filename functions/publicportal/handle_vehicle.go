package publicportal

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// The vehicle page: the car, the options (return branch, insurance, extras) and the quote,
// re-priced on every submit of its GET form (portal.js re-submits it as options change).

// quoteView is the vehicle page's (and the booking page's summary's) data.
type quoteView struct {
	Form                                       *web.Form
	Vehicle                                    Vehicle
	SeatsLabel, FuelLabel, TransmissionLabel   string
	Pickup, Return, PickupBranch, ReturnBranch string
	ReturnLocation                             selectView
	Insurance                                  []insuranceOption
	Extras                                     []extraOption
	Quote                                      *totalsView
	// Hidden are the trip's fields a form carries on unchanged.
	Hidden []option
}

type insuranceOption struct {
	Code, Label, Price string
	Checked            bool
}

type extraOption struct {
	Code, Label, Price string
	Max, Value         int
}

// offerContext is what the vehicle and booking pages both read: the branches, the catalogue,
// the car, and the trip and choices of the form.
type offerContext struct {
	branches []Branch
	cat      Catalogue
	vehicle  Vehicle
	trip     trip
	choices  choices
}

// loadOffer reads the car and the catalogue and parses the trip and choices of v into f's
// errors. A car that does not exist is a 404 page.
func (s *Service) loadOffer(ctx context.Context, a apis, p *web.Request, vehicleID string, f *web.Form) (offerContext, error) {
	var o offerContext
	if !platform.ValidUUID(vehicleID) {
		return o, platform.NotFound("no vehicle %s", vehicleID)
	}
	var err error
	if o.branches, err = a.Branches(ctx); err != nil {
		return o, err
	}
	if o.cat, err = a.Catalogue(ctx); err != nil {
		return o, err
	}
	if o.vehicle, err = a.Vehicle(ctx, vehicleID); err != nil {
		return o, err
	}
	if f.Get("location") == "" {
		f.Values.Set("location", o.vehicle.LocationCode)
	}
	searchDefaults(f.Values, o.branches, s.now())
	t, errs := parseTrip(f.Values, o.branches, s.now())
	c, cerrs := parseChoices(f.Values, o.cat)
	for field, key := range errs {
		f.Invalid(field, p.T(key))
	}
	for field, key := range cerrs {
		f.Invalid(field, p.T(key))
	}
	closedThen(p, f, t, true)
	if _, bad := errs["location"]; !bad && t.Location.Code != "" && t.Location.Code != o.vehicle.LocationCode {
		// The car stands at another branch: priced and shown here, it was refused only at the
		// booking's last step (in English).
		at, _ := branchByCode(o.branches, o.vehicle.LocationCode)
		f.Invalid("location", p.T("err.vehicleElsewhere", cmp.Or(at.Name, o.vehicle.LocationCode)))
	}
	o.trip, o.choices = t, c
	return o, nil
}

// quoteRequest is the quote of o: the car's category and its own rate, if it has one.
func (o offerContext) quoteRequest() pricingapi.QuoteRequest {
	return pricingapi.QuoteRequest{
		PickupLocation: o.trip.Location.Code, ReturnLocation: o.trip.ReturnLocation.Code,
		PickupAt: o.trip.PickupAt.UTC().Format(time.RFC3339), ReturnAt: o.trip.ReturnAt.UTC().Format(time.RFC3339),
		Category: o.vehicle.Category, Insurance: o.choices.Insurance, Extras: o.choices.Extras,
		DailyRateNetCents: o.vehicle.DailyRateNetCents,
	}
}

// view builds the page data of o, priced by q when the form is fine.
func (s *Service) quoteView(p *web.Request, f *web.Form, o offerContext, q *pricingapi.Quote) *quoteView {
	v := &quoteView{
		Form: f, Vehicle: o.vehicle, SeatsLabel: p.T("vehicle.seats", o.vehicle.Seats),
		FuelLabel: p.T("fuel." + o.vehicle.Fuel), TransmissionLabel: p.T("transmission." + o.vehicle.Transmission),
		ReturnLocation: selectView{Form: f, Name: "returnLocation", Label: p.T("quote.returnLocation"),
			Options: branchOptions(o.branches, cmp.Or(f.Get("returnLocation"), f.Get("location")))},
	}
	if !o.trip.PickupAt.IsZero() {
		v.Pickup = when(p.Lang, o.trip.PickupAt, o.trip.Location.Zone())
	}
	if !o.trip.ReturnAt.IsZero() {
		v.Return = when(p.Lang, o.trip.ReturnAt, o.trip.ReturnLocation.Zone())
	}
	v.PickupBranch, v.ReturnBranch = o.trip.Location.Name, o.trip.ReturnLocation.Name
	chosen := cmp.Or(o.choices.Insurance, o.cat.DefaultInsurance)
	for _, ins := range o.cat.Insurance {
		v.Insurance = append(v.Insurance, insuranceOption{Code: ins.Code, Label: p.LineName(ins.Code, 1, ins.Description),
			Price: p.T("quote.perDay", money(p.Lang, ins.DailyNetCents)), Checked: ins.Code == chosen})
	}
	for _, e := range o.cat.Extras {
		price := p.T("quote.perRental", money(p.Lang, e.NetCents))
		if e.Per == pricingapi.PerDay {
			price = p.T("quote.perDay", money(p.Lang, e.NetCents))
		}
		value := o.choices.quantity(e.Code)
		if raw := f.Get("extra-" + e.Code); f.Error("extra-"+e.Code) != "" {
			value, _ = strconv.Atoi(raw)
		}
		v.Extras = append(v.Extras, extraOption{Code: e.Code, Label: p.LineName(e.Code, 1, e.Description), Price: price, Max: e.MaxQuantity, Value: value})
	}
	for _, k := range []string{"location", "pickup", "return"} {
		v.Hidden = append(v.Hidden, option{Value: f.Get(k), Label: k})
	}
	if q != nil {
		t := totals(p, q.Lines, q.NetCents, q.VATCents, q.GrossCents, q.VATPercent)
		v.Quote = &t
	}
	return v
}

func (s *Service) handleVehicle(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	a := s.apis(r, p)
	f := web.NewForm(r.URL.Query())
	id, err := platform.PathUUID(r, "vehicle")
	if err != nil {
		return err
	}
	o, err := s.loadOffer(r.Context(), a, p, id, f)
	if err != nil {
		return err
	}
	if !f.OK() {
		return p.Render(w, http.StatusBadRequest, "vehicle", s.quoteView(p, f, o, nil))
	}
	q, err := a.Quote(r.Context(), o.quoteRequest())
	if err != nil {
		if p.Absorb(f, err, apiFields) {
			return p.Render(w, http.StatusBadRequest, "vehicle", s.quoteView(p, f, o, nil))
		}
		return err
	}
	return p.Render(w, http.StatusOK, "vehicle", s.quoteView(p, f, o, &q))
}

// offerQuery is the vehicle page's query of o: where the booking page's "back" link goes.
func offerQuery(f *web.Form) string {
	q := url.Values{}
	for k, v := range f.Values {
		if k == "location" || k == "pickup" || k == "return" || k == "returnLocation" || k == "insurance" || len(k) > 6 && k[:6] == "extra-" {
			q[k] = v
		}
	}
	return q.Encode()
}
