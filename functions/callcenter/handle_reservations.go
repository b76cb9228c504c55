package callcenter

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// reservationPage is a booking's page: its details, lines and counter readings, the invoices
// payments-api issued for it, and the actions its status allows.
type reservationPage struct {
	F             Fmt
	Res           Reservation
	Customer      *Customer
	Invoices      []Invoice
	InvoicesError string
	// InvoicePending: the booking is finished but payments-api has not issued its invoice
	// yet (the event is on its way): the page says so and a reload shows it.
	InvoicePending bool
	CanPickup      bool
	CanReturn      bool
	CanNoShow      bool
	CanCancel      bool
	Done           string
	// PaymentForm names another payment method after a decline (a pending booking whose
	// card was declined); Key is its one-time key, Sandbox the test tokens offered.
	PaymentForm *web.Form
	Key         string
	Sandbox     []string
}

// reservation shows one booking (reservations-api's counter view: the booking and its
// readings).
func (s *Service) reservation(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	return s.showReservation(w, r, p, http.StatusOK, nil)
}

// showReservation renders the booking's page, with the payment-method form f as it was
// sent (nil: a new one).
func (s *Service) showReservation(w http.ResponseWriter, r *http.Request, p *web.Request, status int, f *web.Form) error {
	id, err := pathID(r, "reservation")
	if err != nil {
		return err
	}
	a := client(r, p)
	res, err := a.reservation(r.Context(), id)
	if err != nil {
		return err
	}
	d := reservationPage{F: s.formatter(r, p), Res: res, Done: r.URL.Query().Get("done")}
	if c, err := a.customer(r.Context(), res.CustomerID); err == nil {
		d.Customer = &c
	}
	if inv, err := a.invoices(r.Context(), url.Values{"reservation": {res.ID}}); err == nil {
		d.Invoices = inv
	} else {
		d.InvoicesError = partError(p, err)
	}
	now := s.now()
	d.CanPickup = res.Status == "confirmed"
	d.CanReturn = res.Status == "active"
	d.CanNoShow = res.Status == "confirmed" && now.After(res.PickupAt)
	d.CanCancel = res.Status == "pending" || res.Status == "confirmed"
	d.InvoicePending = len(d.Invoices) == 0 && d.InvoicesError == "" &&
		(res.Status == "completed" || res.Status == "no_show" || res.Status == "cancelled" && res.FeeCents > 0)
	if res.Status == "pending" && res.PaymentDeclinedReason != "" {
		d.PaymentForm, d.Key = f, formKey()
		if f == nil {
			d.PaymentForm = web.NewForm(nil)
		} else if k := f.Get("key"); k != "" {
			d.Key = k
		}
		if s.sandboxCards {
			d.Sandbox = sandboxTokens
		}
	}
	return p.Render(w, status, "reservations/detail", d)
}

// namePaymentMethod names another payment method for a pending booking whose card was
// declined (reservations-api asks payments-api to authorize it; its answer confirms the
// booking).
func (s *Service) namePaymentMethod(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id, err := pathID(r, "reservation")
	if err != nil {
		return err
	}
	f := postForm(r)
	pm, err := s.paymentMethod(r, p, f)
	if err != nil {
		return err
	}
	if !f.OK() {
		return s.showReservation(w, r, p, http.StatusBadRequest, f)
	}
	in := map[string]string{"paymentMethodId": pm}
	if _, err := client(r, p).reservationAction(r.Context(), id, "payment-method", f.Get("key"), in); err != nil {
		if absorb(p, f, err, nil) {
			return s.showReservation(w, r, p, statusOfForm(err), f)
		}
		return err
	}
	return p.Redirect(w, "reservations/"+id+"?done=payment")
}

// counterForm is the data of the handover, return, no-show and cancel pages.
type counterForm struct {
	F    Fmt
	Res  Reservation
	Form *web.Form
	// Key is the form's one-time key (Idempotency-Key).
	Key string
	// Fee is what a cancellation costs now (cancel page), Fuel the gauge's choices.
	Fee  int64
	Fuel []int
}

var fuelEighths = []int{8, 7, 6, 5, 4, 3, 2, 1, 0}

// showCounterForm renders page for booking id with form f (a new one when nil).
func (s *Service) showCounterForm(w http.ResponseWriter, r *http.Request, p *web.Request, name string, status int, f *web.Form) error {
	id, err := pathID(r, "reservation")
	if err != nil {
		return err
	}
	res, err := client(r, p).reservation(r.Context(), id)
	if err != nil {
		return err
	}
	key := formKey()
	if f == nil {
		f = web.NewForm(nil)
	} else if k := f.Get("key"); k != "" {
		key = k
	}
	d := counterForm{F: s.formatter(r, p), Res: res, Form: f, Key: key, Fuel: fuelEighths}
	if name == "cancel" {
		if d.Fee, err = client(r, p).cancellationFee(r.Context(), res.ID); err != nil {
			return err
		}
	}
	return p.Render(w, status, "reservations/"+name, d)
}

func (s *Service) pickupForm(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	return s.showCounterForm(w, r, p, "pickup", http.StatusOK, nil)
}

func (s *Service) returnForm(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	return s.showCounterForm(w, r, p, "return", http.StatusOK, nil)
}

func (s *Service) noShowForm(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	return s.showCounterForm(w, r, p, "noshow", http.StatusOK, nil)
}

func (s *Service) cancelForm(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	return s.showCounterForm(w, r, p, "cancel", http.StatusOK, nil)
}

// The readings' bounds, as reservations-api checks them (docs/counter.md).
const (
	maxOdometerKm   = 9_999_999
	maxFuelEighths  = 8
	maxDamageNotes  = 2000
	maxCancelReason = 500
)

// pickup hands the car over: odometer and fuel gauge, both required.
func (s *Service) pickup(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	f := postForm(r)
	in := Readings{OdometerKm: reading(p, f, "odometerKm", 0, maxOdometerKm), FuelEighths: reading(p, f, "fuelEighths", 0, maxFuelEighths)}
	return s.counterAction(w, r, p, f, "pickup", "activate", in)
}

// carReturn takes the car back: readings (the odometer not below the handover's, which
// reservations-api checks) and the damage notes; the late fee and return charges are the
// functions' to compute, and the booking's page shows them.
func (s *Service) carReturn(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	f := postForm(r)
	notes := strings.TrimSpace(f.Get("damageNotes"))
	if utf8.RuneCountInString(notes) > maxDamageNotes {
		f.Invalid("damageNotes", p.T("bad.damageNotes"))
	}
	in := struct {
		Readings
		DamageNotes string `json:"damageNotes,omitempty"`
	}{Readings{OdometerKm: reading(p, f, "odometerKm", 0, maxOdometerKm), FuelEighths: reading(p, f, "fuelEighths", 0, maxFuelEighths)}, notes}
	return s.counterAction(w, r, p, f, "return", "complete", in)
}

// noShow marks a confirmed booking whose pickup time has passed as a no-show.
func (s *Service) noShow(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	return s.counterAction(w, r, p, postForm(r), "noshow", "no-show", struct{}{})
}

// cancel cancels the booking with the agent's reason; the fee (shown on the form) is
// reservations-api's to charge, by pricing's rule at this moment.
func (s *Service) cancel(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	f := postForm(r)
	// reservations-api requires a reason (the customer's mail quotes it): told here, in the
	// page's language, rather than as its English refusal (the label said "optional").
	reason := strings.TrimSpace(f.Get("reason"))
	if reason == "" || utf8.RuneCountInString(reason) > maxCancelReason || platform.HasLink(reason) {
		f.Invalid("reason", p.T("bad.reason"))
	}
	return s.counterAction(w, r, p, f, "cancel", "cancel", struct {
		Reason string `json:"reason,omitempty"`
	}{reason})
}

// counterAction posts one of a booking's operations with the form's one-time key; a refusal
// shows the form again with the agent's input and the reason, success the booking's page.
func (s *Service) counterAction(w http.ResponseWriter, r *http.Request, p *web.Request, f *web.Form, page, action string, in any) error {
	id, err := pathID(r, "reservation")
	if err != nil {
		return err
	}
	if !f.OK() {
		return s.showCounterForm(w, r, p, page, http.StatusBadRequest, f)
	}
	if _, err := client(r, p).reservationAction(r.Context(), id, action, f.Get("key"), in); err != nil {
		if absorb(p, f, err, nil) {
			return s.showCounterForm(w, r, p, page, statusOfForm(err), f)
		}
		return err
	}
	return p.Redirect(w, "reservations/"+id+"?done="+page)
}

// invoicePDF passes payments-api's PDF of an invoice through, fetched as the user.
func (s *Service) invoicePDF(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id, err := pathID(r, "invoice")
	if err != nil {
		return err
	}
	b, _, err := client(r, p).raw(r.Context(), paymentsService, "/api/invoices/"+id+"/pdf", nil, "application/pdf", 8<<20)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `inline; filename="invoice-`+id+`.pdf"`)
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(b)
	return err
}
