package publicportal

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform/web"
)

// localLayout is the value of an <input type="datetime-local">: the branch's wall clock.
const localLayout = "2006-01-02T15:04"

// fieldErrors are a form's errors by field name; the page shows each next to its input.
type fieldErrors map[string]string

func (e fieldErrors) add(field, msg string) {
	if _, ok := e[field]; !ok {
		e[field] = msg
	}
}

// The filters the availability search offers (vehicles-api's own values).
var (
	fuels         = []string{"petrol", "diesel", "electric", "hybrid", "plug_in_hybrid", "hydrogen"}
	transmissions = []string{"manual", "automatic"}
	searchSorts   = []string{"price", "-price", "name", "-name", "seats", "-seats"}
)

// trip is where and when a rental is: the branches and the period, read from a form in the
// pickup branch's local time.
type trip struct {
	Location       Branch
	ReturnLocation Branch
	PickupAt       time.Time
	ReturnAt       time.Time
}

// branchByCode finds code among bs.
func branchByCode(bs []Branch, code string) (Branch, bool) {
	i := slices.IndexFunc(bs, func(b Branch) bool { return b.Code == code })
	if i < 0 {
		return Branch{}, false
	}
	return bs[i], true
}

// localTimeKey is the text for a datetime-local value web.ParseLocal refused.
func localTimeKey(err error) string {
	if errors.Is(err, web.ErrSkippedLocalTime) {
		return "form.skippedTime"
	}
	return "err.datetime"
}

// parseTrip reads location, pickup, return and returnLocation of v. now bounds the pickup
// loosely (the APIs hold the exact rules and name the field when they refuse).
func parseTrip(v url.Values, branches []Branch, now time.Time) (trip, fieldErrors) {
	errs := fieldErrors{}
	var t trip
	// branches are those taking bookings: a code that is none of them (a saved link to a
	// branch closed or in maintenance since) is told so, not "choose a branch".
	unavailable := func(code string) string {
		if code == "" {
			return "err.branch"
		}
		return "err.branchUnavailable"
	}
	b, ok := branchByCode(branches, v.Get("location"))
	if !ok {
		errs.add("location", unavailable(v.Get("location")))
	}
	t.Location, t.ReturnLocation = b, b
	if rc := v.Get("returnLocation"); rc != "" && rc != b.Code {
		if rb, ok := branchByCode(branches, rc); ok {
			t.ReturnLocation = rb
		} else {
			errs.add("returnLocation", unavailable(rc))
		}
	}
	zone := b.Zone()
	var err error
	if t.PickupAt, err = web.ParseLocal(v.Get("pickup"), zone); err != nil {
		errs.add("pickup", localTimeKey(err))
	} else if t.PickupAt.Before(now.Add(-15 * time.Minute)) {
		errs.add("pickup", "err.past")
	}
	if t.ReturnAt, err = web.ParseLocal(v.Get("return"), t.ReturnLocation.Zone()); err != nil {
		errs.add("return", localTimeKey(err))
	} else if _, bad := errs["pickup"]; !bad && !t.ReturnAt.After(t.PickupAt) {
		errs.add("return", "err.returnBeforePickup")
	}
	return t, errs
}

// searchQuery turns the search form into vehicles-api's query (its parameter names; the
// maximum daily price typed in euros, sent in cents). Unknown choices are field errors.
func searchQuery(v url.Values, branches []Branch, now time.Time) (url.Values, trip, fieldErrors) {
	t, errs := parseTrip(v, branches, now)
	q := url.Values{}
	if len(errs) == 0 {
		q.Set("location", t.Location.Code)
		q.Set("pickup", t.PickupAt.UTC().Format(time.RFC3339))
		q.Set("return", t.ReturnAt.UTC().Format(time.RFC3339))
	}
	choose := func(field string, allowed []string) {
		if x := v.Get(field); x != "" {
			if !slices.Contains(allowed, x) {
				errs.add(field, "err.choice")
				return
			}
			q.Set(field, x)
		}
	}
	choose("category", rental.Categories())
	choose("fuel", fuels)
	choose("transmission", transmissions)
	choose("sort", searchSorts)
	if x := strings.TrimSpace(v.Get("minSeats")); x != "" {
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 || n > 9 {
			errs.add("minSeats", "err.seats")
		} else {
			q.Set("minSeats", strconv.Itoa(n))
		}
	}
	if x := strings.TrimSpace(v.Get("maxDailyGross")); x != "" {
		cents, ok := parseEuros(x)
		if !ok || cents < 100 {
			errs.add("maxDailyGross", "err.euros")
		} else {
			q.Set("maxDailyGross", strconv.FormatInt(cents, 10))
		}
	}
	if x := v.Get("page"); x != "" {
		if n, err := strconv.Atoi(x); err == nil && n >= 1 && n <= 1000 {
			q.Set("page", strconv.Itoa(n))
		}
	}
	return q, t, errs
}

// parseEuros reads an amount typed as "45", "45.50" or "45,50" into cents.
func parseEuros(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "€")), ",", ".")
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || len(whole) > 7 || (hasFrac && (len(frac) == 0 || len(frac) > 2)) {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, false
	}
	var f int64
	if hasFrac {
		if len(frac) == 1 {
			frac += "0"
		}
		if f, err = strconv.ParseInt(frac, 10, 64); err != nil || f < 0 {
			return 0, false
		}
	}
	return w*100 + f, true
}

// choices are a quote's insurance and extras as a form gives them: insurance=CODE and one
// field extra-CODE=quantity per extra (0 or empty: none); extra=CODE:quantity is read too,
// for links that name extras compactly.
type choices struct {
	Insurance string
	Extras    []pricingapi.ExtraRequest
}

// parseChoices reads the insurance and extras of v against the catalogue.
func parseChoices(v url.Values, cat Catalogue) (choices, fieldErrors) {
	errs := fieldErrors{}
	var c choices
	if ins := v.Get("insurance"); ins != "" {
		if !slices.ContainsFunc(cat.Insurance, func(p Insurance) bool { return p.Code == ins }) {
			errs.add("insurance", "err.choice")
		} else {
			c.Insurance = ins
		}
	}
	qty := map[string]string{}
	for _, e := range v["extra"] {
		code, n, _ := strings.Cut(e, ":")
		qty[code] = n
	}
	for _, e := range cat.Extras {
		raw := strings.TrimSpace(v.Get("extra-" + e.Code))
		if raw == "" {
			raw = qty[e.Code]
		}
		if raw == "" || raw == "0" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > e.MaxQuantity {
			errs.add("extra-"+e.Code, "err.quantity")
			continue
		}
		c.Extras = append(c.Extras, pricingapi.ExtraRequest{Code: e.Code, Quantity: &n})
	}
	return c, errs
}

// quantity is the quantity of extra code in c (0: not chosen).
func (c choices) quantity(code string) int {
	for _, e := range c.Extras {
		if e.Code == code {
			if e.Quantity == nil {
				return 1
			}
			return *e.Quantity
		}
	}
	return 0
}

// apiFields maps the field names of the APIs' problems to the portal's form fields, so an
// API's refusal is shown next to the input it concerns.
var apiFields = map[string]string{
	"pickupAt":                        "pickup",
	"returnAt":                        "return",
	"pickupLocation":                  "location",
	"returnLocation":                  "returnLocation",
	"paymentMethodId":                 "card",
	"insurance":                       "insurance",
	"customer":                        "firstName",
	"customer.firstName":              "firstName",
	"customer.lastName":               "lastName",
	"customer.email":                  "email",
	"customer.phone":                  "phone",
	"customer.dateOfBirth":            "dateOfBirth",
	"customer.address":                "street",
	"customer.address.street":         "street",
	"customer.address.postalCode":     "postalCode",
	"customer.address.city":           "city",
	"customer.address.country":        "country",
	"customer.licence":                "licenceNumber",
	"customer.licence.number":         "licenceNumber",
	"customer.licence.issuingCountry": "licenceCountry",
	"customer.licence.issueDate":      "licenceIssued",
	"customer.licence.expiryDate":     "licenceExpires",
	"token":                           "sandboxCard",
}

// formField is the form field an API's field name stands for ("" when none: the message
// then goes to the top of the form).
func formField(api string) string {
	if f, ok := apiFields[api]; ok {
		return f
	}
	if strings.HasPrefix(api, "extras") {
		return "extras"
	}
	return ""
}

// closedThen records in f, for the times f has no error for yet, that the trip's branch is
// closed then, with its hours that day, in the page's language. vehicles-api and
// reservations-api refuse such a time too, but in English; the portal has the branches'
// hours and says it first. The search holds only the pickup to its branch (as vehicles-api
// does); a booking both ends.
func closedThen(p *web.Request, f *web.Form, t trip, returnToo bool) {
	check := func(field string, b Branch, at time.Time) {
		if f.Error(field) != "" || at.IsZero() || b.Code == "" || len(b.OpeningHours) == 0 {
			return
		}
		l := b.location()
		if open, err := l.OpenAt(at); err != nil || open {
			return
		}
		day, windows, err := l.WindowsOn(at)
		if err != nil {
			return
		}
		hours := p.T("hours.closedAllDay")
		if len(windows) > 0 {
			hours = strings.Join(windows, ", ")
		}
		f.Invalid(field, p.T("err.closedThen", p.T("weekday."+day), hours))
	}
	check("pickup", t.Location, t.PickupAt)
	if returnToo {
		check("return", t.ReturnLocation, t.ReturnAt)
	}
}
