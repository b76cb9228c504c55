package callcenter_test

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// TestCallCenter runs the portal's pages against the whole system: one `orange dev` for all
// the subtests (starting it is most of the time), each signing in on its own.
func TestCallCenter(t *testing.T) {
	s := startSystem(t)
	t.Run("counter journey", func(t *testing.T) { counterJourney(t, s) })
	t.Run("bad input keeps what was typed", func(t *testing.T) { t.Parallel(); badInput(t, s) })
	t.Run("roles", func(t *testing.T) { t.Parallel(); roles(t, s) })
	t.Run("search pages", func(t *testing.T) { t.Parallel(); searchPages(t, s) })
	t.Run("book on behalf and cancel", func(t *testing.T) { t.Parallel(); bookAndCancel(t, s) })
	t.Run("declined card, another one", func(t *testing.T) { t.Parallel(); declinedCard(t, s) })
	t.Run("erasure", func(t *testing.T) { t.Parallel(); erasure(t, s) })
	t.Run("no-show", func(t *testing.T) { t.Parallel(); noShow(t, s) })
	t.Run("reports and dead letters", func(t *testing.T) { t.Parallel(); admin(t, s) })
}

// confirmedBooking books a car at counterBranch for alice, picked up in (a few minutes from
// now; up to 15 minutes ago for a walk-in) and returned two days later, paid with the
// sandbox card that pays, and waits until payments-api's authorization has confirmed it.
func confirmedBooking(t *testing.T, s *system, in time.Duration) string {
	t.Helper()
	alice := s.Token(t, "alice")
	pickup := time.Now().UTC().Add(in).Truncate(time.Second)
	ret := pickup.Add(48 * time.Hour)
	q := url.Values{"location": {counterBranch}, "pickup": {pickup.Format(time.RFC3339)}, "return": {ret.Format(time.RFC3339)}}
	var cars struct{ Items []struct{ ID string } }
	status, raw := s.API(t, http.MethodGet, "/api/vehicles?"+q.Encode(), "", nil, &cars)
	require.Equal(t, http.StatusOK, status, raw)
	require.NotEmpty(t, cars.Items, "no free car at %s", counterBranch)
	var pm struct{ ID string }
	status, raw = s.API(t, http.MethodPost, "/api/payments/methods", alice, map[string]any{"token": "tok_success"}, &pm)
	require.Equal(t, http.StatusCreated, status, raw)
	var res struct{ ID string }
	status, raw = s.API(t, http.MethodPost, "/api/reservations", alice, map[string]any{
		"vehicleId": cars.Items[0].ID, "pickupLocation": counterBranch,
		"pickupAt": pickup.Format(time.RFC3339), "returnAt": ret.Format(time.RFC3339), "paymentMethodId": pm.ID,
	}, &res, "Idempotency-Key", rand.Text())
	require.Equal(t, http.StatusCreated, status, raw)
	carla := s.Token(t, "carla")
	require.Eventually(t, func() bool {
		var r struct{ Status string }
		s.API(t, http.MethodGet, "/api/reservations/"+res.ID, carla, nil, &r)
		return r.Status == "confirmed"
	}, 20*time.Second, 100*time.Millisecond, "the booking was never confirmed")
	return res.ID
}

// counterJourney: carla finds alice, opens her booking, hands the car over (a bad reading
// first), takes it back (an odometer below the handover's first), and the rental's invoice
// appears on the booking's page.
func counterJourney(t *testing.T, s *system) {
	id := confirmedBooking(t, s, 5*time.Minute)
	b := s.signIn(t, "carla")

	// The search posts: what an agent searched for stays out of URLs (and the logs that
	// keep them); a GET with the query still answers.
	home := b.get("/call-center/")
	assert.Contains(t, home.Body, `<form method="post" action="/call-center/customers" id="home-search"`)
	found := b.post("/call-center/customers", url.Values{"name": {"ali"}})
	require.Equal(t, http.StatusOK, found.Status, found.Body)
	assert.Contains(t, found.Body, `data-customer-id="`+devissuer.CustomerAlice+`"`)
	assert.Contains(t, found.Body, `<form method="post" action="/call-center/customers" id="customer-search"`)
	assert.Contains(t, found.Body, `value="ali"`, "the search keeps what was typed")
	assert.NotContains(t, found.Body, "name=ali", "no URL on the page carries the search")
	assert.Equal(t, http.StatusOK, b.get("/call-center/customers?name=ali").Status)

	customer := b.get("/call-center/customers/" + devissuer.CustomerAlice)
	require.Equal(t, http.StatusOK, customer.Status, customer.Body)
	assert.Contains(t, customer.Body, `id="customer-name"`)
	assert.Contains(t, customer.Body, `data-reservation-id="`+id+`"`, "the booking is listed on the customer page")

	// The customer's mails are listed, and one is sent again.
	require.Eventually(t, func() bool {
		customer = b.get("/call-center/customers/" + devissuer.CustomerAlice)
		return strings.Contains(customer.Body, `data-notification-id="`)
	}, 20*time.Second, 200*time.Millisecond, "alice's notifications never showed")
	note := attr(t, customer.Body, `data-notification-id="`)
	resent := b.post("/call-center/notifications/"+note+"/resend", url.Values{"key": {rand.Text()}})
	require.Equal(t, http.StatusOK, resent.Status, resent.Body)
	assert.Contains(t, resent.Body, `id="done-resend"`)

	counter := b.get("/call-center/counter?branch=" + counterBranch)
	require.Equal(t, http.StatusOK, counter.Status, counter.Body)
	pickups := counter.Body[strings.Index(counter.Body, `id="pickups-heading"`):strings.Index(counter.Body, `id="returns-heading"`)]
	assert.Contains(t, pickups, `data-reservation-id="`+id+`"`, "today's pickup is on the counter")

	// A cancellation needs a reason (the customer's mail quotes it): asked for on the form,
	// in the page's language, not reservations-api's English refusal after "optional".
	cancelForm := b.get("/call-center/reservations/" + id + "/cancel")
	require.Equal(t, http.StatusOK, cancelForm.Status, cancelForm.Body)
	noReason := b.post("/call-center/reservations/"+id+"/cancel", url.Values{"key": {hidden(cancelForm.Body, "key")}, "reason": {" "}})
	assert.Equal(t, http.StatusBadRequest, noReason.Status, noReason.Body)
	assert.Contains(t, noReason.Body, `id="f-reason-error"`)
	assert.NotContains(t, noReason.Body, "required, at most 500 characters")

	form := b.get("/call-center/reservations/" + id + "/pickup")
	require.Equal(t, http.StatusOK, form.Status, form.Body)
	key := hidden(form.Body, "key")
	require.NotEmpty(t, key)

	bad := b.post("/call-center/reservations/"+id+"/pickup", url.Values{"key": {key}, "odometerKm": {"12 km"}, "fuelEighths": {"8"}})
	assert.Equal(t, http.StatusBadRequest, bad.Status)
	assert.Contains(t, bad.Body, `id="f-odometerKm-error"`)
	assert.Contains(t, bad.Body, `value="12 km"`, "what was typed is kept")
	assert.Contains(t, bad.Body, `<option value="8" selected>`)

	done := b.post("/call-center/reservations/"+id+"/pickup", url.Values{"key": {key}, "odometerKm": {"12000"}, "fuelEighths": {"8"}})
	require.Equal(t, http.StatusOK, done.Status, done.Body)
	assert.Contains(t, done.Body, `id="done-pickup"`)
	assert.Contains(t, done.Body, `data-status="active"`)
	// The same form again (a double click): one handover, the function's answer replayed.
	again := b.post("/call-center/reservations/"+id+"/pickup", url.Values{"key": {key}, "odometerKm": {"12000"}, "fuelEighths": {"8"}})
	assert.Equal(t, http.StatusOK, again.Status, again.Body)

	form = b.get("/call-center/reservations/" + id + "/return")
	key = hidden(form.Body, "key")
	below := b.post("/call-center/reservations/"+id+"/return", url.Values{"key": {key}, "odometerKm": {"11000"}, "fuelEighths": {"6"}, "damageNotes": {"scratch on the left door"}})
	assert.Equal(t, http.StatusBadRequest, below.Status, below.Body)
	assert.Contains(t, below.Body, `id="f-odometerKm-error"`, "reservations-api's reason is shown at the field")
	assert.Contains(t, below.Body, `scratch on the left door</textarea>`)

	done = b.post("/call-center/reservations/"+id+"/return", url.Values{"key": {key}, "odometerKm": {"12480"}, "fuelEighths": {"6"}, "damageNotes": {"scratch on the left door"}})
	require.Equal(t, http.StatusOK, done.Status, done.Body)
	assert.Contains(t, done.Body, `data-status="completed"`)
	assert.Contains(t, done.Body, `data-charge="REFUEL"`, "two eighths missing: pricing's refuel charge")

	var last page
	require.Eventually(t, func() bool {
		last = b.get("/call-center/reservations/" + id)
		return strings.Contains(last.Body, `data-invoice-kind="rental"`)
	}, 20*time.Second, 200*time.Millisecond, "the rental invoice never appeared")
	// The page's total is what was billed: the booking's total left out the refuel charge the
	// invoice holds.
	billed := attr(t, last.Body, `id="rental-total">`)
	billed = billed[:strings.Index(billed, "<")]
	row := last.Body[strings.Index(last.Body, `data-invoice-kind="rental"`):]
	assert.Contains(t, row[:strings.Index(row, "</tr>")], `<td class="num">`+billed+`</td>`, "the total is the rental invoice's")
	pdf := b.get("/call-center/invoices/" + attr(t, last.Body, `<a class="invoice-pdf" href="/call-center/invoices/`)[:36] + "/pdf")
	assert.Equal(t, http.StatusOK, pdf.Status)
	assert.Equal(t, "application/pdf", pdf.Header.Get("Content-Type"))
	assert.True(t, strings.HasPrefix(pdf.Body, "%PDF"))
}

// noShow: a walk-in booked ten minutes ago never came; cancelling now would cost the whole
// price (less than 24 h before pickup), and the agent marks it a no-show from the counter.
func noShow(t *testing.T, s *system) {
	id := confirmedBooking(t, s, -10*time.Minute)
	b := s.signIn(t, "carla")
	counter := b.get("/call-center/counter?branch=" + counterBranch)
	require.Equal(t, http.StatusOK, counter.Status, counter.Body)
	assert.Contains(t, counter.Body, `<a class="noshow-action" href="/call-center/reservations/`+id+`/no-show">`)

	cancel := b.get("/call-center/reservations/" + id + "/cancel")
	require.Equal(t, http.StatusOK, cancel.Status, cancel.Body)
	total := attr(t, cancel.Body, `id="reservation-total-cents" data-cents="`)
	assert.Contains(t, cancel.Body, `id="cancel-fee" data-cents="`+total+`"`, "within 24 h: the whole price")

	form := b.get("/call-center/reservations/" + id + "/no-show")
	require.Equal(t, http.StatusOK, form.Status, form.Body)
	done := b.post("/call-center/reservations/"+id+"/no-show", url.Values{"key": {hidden(form.Body, "key")}})
	require.Equal(t, http.StatusOK, done.Status, done.Body)
	assert.Contains(t, done.Body, `data-status="no_show"`)
	assert.Contains(t, done.Body, `id="fee"`)
	require.Eventually(t, func() bool {
		return strings.Contains(b.get("/call-center/reservations/"+id).Body, `data-invoice-kind="no_show"`)
	}, 20*time.Second, 200*time.Millisecond, "the no-show invoice never appeared")
}
