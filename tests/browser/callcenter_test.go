package browser_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The call-center portal's journey (functions/callcenter's templates and
// docs/call-center-portal.md name the pages and ids).

// counterGuest is the renter the agent serves: a guest who booked through the API (the
// public portal's own journeys cover the booking pages) with a name no one else has.
var counterGuest = guestDetails("Hanna", "Thekenkraft", "hanna.thekenkraft@example.com")

// bookForTheCounter books the first free car at counterBranch for counterGuest, picked up a
// few minutes from now (today, on the branch's clock) and returned two days later, paid with
// the card that pays; it waits until the booking is confirmed and returns its id.
func bookForTheCounter(t *testing.T, s *system) string {
	t.Helper()
	pickup := time.Now().UTC().Add(5 * time.Minute).Truncate(time.Minute)
	ret := pickup.Add(48 * time.Hour)
	q := url.Values{"location": {counterBranch}, "pickup": {pickup.Format(time.RFC3339)}, "return": {ret.Format(time.RFC3339)}}
	var cars struct{ Items []struct{ ID string } }
	status, raw := s.API(t, http.MethodGet, "/api/vehicles?"+q.Encode(), "", nil, &cars)
	require.Equal(t, http.StatusOK, status, raw)
	require.NotEmpty(t, cars.Items, "no free car at %s", counterBranch)

	var pm struct{ ID string }
	card := map[string]any{"card": map[string]any{"number": cardPays, "expMonth": 12, "expYear": time.Now().Year() + 2,
		"cvc": "123", "holder": "Hanna Thekenkraft"}}
	status, raw = s.API(t, http.MethodPost, "/api/payments/methods", "", card, &pm)
	require.Equal(t, http.StatusCreated, status, raw)

	g := counterGuest
	customer := map[string]any{"firstName": g["firstName"], "lastName": g["lastName"], "email": g["email"], "phone": g["phone"],
		"dateOfBirth": g["dateOfBirth"], "address": map[string]any{"street": g["street"], "postalCode": g["postalCode"], "city": g["city"]},
		"licence": map[string]any{"number": g["licenceNumber"], "issuingCountry": g["licenceCountry"],
			"issueDate": g["licenceIssued"], "expiryDate": g["licenceExpires"]}}
	body := map[string]any{"customer": customer, "vehicleId": cars.Items[0].ID, "pickupLocation": counterBranch,
		"pickupAt": pickup.Format(time.RFC3339), "returnAt": ret.Format(time.RFC3339), "insurance": "LIABILITY",
		"paymentMethodId": pm.ID}
	var res struct{ ID string }
	status, raw = s.API(t, http.MethodPost, "/api/reservations/guest", "", body, &res, "Idempotency-Key", rand.Text())
	require.Equal(t, http.StatusCreated, status, raw)

	carla := s.Token(t, "carla")
	deadline := time.Now().Add(settle)
	for {
		var r struct{ Status string }
		status, raw = s.API(t, http.MethodGet, "/api/reservations/"+res.ID, carla, nil, &r)
		require.Equal(t, http.StatusOK, status, raw)
		if r.Status == "confirmed" {
			return res.ID
		}
		require.True(t, time.Now().Before(deadline), "the counter's booking is still %s", r.Status)
		time.Sleep(200 * time.Millisecond)
	}
}

// journeyCounter: carla signs in to the call center, finds the customer by name, opens
// their booking from the customer page, hands the car over at the counter (odometer, full
// tank), takes it back (more km, a quarter tank less), and the rental's invoice appears.
func journeyCounter(t *testing.T, b *browser, s *system) {
	id := bookForTheCounter(t, s)
	p := b.newPage(t, s, journeyTimeout)
	p.open("/call-center/")
	signIn(p, "carla", "#home-search", true)
	p.otherPage("callcenter-home")
	p.typeInto("#f-name", "Hanna Maria Anna Luise Greta Thekenkraft")
	p.submit("#home-search button[type=submit]", "#f-name-error")
	assert.Equal(t, "Hanna Maria Anna Luise Greta Thekenkraft", p.value("#f-name"), "the refused search keeps what was typed")
	assert.Equal(t, "true", p.eval(`document.querySelector('#f-name').getAttribute('aria-invalid') || ''`))
	p.typeInto("#f-name", "Thekenk")
	p.submit("#search-submit", "#customer-results")
	p.mainPage("callcenter-customer-search")
	p.submit("#customer-results a.customer-link", "#customer-name")
	assert.Contains(t, p.text("#customer-name"), "Hanna Thekenkraft")
	p.wait(fmt.Sprintf("#booking-list tr[data-reservation-id=%q]", id))
	p.mainPage("callcenter-customer")

	p.open("/call-center/counter")
	p.wait("#counter-form")
	p.set("#f-branch", counterBranch)
	p.submit("#counter-submit", "#counter-day")
	row := fmt.Sprintf("#pickup-list tr[data-reservation-id=%q]", id)
	p.wait(row)
	p.mainPage("callcenter-counter")
	p.submit(row+" a.pickup-action", "#pickup-form")
	p.otherPage("callcenter-pickup")
	p.typeInto("#f-odometerKm", "12000")
	p.set("#f-fuelEighths", "8")
	p.submit("#pickup-submit", "#reservation-status")
	assert.Equal(t, "active", p.eval(`document.querySelector('#reservation-status [data-status]').dataset.status`))
	assert.Contains(t, p.text("#odometer-out"), "12")

	p.submit("#return-link", "#return-form")
	p.typeInto("#f-odometerKm", "11000")
	p.set("#f-fuelEighths", "6")
	p.click("#return-submit")
	p.wait("#f-odometerKm-error")
	assert.Equal(t, "11000", p.value("#f-odometerKm"), "the refused reading is kept to be corrected")
	p.otherPage("callcenter-return")
	p.typeInto("#f-odometerKm", "12180")
	p.submit("#return-submit", "#reservation-status")
	assert.Equal(t, "completed", p.eval(`document.querySelector('#reservation-status [data-status]').dataset.status`))
	invoice := fmt.Sprintf("#invoice-list tr[data-reservation-id=%q]", id)
	p.reloadUntil(invoice, settle)
	assert.Regexp(t, `^OCR-\d{4}-\d{6}$`, p.eval(`document.querySelector('`+invoice+`').dataset.invoiceNumber`))
	p.mainPage("callcenter-reservation")
}
