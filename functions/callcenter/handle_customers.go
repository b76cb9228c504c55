package callcenter

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// home is the start page: what the signed-in user may do here.
func (s *Service) home(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	return p.Render(w, http.StatusOK, "home", nil)
}

// customerStatuses are customers-api's account statuses, the search's filter.
var customerStatuses = []string{"active", "suspended", "blocked", "erased"}

// customerSearch is the search page's data.
type customerSearch struct {
	Form     *web.Form
	Statuses []string
	Searched bool
	Result   page[Customer]
	// Prev and Next are the neighbouring pages' numbers (0: none), posted with Carry: the
	// search's fields, so that what an agent searched for (a name, an e-mail address)
	// stays out of URLs — the address bar, the history, proxies' and ingress logs.
	Prev, Next int
	Carry      []hiddenField
}

// hiddenField is one hidden input of a form.
type hiddenField struct{ Name, Value string }

// customers searches customers by name, email and status (customers-api's search: every
// word a prefix of the first or last name). The portal's search forms post (the search is
// personal data, kept out of URLs); a GET with the same query still works, for a link typed
// or kept from before.
func (s *Service) customers(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	values := r.URL.Query()
	if r.Method == http.MethodPost {
		values = postForm(r).Values
	}
	f := web.NewForm(values)
	d := customerSearch{Form: f, Statuses: customerStatuses}
	q := url.Values{}
	for _, k := range []string{"name", "email", "status"} {
		if v := strings.TrimSpace(f.Get(k)); v != "" {
			q.Set(k, v)
		}
	}
	if st := q.Get("status"); st != "" && !slices.Contains(customerStatuses, st) {
		f.Invalid("status", p.T("bad.status"))
	}
	pageNo := 1
	if v := f.Get("page"); v != "" {
		n, ok := positive(v)
		if !ok {
			f.Message = p.T("bad.page")
		}
		pageNo = n
	}
	if len(q) == 0 || !f.OK() {
		status := http.StatusOK
		if !f.OK() {
			status = http.StatusBadRequest
		}
		return p.Render(w, status, "customers/search", d)
	}
	q.Set("page", itoa(pageNo))
	res, err := client(r, p).searchCustomers(r.Context(), q)
	if err != nil {
		if absorb(p, f, err, nil) {
			return p.Render(w, http.StatusBadRequest, "customers/search", d)
		}
		return err
	}
	d.Searched, d.Result = true, res
	if pageNo > 1 {
		d.Prev = pageNo - 1
	}
	if pageNo < res.Pages() {
		d.Next = pageNo + 1
	}
	for _, k := range []string{"name", "email", "status"} {
		if v := q.Get(k); v != "" {
			d.Carry = append(d.Carry, hiddenField{k, v})
		}
	}
	return p.Render(w, http.StatusOK, "customers/search", d)
}

// customerPage is the customer page's data. Each part is read on its own: a function that
// is down leaves its part empty with a note, not the whole page.
type customerPage struct {
	F             Fmt
	Customer      Customer
	Bookings      []Reservation
	BookingsError string
	Invoices      []Invoice
	InvoicesError string
	Notifications []Notification
	NotesError    string
	Eligibility   *customersapi.Eligibility
	EligForm      *web.Form
	// Key is the one-time key of the page's resend forms; Done what was just done.
	Key  string
	Done string
}

// customer shows one customer: profile, licence, bookings, invoices, notifications, and the
// eligibility check for a period (?pickupAt=&returnAt=, the form on the page).
func (s *Service) customer(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id, err := pathID(r, "customer")
	if err != nil {
		return err
	}
	a := client(r, p)
	ctx := r.Context()
	c, err := a.customer(ctx, id)
	if err != nil {
		return err
	}
	d := customerPage{Customer: c, EligForm: web.NewForm(r.URL.Query()), Key: formKey(), Done: r.URL.Query().Get("done")}
	status := http.StatusOK
	if d.EligForm.Get("pickupAt") != "" || d.EligForm.Get("returnAt") != "" {
		from, to := parsePeriod(p, d.EligForm, "pickupAt", "returnAt", berlin)
		if d.EligForm.OK() {
			e, err := a.eligibility(ctx, id, from, to)
			switch {
			case err == nil:
				d.Eligibility = &e
			case absorb(p, d.EligForm, err, nil):
				status = http.StatusBadRequest
			default:
				return err
			}
		} else {
			status = http.StatusBadRequest
		}
	}
	d.F = s.formatter(r, p)
	if res, err := a.reservations(ctx, url.Values{"customer": {id}, "sort": {"-pickupAt"}, "pageSize": {"50"}}); err == nil {
		d.Bookings = res.Items
	} else {
		d.BookingsError = partError(p, err)
	}
	if inv, err := a.invoices(ctx, url.Values{"customer": {id}}); err == nil {
		d.Invoices = inv
	} else {
		d.InvoicesError = partError(p, err)
	}
	if n, err := a.notifications(ctx, id); err == nil {
		d.Notifications = n.Items
	} else {
		d.NotesError = partError(p, err)
	}
	return p.Render(w, status, "customers/detail", d)
}

// partError is the note shown in place of a part of a page its function did not answer.
func partError(p *web.Request, err error) string {
	var call *platform.CallError
	if errors.As(err, &call) && call.Status == http.StatusForbidden {
		return p.T("part.forbidden")
	}
	return p.T("part.unavailable")
}

// eraseForm asks before erasing: an erasure cannot be undone.
func (s *Service) eraseForm(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id, err := pathID(r, "customer")
	if err != nil {
		return err
	}
	c, err := client(r, p).customer(r.Context(), id)
	if err != nil {
		return err
	}
	return p.Render(w, http.StatusOK, "customers/erase", eraseView{Customer: c, Form: web.NewForm(nil)})
}

type eraseView struct {
	Customer Customer
	Form     *web.Form
}

// erase erases the customer's personal data (customers-api's GDPR erasure) once the agent
// ticked the confirmation; repeating it is harmless (customers-api answers the same record).
func (s *Service) erase(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id, err := pathID(r, "customer")
	if err != nil {
		return err
	}
	f := postForm(r)
	a := client(r, p)
	if f.Get("confirm") != "yes" {
		c, err := a.customer(r.Context(), id)
		if err != nil {
			return err
		}
		f.Invalid("confirm", p.T("bad.confirm"))
		return p.Render(w, http.StatusBadRequest, "customers/erase", eraseView{Customer: c, Form: f})
	}
	if _, err := a.erase(r.Context(), id); err != nil {
		return err
	}
	return p.Redirect(w, "customers/"+id)
}

// berlin is where a customer-level period (an eligibility check) is read when no branch is
// named: the company rents in Germany, and customers-api decides on German days.
var berlin = mustZone("Europe/Berlin")

func mustZone(name string) *time.Location {
	z, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return z
}

// resend queues a copy of one of the customer's notifications (notifications-api: agents
// and admins) and goes back to the customer's page.
func (s *Service) resend(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id, err := pathID(r, "notification")
	if err != nil {
		return err
	}
	n, err := client(r, p).resend(r.Context(), id, postForm(r).Get("key"))
	if err != nil {
		return err
	}
	return p.Redirect(w, "customers/"+n.CustomerID+"?done=resend#notifications")
}
