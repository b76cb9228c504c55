package publicportal

import (
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/idempotency"
	"github.com/orangecarrental/orange/platform/web"
)

// Booking: the booking page shows the quote, asks a guest for their details (or offers to
// sign in), takes the card in the browser (portal.js sends it to payments-api; only the
// payment method's id comes here) and books. A guest's browser keeps the booking's id and
// email in a cookie, so the status page can show it (reservations' lookup by id and email).

// guestFields are the guest's inputs, all required.
var guestFields = []string{"firstName", "lastName", "email", "phone", "dateOfBirth", "street", "postalCode", "city", "country",
	"licenceNumber", "licenceCountry", "licenceIssued", "licenceExpires"}

// sandboxTokens are the sandbox provider's test tokens offered without JavaScript.
var sandboxTokens = []string{"tok_success", "tok_decline", "tok_insufficient_funds"}

// paymentMethodPattern is a payment-method id as payments-api issues them.
var paymentMethodPattern = regexp.MustCompile(`^pm_[0-9a-f]{32}$`)

// bookView is the booking page's data.
type bookView struct {
	*quoteView
	// Idem is the form's Idempotency-Key: a double submit books once; every rendering of
	// the form gets a fresh one, so a corrected form is a new request.
	Idem         string
	Guest        bool
	SignedInAs   string
	SignInURL    string
	BackURL      string
	SandboxCards []option
	APIURL       string
	Total        string
	// ChoiceErrors are the errors of the trip and the options chosen on the car's page
	// (branches, times, insurance, each extra): this page carries them as hidden fields, so
	// their errors are listed here, with the link back to change them.
	ChoiceErrors []string
}

// choiceField tells the fields the car's page chose from those the booking page asks for.
func choiceField(k string) bool {
	switch k {
	case "location", "pickup", "return", "returnLocation", "insurance", "extras":
		return true
	}
	return strings.HasPrefix(k, "extra-")
}

func (s *Service) bookView(p *web.Request, f *web.Form, o offerContext, total int64, quoted bool) *bookView {
	v := &bookView{quoteView: s.quoteView(p, f, o, nil), Idem: rand.Text(), Guest: !p.SignedIn(),
		SignInURL: p.SignInURL(), APIURL: strings.TrimRight(s.cfg.APIURL, "/") + "/api/payments/methods",
		BackURL: p.Path("vehicles/"+o.vehicle.ID) + "?" + offerQuery(f)}
	if p.SignedIn() {
		v.SignedInAs = p.T("book.signedInAs", p.Session.Display())
	}
	if quoted {
		v.Total = money(p.Lang, total)
	}
	if s.cfg.SandboxCards {
		for _, t := range sandboxTokens {
			v.SandboxCards = append(v.SandboxCards, option{Value: t, Label: p.T("book.sandbox." + t), Selected: f.Get("sandboxCard") == t})
		}
	}
	// The choices travel on as hidden fields, besides the trip's.
	for k, vals := range f.Values {
		if k == "returnLocation" || k == "insurance" || strings.HasPrefix(k, "extra-") {
			v.Hidden = append(v.Hidden, option{Label: k, Value: vals[0]})
		}
	}
	slices.SortFunc(v.Hidden, func(a, b option) int { return strings.Compare(a.Label, b.Label) })
	for _, k := range slices.Sorted(maps.Keys(f.Errors)) {
		if code, ok := strings.CutPrefix(k, "extra-"); ok {
			v.ChoiceErrors = append(v.ChoiceErrors, code+": "+f.Errors[k]) // which extra
		} else if choiceField(k) {
			v.ChoiceErrors = append(v.ChoiceErrors, f.Errors[k])
		}
	}
	return v
}

func (s *Service) handleBookForm(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	a := s.apis(r, p)
	f := web.NewForm(r.URL.Query())
	o, err := s.loadOffer(r.Context(), a, p, f.Get("vehicle"), f)
	if err != nil {
		return err
	}
	if !f.OK() {
		return p.Render(w, http.StatusBadRequest, "book", s.bookView(p, f, o, 0, false))
	}
	q, err := a.Quote(r.Context(), o.quoteRequest())
	if err != nil {
		if p.Absorb(f, err, apiFields) {
			return p.Render(w, http.StatusBadRequest, "book", s.bookView(p, f, o, 0, false))
		}
		return err
	}
	v := s.bookView(p, f, o, q.GrossCents, true)
	t := totals(p, q.Lines, q.NetCents, q.VATCents, q.GrossCents, q.VATPercent)
	v.Quote = &t
	return p.Render(w, http.StatusOK, "book", v)
}

func (s *Service) handleBook(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	if err := r.ParseForm(); err != nil {
		return platform.Invalid("the form could not be read")
	}
	a := s.apis(r, p)
	f := web.NewForm(r.PostForm)
	o, err := s.loadOffer(r.Context(), a, p, f.Get("vehicle"), f)
	if err != nil {
		return err
	}
	guest := !p.SignedIn()
	if guest {
		for _, k := range guestFields {
			if strings.TrimSpace(f.Get(k)) == "" {
				f.Invalid(k, p.T("err.required"))
			}
		}
	}
	pm := f.Get("paymentMethodId")
	token := f.Get("sandboxCard")
	switch {
	case paymentMethodPattern.MatchString(pm):
	case s.cfg.SandboxCards && slices.Contains(sandboxTokens, token):
	default:
		f.Values.Del("paymentMethodId")
		f.Invalid("card", p.T("err.card"))
	}
	again := func(status int) error {
		// The summary keeps its price when the trip itself is fine (a guest's typo is not), and
		// so are the options: priced without an option refused, it would show a price that
		// is not the one asked for.
		choicesOK := !slices.ContainsFunc(slices.Collect(maps.Keys(f.Errors)), choiceField)
		if choicesOK && o.trip.Location.Code != "" && !o.trip.PickupAt.IsZero() && o.trip.ReturnAt.After(o.trip.PickupAt) {
			if q, err := a.Quote(r.Context(), o.quoteRequest()); err == nil {
				v := s.bookView(p, f, o, q.GrossCents, true)
				t := totals(p, q.Lines, q.NetCents, q.VATCents, q.GrossCents, q.VATPercent)
				v.Quote = &t
				return p.Render(w, status, "book", v)
			}
		}
		return p.Render(w, status, "book", s.bookView(p, f, o, 0, false))
	}
	if !f.OK() {
		return again(http.StatusBadRequest)
	}
	if !paymentMethodPattern.MatchString(pm) {
		// No JavaScript: the sandbox's test token is tokenized here (a token, never a card).
		if pm, err = a.Tokenize(r.Context(), token); err != nil {
			if p.Absorb(f, err, apiFields) {
				return again(http.StatusBadRequest)
			}
			return err
		}
	}
	b := Booking{
		VehicleID: o.vehicle.ID, PickupLocation: o.trip.Location.Code, ReturnLocation: o.trip.ReturnLocation.Code,
		PickupAt: o.trip.PickupAt.UTC().Format(time.RFC3339), ReturnAt: o.trip.ReturnAt.UTC().Format(time.RFC3339),
		Insurance: o.choices.Insurance, Extras: o.choices.Extras, PaymentMethodID: pm,
	}
	if k := f.Get("idem"); k != "" && len(k) <= 64 {
		a.headers.Set("Idempotency-Key", "portal-"+k)
	}
	var res Reservation
	if guest {
		res, err = a.BookGuest(r.Context(), GuestBooking{Customer: registration(f, p.Lang), Booking: b})
	} else {
		res, err = a.Book(r.Context(), b)
	}
	if err != nil {
		// The form sent again (a reload after a lost answer, a double click): its first
		// submit booked, and this one — its sandbox card tokenized anew — is another body under
		// the same key, or finds the car taken. A signed-in customer is shown that booking; a
		// guest is told it went through (their mail has the link).
		if resent(err) {
			if !guest {
				if id, ok := bookedBefore(r.Context(), a, b); ok {
					return p.Redirect(w, "bookings/"+id)
				}
			} else if idemConflict(err) {
				f.Message = p.T("err.alreadySent")
				return again(http.StatusConflict)
			}
		}
		// The card was tokenized: keep its id, so a corrected form needs no card again.
		f.Values.Set("paymentMethodId", pm)
		if p.Absorb(f, err, apiFields) {
			return again(http.StatusBadRequest)
		}
		var ce *platform.CallError
		if errors.As(err, &ce) {
			switch ce.Status {
			case http.StatusConflict:
				// An account's email belongs next to the email input (sign in); every other
				// conflict (the car taken meanwhile, …) above the form, by its code.
				if ce.Problem.Code == "email_registered" {
					f.Invalid("email", p.T("err.emailRegistered"))
				} else {
					f.Message, _ = p.Refusal(err)
				}
				return again(http.StatusConflict)
			case http.StatusTooManyRequests:
				f.Message = p.T("err.tooMany")
				return again(http.StatusTooManyRequests)
			case http.StatusUnprocessableEntity, http.StatusForbidden:
				f.Message, _ = p.Refusal(err)
				return again(http.StatusUnprocessableEntity)
			}
		}
		return err
	}
	if guest {
		if err := s.guests.rememberBooking(w, r, res.ID, f.Get("email")); err != nil {
			return err
		}
	}
	return p.Redirect(w, "bookings/"+res.ID)
}

// registration is the guest of form f.
func registration(f *web.Form, lang string) Registration {
	g := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	reg := Registration{FirstName: g("firstName"), LastName: g("lastName"), Email: g("email"), Phone: g("phone"),
		DateOfBirth: g("dateOfBirth"), PreferredLanguage: lang}
	reg.Address.Street, reg.Address.PostalCode, reg.Address.City = g("street"), g("postalCode"), g("city")
	reg.Address.Country = strings.ToUpper(g("country"))
	reg.Licence = &Licence{Number: g("licenceNumber"), IssuingCountry: strings.ToUpper(g("licenceCountry")), IssueDate: g("licenceIssued"), ExpiryDate: g("licenceExpires")}
	return reg
}

// idemConflict tells whether err is reservations-api's answer to a request under a used
// Idempotency-Key with another body (422), or while the first runs (409).
func idemConflict(err error) bool {
	code := web.ProblemCode(err)
	return code == idempotency.CodeKeyReused || code == idempotency.CodeKeyInUse
}

// resent tells whether err may be the answer to a booking form sent a second time: the key's
// conflict, or the car taken (by the first submit).
func resent(err error) bool {
	return idemConflict(err) || web.ProblemCode(err) == "vehicle_booked"
}

// bookedBefore finds the signed-in customer's booking b made by an earlier submit of the form:
// pending or confirmed, of the car, for the very period (the car has at most one).
func bookedBefore(ctx context.Context, a apis, b Booking) (string, bool) {
	mine, err := a.Reservations(ctx)
	if err != nil {
		return "", false
	}
	for _, r := range mine {
		if r.VehicleID == b.VehicleID && (r.Status == "pending" || r.Status == "confirmed") &&
			r.PickupAt.UTC().Format(time.RFC3339) == b.PickupAt && r.ReturnAt.UTC().Format(time.RFC3339) == b.ReturnAt {
			return r.ID, true
		}
	}
	return "", false
}
