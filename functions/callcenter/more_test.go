package callcenter_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// badInput: every form refuses bad input with the field's message in place (status 400,
// aria-invalid, the message's id) and what was typed kept; nothing changes.
func badInput(t *testing.T, s *system) {
	b := s.signIn(t, "carla")
	alice := "/call-center/customers/" + devissuer.CustomerAlice
	missing := "/call-center/reservations/00000000-0000-4000-8000-00000000dead"
	for _, tc := range []struct {
		name, method, path string
		form               url.Values
		field, kept        string
	}{
		{"search: unknown status", http.MethodGet, "/call-center/customers?name=ali&status=sleeping", nil, "status", `value="ali"`},
		{"search: page zero", http.MethodGet, "/call-center/customers?name=ali&page=0", nil, "", `value="ali"`},
		{"counter: unknown branch", http.MethodGet, "/call-center/counter?branch=XXX-NOPE", nil, "branch", ``},
		{"counter: malformed branch", http.MethodGet, "/call-center/counter?branch=%3Cb%3E", nil, "branch", ``},
		{"counter: bad day", http.MethodGet, "/call-center/counter?branch=" + counterBranch + "&date=2026-13-40", nil, "date", `value="2026-13-40"`},
		{"eligibility: no pickup", http.MethodGet, alice + "?pickupAt=&returnAt=2027-01-02T10:00", nil, "pickupAt", `value="2027-01-02T10:00"`},
		{"eligibility: return first", http.MethodGet, alice + "?pickupAt=2027-01-05T10:00&returnAt=2027-01-02T10:00", nil, "returnAt", `value="2027-01-05T10:00"`},
		{"book: no branch", http.MethodGet, alice + "/book?pickupLocation=&pickupAt=2027-01-05T10:00&returnAt=2027-01-07T10:00", nil, "pickupLocation", `value="2027-01-05T10:00"`},
		{"book: unknown category", http.MethodGet, alice + "/book?pickupLocation=BER-HBF&pickupAt=2027-01-05T10:00&returnAt=2027-01-07T10:00&category=ROCKET", nil, "category", `value="2027-01-07T10:00"`},
		{"book: vehicles-api refuses the past", http.MethodGet, alice + "/book?pickupLocation=BER-HBF&pickupAt=2020-01-05T10:00&returnAt=2020-01-07T10:00", nil, "pickupAt", `value="2020-01-05T10:00"`},
		{"book: no car chosen", http.MethodPost, alice + "/book", url.Values{"pickupLocation": {"BER-HBF"}, "pickupAt": {future(3)}, "returnAt": {future(5)}, "action": {"quote"}, "extra-GPS": {"x"}}, "vehicleId", ``},
		{"erase: not confirmed", http.MethodPost, alice + "/erase", url.Values{}, "confirm", ``},
		{"pickup: no readings", http.MethodPost, missing + "/pickup", url.Values{"odometerKm": {"-3"}}, "odometerKm", `value="-3"`},
		{"cancel: reason too long", http.MethodPost, missing + "/cancel", url.Values{"reason": {strings.Repeat("x", 501)}}, "reason", strings.Repeat("x", 501) + "</textarea>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p page
			if tc.method == http.MethodGet {
				p = b.get(tc.path)
			} else {
				p = b.post(tc.path, tc.form)
			}
			if strings.HasPrefix(tc.path, missing) {
				// A missing booking: the form is refused before reservations-api is asked,
				// and the page shows what cannot be read as 404.
				assert.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound}, p.Status, p.Body)
				return
			}
			require.Equal(t, http.StatusBadRequest, p.Status, p.Body)
			if tc.field == "" {
				// Not a field of the form (a page number in the URL): the form's message.
				assert.Contains(t, p.Body, `<div class="form-errors" role="alert"><p>`)
				assert.Contains(t, p.Body, tc.kept)
				return
			}
			assert.Contains(t, p.Body, `id="f-`+tc.field+`-error"`, "the message next to the field")
			assert.Contains(t, p.Body, `aria-describedby="f-`+tc.field+`-error"`)
			assert.Contains(t, p.Body, tc.kept, "what was typed is kept")
		})
	}
	// The erasure refused above changed nothing.
	c := b.get(alice)
	assert.NotContains(t, c.Body, `id="customer-erased"`)
}

// future is a datetime-local value days from now at 10:00 (Berlin is near enough: the
// tests' branches are open around the clock).
func future(days int) string { return time.Now().AddDate(0, 0, days).Format("2006-01-02") + "T10:00" }

// roles: what each role sees — an agent no dead letters, a fleet manager no customers but
// reports with the chart, an admin everything; a customer has no session here.
func roles(t *testing.T, s *system) {
	carla := s.signIn(t, "carla")
	home := carla.get("/call-center/")
	assert.Contains(t, home.Body, `id="nav-customers"`)
	assert.NotContains(t, home.Body, `id="nav-dead-letters"`)
	assert.NotContains(t, home.Body, `id="nav-reports"`)
	assert.Equal(t, http.StatusForbidden, carla.get("/call-center/dead-letters").Status)
	assert.Equal(t, http.StatusForbidden, carla.get("/call-center/reports").Status)

	frank := s.signIn(t, "frank")
	assert.Equal(t, http.StatusForbidden, frank.get("/call-center/customers?name=ali").Status)
	assert.Equal(t, http.StatusForbidden, frank.get("/call-center/counter").Status)
	rep := frank.get("/call-center/reports")
	require.Equal(t, http.StatusOK, rep.Status, rep.Body)
	assert.Contains(t, rep.Body, `id="report-total"`)
	chart := frank.get(attr(t, rep.Body, `id="report-chart" src="`))
	require.Equal(t, http.StatusOK, chart.Status, chart.Body)
	assert.True(t, strings.HasPrefix(chart.Header.Get("Content-Type"), "image/svg+xml"))
	assert.Equal(t, "default-src 'none'; frame-ancestors 'none'", chart.Header.Get("Content-Security-Policy"))
	assert.Contains(t, chart.Body, "<svg")
	assert.NotContains(t, chart.Body, "<script")
	// The chart's proxy fetches report-worker's report and nothing else: a value that would
	// walk the path is refused, an extra parameter is not passed on.
	walk := frank.get("/call-center/reports/chart.svg?from=2026-01-01&to=2026-01-31&branch=..%2F..%2Fapi%2Fcustomers")
	assert.Equal(t, http.StatusBadRequest, walk.Status)
	assert.NotContains(t, walk.Body, "<svg")
	extra := frank.get("/call-center/reports/report.csv?from=2026-01-01&to=2026-01-31&format=json&path=/api/customers")
	require.Equal(t, http.StatusOK, extra.Status, extra.Body)
	assert.True(t, strings.HasPrefix(extra.Header.Get("Content-Type"), "text/csv"))

	// A missing customer, a malformed id: the 404 page, no API error shown.
	ada := s.signIn(t, "ada")
	assert.Equal(t, http.StatusNotFound, ada.get("/call-center/customers/00000000-0000-4000-8000-000000000000").Status)
	assert.Equal(t, http.StatusNotFound, ada.get("/call-center/customers/not-an-id").Status)
	// The invoice proxy takes a UUID only: an encoded path walk reaches no other API.
	for _, walk := range []string{"/call-center/invoices/..%2F..%2Fapi%2Fcustomers/pdf", "/call-center/invoices/%2e%2e/pdf"} {
		p := ada.get(walk)
		assert.NotEqual(t, http.StatusOK, p.Status, walk)
		assert.NotContains(t, p.Body, devissuer.CustomerAlice, walk)
		assert.NotContains(t, p.Header.Get("Content-Type"), "application/pdf", walk)
	}
	assert.Equal(t, http.StatusOK, ada.get("/call-center/dead-letters").Status)
}

// bookAndCancel: carla books for alice (search, quote, book with a sandbox test card), sees
// the booking confirmed, and cancels it with the fee shown first.
func bookAndCancel(t *testing.T, s *system) {
	b := s.signIn(t, "carla")
	path := "/call-center/customers/" + devissuer.CustomerAlice + "/book"
	trip := url.Values{"pickupLocation": {"MUC-FLG"}, "pickupAt": {future(10)}, "returnAt": {future(13)}, "category": {"KOMPAKT"}}
	search := b.get(path + "?" + trip.Encode())
	require.Equal(t, http.StatusOK, search.Status, search.Body)
	vehicle := attr(t, search.Body, `<tr data-vehicle-id="`)
	form := url.Values{"key": {hidden(search.Body, "key")}, "vehicleId": {vehicle}, "insurance": {"FULL"}, "extra-GPS": {"1"}, "action": {"quote"}}
	for k, v := range trip {
		form[k] = v
	}
	quote := b.post(path, form)
	require.Equal(t, http.StatusOK, quote.Status, quote.Body)
	assert.Contains(t, quote.Body, `id="quote-total"`)
	assert.Contains(t, quote.Body, `value="1"`, "the extras chosen are kept")

	form.Set("action", "book")
	noCard := b.post(path, form)
	require.Equal(t, http.StatusBadRequest, noCard.Status, noCard.Body)
	assert.Contains(t, noCard.Body, `id="f-paymentMethodId-error"`)

	form.Set("sandboxCard", "tok_success")
	booked := b.post(path, form)
	require.Equal(t, http.StatusOK, booked.Status, booked.Body)
	assert.Contains(t, booked.Body, `id="done-book"`)
	id := strings.TrimPrefix(strings.SplitN(booked.URL, "?", 2)[0], s.Base+"/call-center/reservations/")
	require.Len(t, id, 36, booked.URL)
	// The form sent again (a double click): the car is no longer among the offers and the
	// sandbox card is tokenized anew, but the answer is the booking made, not an error.
	again := b.post(path, form)
	require.Equal(t, http.StatusOK, again.Status, again.Body)
	assert.Equal(t, booked.URL, again.URL, "the same booking")

	var detail page
	require.Eventually(t, func() bool {
		detail = b.get("/call-center/reservations/" + id)
		return strings.Contains(detail.Body, `data-status="confirmed"`)
	}, 20*time.Second, 200*time.Millisecond, "the booking was never confirmed")
	assert.Contains(t, detail.Body, `id="cancel-link"`)

	cancel := b.get("/call-center/reservations/" + id + "/cancel")
	require.Equal(t, http.StatusOK, cancel.Status, cancel.Body)
	assert.Contains(t, cancel.Body, `id="cancel-fee" data-cents="0"`, "ten days ahead: free")
	done := b.post("/call-center/reservations/"+id+"/cancel", url.Values{"key": {hidden(cancel.Body, "key")}, "reason": {"plans changed"}})
	require.Equal(t, http.StatusOK, done.Status, done.Body)
	assert.Contains(t, done.Body, `data-status="cancelled"`)
	assert.NotContains(t, done.Body, `id="cancel-link"`)
}

// declinedCard: carla books for alice with the test card that is declined; the booking's
// page says so and takes another payment method, which confirms the booking.
func declinedCard(t *testing.T, s *system) {
	b := s.signIn(t, "carla")
	path := "/call-center/customers/" + devissuer.CustomerAlice + "/book"
	trip := url.Values{"pickupLocation": {"FRA-FLG"}, "pickupAt": {future(20)}, "returnAt": {future(22)}}
	search := b.get(path + "?" + trip.Encode())
	require.Equal(t, http.StatusOK, search.Status, search.Body)
	form := url.Values{"key": {hidden(search.Body, "key")}, "vehicleId": {attr(t, search.Body, `<tr data-vehicle-id="`)},
		"action": {"book"}, "sandboxCard": {"tok_decline"}}
	for k, v := range trip {
		form[k] = v
	}
	booked := b.post(path, form)
	require.Equal(t, http.StatusOK, booked.Status, booked.Body)
	id := strings.TrimPrefix(strings.SplitN(booked.URL, "?", 2)[0], s.Base+"/call-center/reservations/")
	var declined page
	require.Eventually(t, func() bool {
		declined = b.get("/call-center/reservations/" + id)
		return strings.Contains(declined.Body, `id="payment-declined"`)
	}, 20*time.Second, 200*time.Millisecond, "the decline never showed")
	assert.Contains(t, declined.Body, `data-status="pending"`)
	key := hidden(declined.Body, "key")
	bad := b.post("/call-center/reservations/"+id+"/payment-method", url.Values{"key": {key}, "paymentMethodId": {"4242 4242 4242 4242"}})
	require.Equal(t, http.StatusBadRequest, bad.Status, bad.Body)
	assert.Contains(t, bad.Body, `id="f-paymentMethodId-error"`)
	retried := b.post("/call-center/reservations/"+id+"/payment-method", url.Values{"key": {key}, "sandboxCard": {"tok_success"}})
	require.Equal(t, http.StatusOK, retried.Status, retried.Body)
	assert.Contains(t, retried.Body, `id="done-payment"`)
	require.Eventually(t, func() bool {
		return strings.Contains(b.get("/call-center/reservations/"+id).Body, `data-status="confirmed"`)
	}, 20*time.Second, 200*time.Millisecond, "the second card never confirmed the booking")
}

// erasure: an agent erases a customer who asks for it, after ticking the confirmation.
func erasure(t *testing.T, s *system) {
	var c struct{ ID string }
	status, raw := s.API(t, http.MethodPost, "/api/customers", "", map[string]any{
		"firstName": "Wilma", "lastName": "Vergessen", "email": "wilma.vergessen@example.org", "phone": "+49 30 5550123",
		"dateOfBirth": "1980-04-01", "address": map[string]any{"street": "Am Hang 3", "postalCode": "10115", "city": "Berlin"},
	}, &c)
	require.Equal(t, http.StatusCreated, status, raw)
	b := s.signIn(t, "carla")
	form := b.get("/call-center/customers/" + c.ID + "/erase")
	require.Equal(t, http.StatusOK, form.Status, form.Body)
	assert.Contains(t, form.Body, "Wilma Vergessen")
	done := b.post("/call-center/customers/"+c.ID+"/erase", url.Values{"confirm": {"yes"}})
	require.Equal(t, http.StatusOK, done.Status, done.Body)
	assert.Contains(t, done.Body, `id="customer-erased"`)
	assert.NotContains(t, done.Body, "Vergessen")
	// The placeholders are no name and no address: "Erased Erased", "Anschrift: , (DE)".
	assert.NotContains(t, done.Body, "Erased Erased")
	assert.NotContains(t, done.Body, `id="customer-email"`)
}

// admin: ada reads the reports and the dead letters; a letter that is not there is the 404
// page, and a replay of it changes nothing.
func admin(t *testing.T, s *system) {
	b := s.signIn(t, "ada")
	rep := b.get("/call-center/reports?from=2026-11&to=2026-11&granularity=month&branch=BER-HBF")
	require.Equal(t, http.StatusOK, rep.Status, rep.Body)
	csv := b.get(attr(t, rep.Body, `id="report-csv" href="`))
	require.Equal(t, http.StatusOK, csv.Status, csv.Body)
	assert.True(t, strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv"))

	bad := b.get("/call-center/reports?from=yesterday&to=2026-11-30&branch=%3Cscript%3E")
	require.Equal(t, http.StatusBadRequest, bad.Status, bad.Body)
	assert.Contains(t, bad.Body, `id="f-from-error"`)
	assert.Contains(t, bad.Body, `value="yesterday"`)
	assert.Contains(t, bad.Body, `id="f-branch-error"`)
	assert.NotContains(t, bad.Body, `id="report-chart"`)

	// Two letters as a Trigger's failures leave them (dead-letter's own tests cover how
	// they arrive): one to replay, one to discard.
	replay, discard := deadLetter(t, s, "replay-me@example.org"), deadLetter(t, s, "discard-me@example.org")
	list := b.get("/call-center/dead-letters?type=com.orangecarrental.customer.updated.v1&status=stored")
	require.Equal(t, http.StatusOK, list.Status, list.Body)
	assert.Contains(t, list.Body, `data-dead-letter-id="`+replay+`"`)
	assert.Contains(t, list.Body, `data-dead-letter-id="`+discard+`"`)
	one := b.get("/call-center/dead-letters/" + replay)
	require.Equal(t, http.StatusOK, one.Status, one.Body)
	assert.Contains(t, one.Body, `id="dead-letter-data"`)
	assert.Contains(t, one.Body, "[redacted]", "personal fields are dead-letter's to redact")
	assert.NotContains(t, one.Body, "replay-me@example.org")
	done := b.post("/call-center/dead-letters/"+replay+"/replay", url.Values{"key": {hidden(one.Body, "key")}})
	require.Equal(t, http.StatusOK, done.Status, done.Body)
	assert.Contains(t, done.Body, `id="done-replay"`)
	var count int
	require.NoError(t, s.DB.Pool.QueryRow(context.Background(), `SELECT replay_count FROM deadletter.letters WHERE id = $1`, replay).Scan(&count))
	assert.Equal(t, 1, count)
	gone := b.post("/call-center/dead-letters/"+discard+"/discard", url.Values{"key": {hidden(one.Body, "key")}})
	require.Equal(t, http.StatusOK, gone.Status, gone.Body)
	assert.Contains(t, gone.Body, `data-status="discarded"`)
	assert.NotContains(t, gone.Body, `id="replay-form"`)

	missing := "/call-center/dead-letters/00000000-0000-4000-8000-0000000000dd"
	assert.Equal(t, http.StatusNotFound, b.get(missing).Status)
	assert.Equal(t, http.StatusNotFound, b.post(missing+"/replay", url.Values{}).Status)
}

// deadLetter stores a letter of a customer.updated event notification-worker's Trigger
// could not deliver, and returns its id.
func deadLetter(t *testing.T, s *system, email string) string {
	t.Helper()
	var id string
	require.NoError(t, s.DB.Pool.QueryRow(context.Background(), `INSERT INTO deadletter.letters
		(id, trigger, event_id, source, type, subject, time, content_type, data, error_dest, error_code)
		VALUES (gen_random_uuid(), 'notification-worker-customer-updated', gen_random_uuid()::text, 'customers-api',
		'com.orangecarrental.customer.updated.v1', '00000000-0000-4000-8000-00000000c0de', now(), 'application/json',
		jsonb_build_object('customerId', '00000000-0000-4000-8000-00000000c0de', 'email', $1::text, 'version', 2),
		'http://notification-worker/cloudevents', 500)
		RETURNING id::text`, email).Scan(&id))
	return id
}

// searchPages: a search with more than a page of results pages through forms that post the
// search again (name and page), never through a URL that carries it.
func searchPages(t *testing.T, s *system) {
	_, err := s.DB.Pool.Exec(context.Background(), `INSERT INTO customers.customers
		SELECT (json_populate_record(c, json_build_object('id', gen_random_uuid(), 'first_name', 'Page' || chr(64 + g),
			'last_name', 'Paginator', 'email', 'paginator' || g || '@example.com'))).*
		FROM customers.customers c, generate_series(1, 21) g WHERE c.id = $1`, devissuer.CustomerAlice)
	require.NoError(t, err)
	b := s.signIn(t, "carla")
	first := b.post("/call-center/customers", url.Values{"name": {"paginator"}})
	require.Equal(t, http.StatusOK, first.Status, first.Body)
	assert.Equal(t, 20, strings.Count(first.Body, "data-customer-id="))
	assert.NotContains(t, first.Body, `id="prev-page"`)
	next := first.Body[strings.Index(first.Body, `id="next-page"`):]
	assert.Contains(t, next, `<input type="hidden" name="name" value="paginator"><input type="hidden" name="page" value="2">`)
	assert.NotContains(t, first.Body, "name=paginator", "no URL carries the search")
	second := b.post("/call-center/customers", url.Values{"name": {"paginator"}, "page": {"2"}})
	require.Equal(t, http.StatusOK, second.Status, second.Body)
	assert.Equal(t, 1, strings.Count(second.Body, "data-customer-id="))
	assert.Contains(t, second.Body, `id="prev-page"`)
	assert.NotContains(t, second.Body, `id="next-page"`)
}
