package callcenter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
)

// The services the portal calls, by their Knative Service names (the transport's hosts).
// Where a contract package names one, its constant is used.
const (
	customersService     = customersapi.Service
	reservationsService  = reservationsapi.Service
	locationsService     = locationsapi.Service
	pricingService       = pricingapi.Service
	vehiclesService      = "vehicles-api"
	paymentsService      = "payments-api"
	notificationsService = "notifications-api"
	deadLettersService   = "dead-letter"
	reportsService       = "report-worker"
)

// api calls the functions as the signed-in user: c carries the user's access token (the
// portal owns no data and has no rights of its own; each function decides what the user
// may do). Every answer other than 2xx is a *platform.CallError, which the handlers turn
// into field errors or a friendly page.
type api struct {
	c *http.Client
}

// get and post are CallJSON over the user's client.
func (a api) get(ctx context.Context, service, path string, q url.Values, out any) error {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return platform.CallJSON(ctx, a.c, http.MethodGet, service, path, nil, out)
}

// post sends in with an Idempotency-Key made from key (the form's one-time nonce) and the
// request itself: the same form sent twice (a double click, a retry after a timeout) is one
// request to the function, which answers the second from its record; the form corrected
// after an error is a new request.
func (a api) post(ctx context.Context, service, path, key string, in, out any) error {
	c := a.c
	if key != "" {
		b, _ := json.Marshal(in)
		sum := sha256.Sum256(append([]byte(key+" "+path+"\n"), b...))
		c = withHeader(a.c, "Idempotency-Key", "portal-"+hex.EncodeToString(sum[:16]))
	}
	return platform.CallJSON(ctx, c, http.MethodPost, service, path, in, out)
}

// raw fetches a non-JSON answer (an SVG chart, an invoice PDF), at most limit bytes.
func (a api) raw(ctx context.Context, service, path string, q url.Values, accept string, limit int64) ([]byte, string, error) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+service+path, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", accept)
	resp, err := a.c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := &platform.CallError{Service: service, Status: resp.StatusCode}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e.Problem)
		return nil, "", e
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", err
	}
	if int64(len(b)) > limit {
		return nil, "", fmt.Errorf("%s %s: answer larger than %d bytes", service, path, limit)
	}
	return b, resp.Header.Get("Content-Type"), nil
}

func withHeader(c *http.Client, key, value string) *http.Client {
	out := *c
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = headerTransport{next: next, key: key, value: value}
	return &out
}

type headerTransport struct {
	next       http.RoundTripper
	key, value string
}

func (h headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Header.Set(h.key, h.value)
	return h.next.RoundTrip(out)
}

// --- customers-api ---

func (a api) searchCustomers(ctx context.Context, q url.Values) (page[Customer], error) {
	var out page[Customer]
	err := a.get(ctx, customersService, customersapi.Prefix, q, &out)
	return out, err
}

func (a api) customer(ctx context.Context, id string) (Customer, error) {
	var out Customer
	err := a.get(ctx, customersService, customersapi.Prefix+"/"+url.PathEscape(id), nil, &out)
	return out, err
}

func (a api) eligibility(ctx context.Context, id string, from, to time.Time) (customersapi.Eligibility, error) {
	var out customersapi.Eligibility
	err := platform.CallJSON(ctx, a.c, http.MethodPost, customersService, customersapi.Prefix+"/"+url.PathEscape(id)+"/eligibility",
		customersapi.Period{PickupAt: from.Format(time.RFC3339Nano), ReturnAt: to.Format(time.RFC3339Nano)}, &out)
	return out, err
}

func (a api) erase(ctx context.Context, id string) (Customer, error) {
	var out Customer
	err := platform.CallJSON(ctx, a.c, http.MethodPost, customersService, customersapi.Prefix+"/"+url.PathEscape(id)+"/erasure", nil, &out)
	return out, err
}

// --- reservations-api ---

func (a api) reservations(ctx context.Context, q url.Values) (page[Reservation], error) {
	var out page[Reservation]
	err := a.get(ctx, reservationsService, reservationsapi.Prefix, q, &out)
	return out, err
}

func (a api) reservation(ctx context.Context, id string) (Reservation, error) {
	var out Reservation
	err := a.get(ctx, reservationsService, reservationsapi.Prefix+"/"+url.PathEscape(id)+"/counter", nil, &out)
	return out, err
}

// reservationAction posts to one of a booking's operations (activate, complete, no-show,
// cancel, payment-method) and answers the booking.
func (a api) reservationAction(ctx context.Context, id, action, key string, in any) (Reservation, error) {
	var out Reservation
	err := a.post(ctx, reservationsService, reservationsapi.Prefix+"/"+url.PathEscape(id)+"/"+action, key, in, &out)
	return out, err
}

// book creates a booking for a customer (POST /api/reservations: the agent names the
// customer).
func (a api) book(ctx context.Context, key string, in booking) (Reservation, error) {
	var out Reservation
	err := a.post(ctx, reservationsService, reservationsapi.Prefix, key, in, &out)
	return out, err
}

// tokenize makes a payment method of one of the sandbox provider's test tokens (never a
// card: card details do not come to the portal).
func (a api) tokenize(ctx context.Context, token string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := platform.CallJSON(ctx, a.c, http.MethodPost, paymentsService, "/api/payments/methods", map[string]string{"token": token}, &out)
	return out.ID, err
}

// --- locations-api, vehicles-api, pricing-api ---

func (a api) locations(ctx context.Context) ([]locationsapi.Location, error) {
	var out struct {
		Items []locationsapi.Location `json:"items"`
	}
	err := a.get(ctx, locationsService, "/api/locations", nil, &out)
	return out.Items, err
}

func (a api) location(ctx context.Context, code string) (locationsapi.Location, error) {
	return locationsapi.NewClient(a.c).Location(ctx, code)
}

func (a api) offers(ctx context.Context, q url.Values) (page[Offer], error) {
	var out page[Offer]
	err := a.get(ctx, vehiclesService, "/api/vehicles", q, &out)
	return out, err
}

func (a api) catalogue(ctx context.Context) (Catalogue, error) {
	var out Catalogue
	err := a.get(ctx, pricingService, pricingapi.Prefix+"/catalogue", nil, &out)
	return out, err
}

func (a api) quote(ctx context.Context, in pricingapi.QuoteRequest) (pricingapi.Quote, error) {
	var out pricingapi.Quote
	err := platform.CallJSON(ctx, a.c, http.MethodPost, pricingService, pricingapi.Prefix+"/quotes", in, &out)
	return out, err
}

// cancellationFee is what cancelling booking id now costs, as reservations-api would charge
// it (a pending hold nothing; a changed booking its change fee too).
func (a api) cancellationFee(ctx context.Context, id string) (int64, error) {
	var out struct {
		FeeCents int64 `json:"feeCents"`
	}
	err := a.get(ctx, reservationsService, reservationsapi.Prefix+"/"+url.PathEscape(id)+"/cancellation-fee", nil, &out)
	return out.FeeCents, err
}

// --- payments-api, notifications-api ---

// invoices lists the invoices filter names (payments-api's customer or reservation), at most 100.
func (a api) invoices(ctx context.Context, filter url.Values) ([]Invoice, error) {
	var out page[Invoice]
	q := url.Values{"pageSize": {"100"}}
	for k, v := range filter {
		q[k] = v
	}
	err := a.get(ctx, paymentsService, "/api/invoices", q, &out)
	return out.Items, err
}

func (a api) notifications(ctx context.Context, customer string) (page[Notification], error) {
	var out page[Notification]
	err := a.get(ctx, notificationsService, "/api/notifications", url.Values{"customerId": {customer}, "pageSize": {"20"}}, &out)
	return out, err
}

// resend queues a copy of a notification to the customer's current address; it answers
// the new notification, whose CustomerID says whose page to go back to.
func (a api) resend(ctx context.Context, id, key string) (Notification, error) {
	var out Notification
	err := a.post(ctx, notificationsService, "/api/notifications/"+url.PathEscape(id)+"/resend", key, nil, &out)
	return out, err
}

// --- dead-letter, report-worker ---

func (a api) deadLetters(ctx context.Context, q url.Values) (page[DeadLetter], error) {
	var out page[DeadLetter]
	err := a.get(ctx, deadLettersService, "/api/dead-letters", q, &out)
	return out, err
}

func (a api) deadLetter(ctx context.Context, id string) (DeadLetter, error) {
	var out DeadLetter
	err := a.get(ctx, deadLettersService, "/api/dead-letters/"+url.PathEscape(id), nil, &out)
	return out, err
}

// deadLetterAction replays or discards one letter.
func (a api) deadLetterAction(ctx context.Context, id, action, key string) (DeadLetter, error) {
	var out DeadLetter
	err := a.post(ctx, deadLettersService, "/api/dead-letters/"+url.PathEscape(id)+"/"+action, key, nil, &out)
	return out, err
}

func (a api) report(ctx context.Context, q url.Values) (Report, error) {
	var out Report
	err := a.get(ctx, reportsService, "/api/reports", q, &out)
	return out, err
}

// itoa is strconv.Itoa, for query strings.
func itoa(n int) string { return strconv.Itoa(n) }
