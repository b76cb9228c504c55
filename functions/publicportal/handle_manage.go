package publicportal

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// listView is "my bookings".
type listView struct {
	Items []listItem
}

type listItem struct {
	ID, Ref, Status, StatusText, Pickup, Branch, Total, URL, OpenLabel string
}

func (s *Service) handleMyBookings(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	a := s.apis(r, p)
	items, err := a.Reservations(r.Context())
	if err != nil {
		return err
	}
	branches, _ := a.Branches(r.Context())
	var v listView
	for _, res := range items {
		b, _ := branchByCode(branches, res.PickupLocation)
		ref := strings.ToUpper(res.ID[:8])
		v.Items = append(v.Items, listItem{ID: res.ID, Ref: ref, Status: res.Status, StatusText: statusText(p, res.Status),
			Pickup: when(p.Lang, res.PickupAt, b.Zone()), Branch: cmp.Or(b.Name, res.PickupLocation),
			Total: money(p.Lang, res.TotalGrossCents), URL: p.Path("my-bookings/" + res.ID), OpenLabel: p.T("my.open", ref)})
	}
	return p.Render(w, http.StatusOK, "bookings", v)
}

// handleBooking shows a booking to its signed-in owner (my-bookings/{id}) or to the guest
// with the link (manage-booking?reservation=…), with what they can do next.
func (s *Service) handleBooking(guest bool) web.PageFunc {
	return func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
		if guest {
			id, err := manageReservation(r)
			if err != nil {
				return err
			}
			if t := r.URL.Query().Get("token"); t != "" {
				// A link with the token in its query (not the mailed form): keep the token
				// and drop it from the address bar and history.
				if isLinkToken(t) {
					if err := s.guests.rememberLink(w, r, id, t); err != nil {
						return err
					}
				}
				return redirectTo(w, r, p.Path("manage-booking")+"?reservation="+url.QueryEscape(id))
			}
			if _, ok := s.guests.link(r, id); !ok {
				return p.Render(w, http.StatusOK, "manage-token", tokenView{Reservation: id, Form: web.NewForm(nil)})
			}
		}
		h, err := s.holderOf(r, p, guest)
		if err != nil {
			return err
		}
		a := s.apis(r, p)
		res, err := a.Reservation(r.Context(), h.ID, h.Token)
		if err != nil {
			if guest && isNotFound(err) {
				return p.Render(w, http.StatusNotFound, "manage-token", tokenView{Reservation: h.ID, Form: invalidLink(p)})
			}
			return err
		}
		v := s.describe(r.Context(), a, p, res)
		v.Heading, v.Guest, v.StatusURL = p.T("status.title"), guest, h.page(p, "")
		if guest {
			v.Heading = p.T("guest.title")
		}
		retry := p.Path("bookings/" + h.ID + "/payment-method")
		if guest {
			retry = h.page(p, "payment-method")
		}
		declined(p, &v, retry, false)
		if changeable(res) {
			v.ChangeURL, v.CancelURL = h.page(p, "change"), h.page(p, "cancel")
		}
		switch r.URL.Query().Get("done") {
		case "changed":
			v.Flash = p.T("change.done", v.Total)
		case "cancelled":
			v.Flash = p.T("cancel.done")
		}
		if !guest {
			v.ShowInvoices = true
			invoices, err := a.Invoices(r.Context(), res.ID)
			if err != nil {
				return err
			}
			for _, in := range invoices {
				v.Invoices = append(v.Invoices, invoiceView{Label: p.T("details.invoice", in.Number),
					URL: p.Path("my-bookings/" + res.ID + "/invoices/" + in.ID)})
			}
		}
		return p.Render(w, http.StatusOK, "booking", v)
	}
}

// tokenView asks for the manage link's token (when the browser ran no script).
type tokenView struct {
	Reservation string
	Form        *web.Form
}

func invalidLink(p *web.Request) *web.Form {
	f := web.NewForm(nil)
	f.Message = p.T("guest.invalid")
	return f
}

func isNotFound(err error) bool {
	var ce *platform.CallError
	return errors.As(err, &ce) && ce.Status == http.StatusNotFound
}

// handleManageToken takes the manage link's token (posted by portal.js from the URL's
// fragment, or typed in) into the guest's cookie and shows the booking.
func (s *Service) handleManageToken(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id, err := manageReservation(r)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("token")), "#token="))
	if t, err := url.QueryUnescape(token); err == nil {
		token = t
	}
	if !isLinkToken(token) {
		f := invalidLink(p)
		f.Values.Set("token", r.PostFormValue("token"))
		return p.Render(w, http.StatusBadRequest, "manage-token", tokenView{Reservation: id, Form: f})
	}
	if err := s.guests.rememberLink(w, r, id, token); err != nil {
		return err
	}
	return redirectTo(w, r, holder{ID: id, Token: token}.page(p, ""))
}

// changeView is the change page: new dates, then the new price before confirming.
type changeView struct {
	Booking  bookingView
	Form     *web.Form
	Action   string
	Back     string
	NewTotal string
	Hidden   []option
}

func (s *Service) handleChangeForm(guest bool) web.PageFunc {
	return func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
		h, err := s.holderOf(r, p, guest)
		if err != nil {
			return err
		}
		a := s.apis(r, p)
		res, err := a.Reservation(r.Context(), h.ID, h.Token)
		if err != nil {
			return err
		}
		if !changeable(res) {
			return platform.Conflict("the booking can no longer be changed").WithCode("status")
		}
		branches, err := a.Branches(r.Context())
		if err != nil {
			return err
		}
		pb, _ := branchByCode(branches, res.PickupLocation)
		rb, _ := branchByCode(branches, res.ReturnLocation)
		q := r.URL.Query()
		f := web.NewForm(url.Values{"pickup": {q.Get("pickup")}, "return": {q.Get("return")}})
		v := changeView{Booking: s.describe(r.Context(), a, p, res), Form: f, Action: h.page(p, "change"), Back: h.page(p, "")}
		// A guest's form carries the booking's id: a browser drops the action's query from a
		// GET form, and the preview lost it (404).
		v.Booking.Guest = guest
		if f.Get("pickup") == "" && f.Get("return") == "" {
			f.Values.Set("pickup", localInput(res.PickupAt, pb.Zone()))
			f.Values.Set("return", localInput(res.ReturnAt, rb.Zone()))
			return p.Render(w, http.StatusOK, "change", v)
		}
		trip, errs := parseTrip(url.Values{"location": {pb.Code}, "returnLocation": {rb.Code}, "pickup": {f.Get("pickup")}, "return": {f.Get("return")}}, branches, s.now())
		for field, key := range errs {
			f.Invalid(field, p.T(key))
		}
		closedThen(p, f, trip, true)
		if !f.OK() {
			return p.Render(w, http.StatusBadRequest, "change", v)
		}
		// The price the change will have — reservations-api's, its change fee included — not
		// a quote of the portal's own, which left the fee out and showed less than was charged.
		pickup, ret := trip.PickupAt.UTC().Format(time.RFC3339), trip.ReturnAt.UTC().Format(time.RFC3339)
		changed, err := a.PreviewChange(r.Context(), h.ID, h.Token, Change{PickupAt: &pickup, ReturnAt: &ret})
		if err != nil {
			if p.Absorb(f, err, apiFields) {
				return p.Render(w, http.StatusBadRequest, "change", v)
			}
			var ce *platform.CallError
			if errors.As(err, &ce) && (ce.Status == http.StatusConflict || ce.Status == http.StatusUnprocessableEntity) {
				f.Message = changeRefusal(p, err)
				return p.Render(w, http.StatusConflict, "change", v)
			}
			return err
		}
		v.NewTotal = money(p.Lang, changed.TotalGrossCents)
		v.Hidden = []option{{Label: "pickup", Value: f.Get("pickup")}, {Label: "return", Value: f.Get("return")}}
		if guest {
			v.Hidden = append(v.Hidden, option{Label: "reservation", Value: h.ID})
		}
		return p.Render(w, http.StatusOK, "change", v)
	}
}

func (s *Service) handleChange(guest bool) web.PageFunc {
	return func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
		h, err := s.holderOf(r, p, guest)
		if err != nil {
			return err
		}
		a := s.apis(r, p)
		res, err := a.Reservation(r.Context(), h.ID, h.Token)
		if err != nil {
			return err
		}
		branches, err := a.Branches(r.Context())
		if err != nil {
			return err
		}
		f := web.NewForm(url.Values{"pickup": {r.PostFormValue("pickup")}, "return": {r.PostFormValue("return")}})
		trip, errs := parseTrip(url.Values{"location": {res.PickupLocation}, "returnLocation": {res.ReturnLocation},
			"pickup": {f.Get("pickup")}, "return": {f.Get("return")}}, branches, s.now())
		for field, key := range errs {
			f.Invalid(field, p.T(key))
		}
		closedThen(p, f, trip, true)
		if f.OK() {
			pickup, ret := trip.PickupAt.UTC().Format(time.RFC3339), trip.ReturnAt.UTC().Format(time.RFC3339)
			_, err = a.ChangeDates(r.Context(), h.ID, h.Token, Change{PickupAt: &pickup, ReturnAt: &ret})
			if err == nil {
				return redirectTo(w, r, withQuery(h.page(p, ""), "done", "changed"))
			}
			if !p.Absorb(f, err, apiFields) {
				var ce *platform.CallError
				if !errors.As(err, &ce) || (ce.Status != http.StatusConflict && ce.Status != http.StatusUnprocessableEntity) {
					return err
				}
				f.Message = changeRefusal(p, err)
			}
		}
		v := changeView{Booking: s.describe(r.Context(), a, p, res), Form: f, Action: h.page(p, "change"), Back: h.page(p, "")}
		// A guest's form carries the booking's id: a browser drops the action's query from a
		// GET form, and the preview lost it (404).
		v.Booking.Guest = guest
		return p.Render(w, http.StatusBadRequest, "change", v)
	}
}

// withQuery adds k=v to a path that may have a query already.
func withQuery(path, k, v string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + url.QueryEscape(k) + "=" + url.QueryEscape(v)
}

// cancelView is the cancel page: the fee, shown before the renter confirms.
type cancelView struct {
	Booking bookingView
	Fee     string
	Free    bool
	Action  string
	Back    string
	Form    *web.Form
	Hidden  []option
}

func (s *Service) handleCancelForm(guest bool) web.PageFunc {
	return func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
		return s.renderCancel(w, r, p, guest, http.StatusOK, web.NewForm(nil))
	}
}

func (s *Service) renderCancel(w http.ResponseWriter, r *http.Request, p *web.Request, guest bool, status int, f *web.Form) error {
	h, err := s.holderOf(r, p, guest)
	if err != nil {
		return err
	}
	a := s.apis(r, p)
	res, err := a.Reservation(r.Context(), h.ID, h.Token)
	if err != nil {
		return err
	}
	if !changeable(res) {
		return platform.Conflict("the booking can no longer be cancelled").WithCode("status")
	}
	fee, err := a.CancellationFee(r.Context(), res, h.Token)
	if err != nil {
		return err
	}
	v := cancelView{Booking: s.describe(r.Context(), a, p, res), Fee: p.T("cancel.fee", money(p.Lang, fee.FeeCents)),
		Free: fee.FeeCents == 0, Action: h.page(p, "cancel"), Back: h.page(p, ""), Form: f}
	if v.Free {
		v.Fee = p.T("cancel.free")
	}
	if guest {
		v.Hidden = []option{{Label: "reservation", Value: h.ID}}
	}
	return p.Render(w, status, "cancel", v)
}

func (s *Service) handleCancel(guest bool) web.PageFunc {
	return func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
		h, err := s.holderOf(r, p, guest)
		if err != nil {
			return err
		}
		a := s.apis(r, p)
		if _, err := a.Cancel(r.Context(), h.ID, h.Token); err != nil {
			var ce *platform.CallError
			if errors.As(err, &ce) && ce.Status == http.StatusConflict {
				f := web.NewForm(nil)
				f.Message, _ = p.Refusal(err)
				return s.renderCancel(w, r, p, guest, http.StatusConflict, f)
			}
			return err
		}
		return redirectTo(w, r, withQuery(h.page(p, ""), "done", "cancelled"))
	}
}

// handleInvoice passes an invoice's PDF from payments-api on to its signed-in owner.
func (s *Service) handleInvoice(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id := strings.ToLower(platform.PathVar(r, "invoice"))
	booking := strings.ToLower(platform.PathVar(r, "id"))
	if !platform.ValidUUID(id) || !platform.ValidUUID(booking) {
		return platform.NotFound("no invoice")
	}
	// The invoice must be the booking's the URL names, as the page listed it.
	a := s.apis(r, p)
	invoices, err := a.Invoices(r.Context(), booking)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(invoices, func(in Invoice) bool { return in.ID == id }) {
		return platform.NotFound("no invoice %s of booking %s", id, booking)
	}
	pdf, err := a.InvoicePDF(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="invoice-`+id[:8]+`.pdf"`)
	w.Header().Set("Cache-Control", "private, no-store")
	_, err = w.Write(pdf)
	return err
}

// changeRefusal words a refused change of dates: the car taken then is a matter of other
// dates — a change keeps the car, so "choose another car" (a booking's words) misleads.
func changeRefusal(p *web.Request, err error) string {
	if web.ProblemCode(err) == "vehicle_booked" {
		return p.T("err.datesTaken")
	}
	msg, _ := p.Refusal(err)
	return msg
}
