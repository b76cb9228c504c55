package publicportal

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// A booking's pages: its status right after booking (bookings/{id}), a signed-in customer's
// list and details (my-bookings…), and the guest's manage link (manage-booking…). The same
// handlers serve the owner and the guest; holder says which one acts, and with what.

// holder is who acts on a booking: the signed-in owner (Token "") or a guest with their
// link's token.
type holder struct {
	ID    string
	Token string
}

func (h holder) guest() bool { return h.Token != "" }

// page is the portal path of the booking's page rel ("" the booking itself, "cancel",
// "change", "payment-method") for this holder.
func (h holder) page(p *web.Request, rel string) string {
	if h.guest() {
		base := "manage-booking"
		if rel != "" {
			base += "/" + rel
		}
		return p.Path(base) + "?reservation=" + url.QueryEscape(h.ID)
	}
	base := "my-bookings/" + h.ID
	if rel != "" {
		base += "/" + rel
	}
	return p.Path(base)
}

// holderOf resolves the holder of a my-bookings or manage-booking request.
func (s *Service) holderOf(r *http.Request, p *web.Request, guest bool) (holder, error) {
	if !guest {
		id, err := platform.PathUUID(r, "booking")
		return holder{ID: id}, err
	}
	id, err := manageReservation(r)
	if err != nil {
		return holder{}, err
	}
	token, ok := s.guests.link(r, id)
	if !ok {
		return holder{}, platform.NotFound("no booking")
	}
	return holder{ID: id, Token: token}, nil
}

// bookingView is a booking's page data.
type bookingView struct {
	// InsuranceName is the booking's insurance in the page's language.
	InsuranceName                              string
	R                                          Reservation
	Heading, StatusText                        string
	Vehicle                                    string
	Pickup, Return, PickupBranch, ReturnBranch string
	Total                                      string
	// Fee is what a cancellation or a no-show charged (none: empty).
	Fee      string
	Totals   totalsView
	Pending  bool
	Declined string
	// RetryAction is where another card is posted ("" when it cannot be here: a guest's
	// status page, whose guest retries through the mailed link).
	RetryAction    string
	Form           *web.Form
	SandboxCards   []option
	APIURL         string
	Invoices       []invoiceView
	ShowInvoices   bool
	ChangeURL      string
	CancelURL      string
	Flash          string
	ReservationRef string
	Guest          bool
	StatusURL      string
	// zone is the pickup branch's clock.
	zone *time.Location
}

type invoiceView struct {
	Label, URL string
}

// describe fills the parts of a booking's page every variant shows.
func (s *Service) describe(ctx context.Context, a apis, p *web.Request, res Reservation) bookingView {
	v := bookingView{R: res, StatusText: statusText(p, res.Status), Total: money(p.Lang, res.TotalGrossCents),
		Totals:  totals(p, res.Lines, res.NetCents, res.VatCents, res.TotalGrossCents, 19),
		Pending: res.Status == "pending" && res.PaymentDeclinedReason == "", Vehicle: res.Category,
		ReservationRef: strings.ToUpper(res.ID[:8])}
	if res.FeeCents > 0 {
		v.Fee = money(p.Lang, res.FeeCents)
	}
	// The insurance by name: the site's, else pricing's (its line in the booking), never the code.
	insurance := res.Insurance
	for _, l := range res.Lines {
		if l.Code == "INSURANCE_"+res.Insurance {
			insurance = l.Description
		}
	}
	v.InsuranceName = p.LineName(res.Insurance, 1, insurance)
	if added := res.RentalGrossCents - res.TotalGrossCents; added > 0 {
		// The return added a late fee or charges (refuelling): the total is what is billed.
		for _, l := range res.ReturnCharges {
			v.Totals.ReturnLines = append(v.Totals.ReturnLines, lineView{Code: l.Code, Description: p.LineName(l.Code, l.Quantity, l.Description), Quantity: l.Quantity, Net: money(p.Lang, l.NetCents)})
		}
		v.Totals.Added, v.Totals.Billed = money(p.Lang, added), money(p.Lang, res.RentalGrossCents)
		v.Total = v.Totals.Billed
	}
	branches, _ := a.Branches(ctx) // names and clocks; without them codes and Berlin time
	pb, _ := branchByCode(branches, res.PickupLocation)
	rb, _ := branchByCode(branches, res.ReturnLocation)
	v.PickupBranch, v.ReturnBranch = cmp.Or(pb.Name, res.PickupLocation), cmp.Or(rb.Name, res.ReturnLocation)
	v.Pickup, v.Return, v.zone = when(p.Lang, res.PickupAt, pb.Zone()), when(p.Lang, res.ReturnAt, rb.Zone()), pb.Zone()
	if veh, err := a.Vehicle(ctx, res.VehicleID); err == nil {
		v.Vehicle = veh.Name + " (" + res.Category + ")"
	}
	if s.cfg.SandboxCards {
		for _, t := range sandboxTokens {
			v.SandboxCards = append(v.SandboxCards, option{Value: t, Label: p.T("book.sandbox." + t)})
		}
	}
	v.APIURL = strings.TrimRight(s.cfg.APIURL, "/") + "/api/payments/methods"
	v.Form = web.NewForm(nil)
	return v
}

// declined fills the decline's message and where another card goes.
func declined(p *web.Request, v *bookingView, retry string, guestStatus bool) {
	res := v.R
	if res.Status != "pending" || res.PaymentDeclinedReason == "" {
		return
	}
	v.StatusText = p.T("status.pendingDeclined")
	// The provider's code in the page's words; an unknown one in general words, never raw.
	reason := p.T("declined.other")
	if code := "declined." + res.PaymentDeclinedReason; p.Has(code) {
		reason = p.T(code)
	}
	if guestStatus {
		v.Declined = p.T("status.declinedGuest", reason)
		return
	}
	until := ""
	if res.HoldExpiresAt != nil {
		until = res.HoldExpiresAt.In(v.zone).Format("15:04")
	}
	v.Declined = p.T("status.declined", reason, until)
	v.RetryAction = retry
}

// changeable tells whether a booking may still be changed or cancelled by its renter.
func changeable(res Reservation) bool {
	return slices.Contains([]string{"pending", "confirmed"}, res.Status)
}

// handleStatus is the page right after booking: a signed-in customer's own booking, or the
// booking this guest's browser just made.
func (s *Service) handleStatus(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id, err := platform.PathUUID(r, "booking")
	if err != nil {
		return err
	}
	a := s.apis(r, p)
	var res Reservation
	guest := !p.SignedIn()
	if guest {
		email, ok := s.guests.booking(r, id)
		if !ok {
			return platform.NotFound("no booking %s", id)
		}
		res, err = a.Lookup(r.Context(), id, email)
	} else {
		res, err = a.Reservation(r.Context(), id, "")
	}
	if err != nil {
		return err
	}
	v := s.describe(r.Context(), a, p, res)
	v.Heading, v.Guest, v.StatusURL = p.T("status.title"), guest, p.Path("bookings/"+id)
	declined(p, &v, p.Path("bookings/"+id+"/payment-method"), guest)
	if !guest {
		v.ChangeURL, v.CancelURL = holder{ID: id}.page(p, "change"), holder{ID: id}.page(p, "cancel")
	}
	return p.Render(w, http.StatusOK, "booking", v)
}

// handleRetryCard names another card for a pending booking whose card was declined (the
// signed-in owner on bookings/{id}, the guest on manage-booking).
func (s *Service) handleRetryCard(guest bool) web.PageFunc {
	return func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
		var h holder
		var err error
		if guest {
			h, err = s.holderOf(r, p, true)
		} else if !p.SignedIn() {
			return platform.Errorf(platform.KindUnauthorized, "sign in first")
		} else {
			h.ID, err = platform.PathUUID(r, "booking")
		}
		if err != nil {
			return err
		}
		a := s.apis(r, p)
		f := web.NewForm(r.PostForm)
		pm := f.Get("paymentMethodId")
		if !paymentMethodPattern.MatchString(pm) {
			token := f.Get("sandboxCard")
			if !s.cfg.SandboxCards || !slices.Contains(sandboxTokens, token) {
				f.Invalid("card", p.T("err.card"))
			} else if pm, err = a.Tokenize(r.Context(), token); err != nil && !p.Absorb(f, err, apiFields) {
				return err
			}
		}
		if f.OK() {
			if _, err = a.NamePaymentMethod(r.Context(), h.ID, h.Token, pm); err != nil && !p.Absorb(f, err, apiFields) {
				var ce *platform.CallError
				if !errors.As(err, &ce) || ce.Status != http.StatusConflict {
					return err
				}
				f.Message, _ = p.Refusal(err)
			}
		}
		if f.OK() {
			if guest {
				return redirectTo(w, r, h.page(p, ""))
			}
			return p.Redirect(w, "bookings/"+h.ID)
		}
		res, err := a.Reservation(r.Context(), h.ID, h.Token)
		if err != nil {
			return err
		}
		v := s.describe(r.Context(), a, p, res)
		v.Heading, v.Form, v.Guest = p.T("status.title"), f, guest
		retry := p.Path("bookings/" + h.ID + "/payment-method")
		if guest {
			retry = h.page(p, "payment-method")
		}
		declined(p, &v, retry, false)
		return p.Render(w, http.StatusBadRequest, "booking", v)
	}
}

// redirectTo answers 303 to an absolute portal path (with its query).
func redirectTo(w http.ResponseWriter, r *http.Request, path string) error {
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}
