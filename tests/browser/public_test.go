package browser_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The public portal's journeys (docs/public-portal.md names the pages and ids). Each
// journey books at its own branch, so parallel journeys never pick the same car.

// Sandbox cards (docs/payments.md): one that pays, one the provider declines.
const (
	cardPays     = "4242424242424242"
	cardDeclined = "4000000000000002"
)

// settle bounds what the broker carries after a click: payment → confirmation → mail.
const settle = 45 * time.Second

// trip is what a renter searches for: a branch and a period in its local time.
type trip struct {
	location    string
	pickup, ret time.Time
}

// localInput is t as a datetime-local field takes it, in the branch's zone (all seeded
// branches the public journeys use are in Europe/Berlin).
func localInput(t time.Time) string {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return t.In(berlin).Format("2006-01-02T15:04")
}

// daysAhead is 10:00 Berlin time, days from today.
func daysAhead(days int) time.Time {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	now := time.Now().In(berlin)
	return time.Date(now.Year(), now.Month(), now.Day()+days, 10, 0, 0, 0, berlin)
}

// searchAndQuote searches tr from the home page, chooses the first offer, picks partial
// cover and a child seat on the vehicle page, and goes on to the booking page. Each page on
// the way is a main page (audit, phone width, screenshots) when shoot is set.
func searchAndQuote(p *page, tr trip, shoot bool) {
	p.t.Helper()
	p.open("/")
	p.wait("#search-form")
	if shoot {
		p.mainPage("public-home")
	}
	p.set("#location", tr.location)
	p.set("#pickup", localInput(tr.pickup))
	p.set("#return", localInput(tr.ret))
	p.submit("#search-submit", "#results li.offer")
	if shoot {
		p.mainPage("public-search-results")
	}
	p.submit("#results li.offer a[id^='offer-']", "#quote-form")
	p.wait("#quote-total")
	before := p.text("#quote-total")
	p.check("#insurance-PARTIAL")
	p.set("#extra-CHILD_SEAT", "1")
	p.click("#quote-update")
	// With JavaScript the quote re-prices in place; without, the button reloads the page.
	p.eventually("the quote re-priced with cover and a child seat", fmt.Sprintf(
		`document.querySelector('#quote-total') && document.querySelector('#quote-total').innerText.trim() !== %q`, before), 20*time.Second)
	if shoot {
		p.mainPage("public-vehicle")
	}
	p.submit("#quote-book", "#booking-summary")
	if shoot {
		p.mainPage("public-booking-form")
	}
}

// guestDetails are the guest fieldset's values of a renter with no account.
func guestDetails(first, last, email string) map[string]string {
	return map[string]string{
		"firstName": first, "lastName": last, "email": email, "phone": "+49 30 1234567",
		"dateOfBirth": "1988-04-12", "street": "Teststraße 1", "postalCode": "10115", "city": "Berlin", "country": "DE",
		"licenceNumber": "B7654321", "licenceCountry": "DE", "licenceIssued": "2008-01-01", "licenceExpires": "2040-01-01",
	}
}

// dateFields are the guest fields a person picks from a date picker rather than types.
var dateFields = map[string]bool{"dateOfBirth": true, "licenceIssued": true, "licenceExpires": true, "country": true, "licenceCountry": true}

// fillGuest types the guest's details into the booking form.
func fillGuest(p *page, d map[string]string) {
	p.t.Helper()
	for _, k := range []string{"firstName", "lastName", "email", "phone", "dateOfBirth", "street", "postalCode", "city", "country",
		"licenceNumber", "licenceCountry", "licenceIssued", "licenceExpires"} {
		if dateFields[k] {
			p.set("#"+k, d[k])
		} else {
			p.typeInto("#"+k, d[k])
		}
	}
}

// fillCard types a card into the card fields under scope ("" for the page's).
func fillCard(p *page, scope, number string) {
	p.t.Helper()
	year := fmt.Sprint(time.Now().Year() + 2)
	p.typeInto(scope+" #card-number", number)
	p.set(scope+" #card-exp-month", "12")
	p.set(scope+" #card-exp-year", year)
	p.typeInto(scope+" #card-cvc", "123")
	p.typeInto(scope+" #card-holder", "Test Renter")
}

// waitStatus reloads a booking page until #booking-status says want (the broker carries
// the payment's answer a moment after the click).
func waitStatus(p *page, want string) {
	p.t.Helper()
	deadline := time.Now().Add(settle)
	for {
		p.wait("#booking-status")
		got := p.eval(`document.querySelector('#booking-status').dataset.status || ''`)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			p.fail("wait for the booking to be "+want, fmt.Errorf("still %q", got))
		}
		time.Sleep(500 * time.Millisecond)
		p.open(strings.TrimPrefix(p.location(), p.sys.Base))
	}
}

// bookingID is the reservation id of a booking page: /bookings/{id}, /my-bookings/{id}.
func bookingID(p *page) string {
	p.t.Helper()
	u, err := url.Parse(p.location())
	require.NoError(p.t, err)
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	require.GreaterOrEqual(p.t, len(parts), 2, "a booking page: %s", u)
	return parts[1]
}

// journeyGuestBooksAndCancels: a guest books and pays with the sandbox card that pays, is
// confirmed, gets the mail with the manage link, opens it (in a fresh browser, as from
// their mail on another device) and cancels, the fee shown first.
func journeyGuestBooksAndCancels(t *testing.T, b *browser, s *system) {
	p := b.newPage(t, s, journeyTimeout)
	const email = "greta.gast@example.com"
	searchAndQuote(p, trip{"BER-HBF", daysAhead(5), daysAhead(8)}, true)
	assert.True(t, p.has("#sign-in-to-book"), "a guest is offered to sign in")
	fillGuest(p, guestDetails("Greta", "Gast", email))
	fillCard(p, "#card", cardPays)
	p.submit("#book-submit", "#booking-status")
	p.mainPage("public-confirmation")
	waitStatus(p, "confirmed")
	total := p.text("#booking-total")
	id := bookingID(p)

	link := s.mailTo(t, email, manageLinkPattern, settle)
	require.Contains(t, link, id, "the manage link names the booking")
	g := b.newPage(t, s, journeyTimeout)
	g.goTo(link)
	g.wait("#booking-status")
	assert.Equal(t, "confirmed", g.eval(`document.querySelector('#booking-status').dataset.status`))
	assert.Equal(t, total, g.text("#booking-total"), "the link shows the booking just made")
	assert.NotContains(t, g.location(), "token", "the token leaves the address bar")
	g.mainPage("public-manage-booking")
	g.submit("#cancel-link", "#cancel-fee")
	g.otherPage("public-cancel")
	assert.NotEmpty(t, g.text("#cancel-fee"), "the fee is shown before cancelling")
	g.submit("#cancel-confirm", "#booking-status")
	waitStatus(g, "cancelled")
}

// journeyDeclinedCard: bob's first card is declined; the booking page says so in plain
// words and offers the card form at once (a signed-in renter; a guest gives another card
// through the mailed link, docs/public-portal.md); the second card pays and the booking is
// confirmed.
func journeyDeclinedCard(t *testing.T, b *browser, s *system) {
	p := b.newPage(t, s, journeyTimeout)
	p.open("/my-bookings")
	signIn(p, "bob", signedIn, false)
	searchAndQuote(p, trip{"FRA-FLG", daysAhead(10), daysAhead(12)}, false)
	fillCard(p, "#card", cardDeclined)
	p.submit("#book-submit", "#booking-status")
	p.reloadUntil("#payment-declined", settle)
	msg := strings.ToLower(p.text("#payment-declined"))
	assert.Contains(t, msg, "declined", "the message says the card was declined: %q", msg)
	p.mainPage("public-payment-declined")
	fillCard(p, "#retry-card-form", cardPays)
	p.submit("#retry-submit", "#booking-status")
	waitStatus(p, "confirmed")
	assert.False(t, p.has("#payment-declined"), "the decline is gone once the second card paid")
}

// journeyBadInput: a value the server refuses is shown next to its field, the field is
// marked invalid and everything typed is kept — in the search form and the guest's form.
// The browser's own checks (required, type=email) are turned off first: they stop a
// person before the server, and this is about the server's answer.
func journeyBadInput(t *testing.T, b *browser, s *system) {
	p := b.newPage(t, s, journeyTimeout)
	p.open("/")
	p.wait("#search-form")
	p.set("#location", "CGN-HBF")
	p.set("#pickup", localInput(daysAhead(9)))
	p.set("#return", localInput(daysAhead(7)))
	p.eval(`(() => { document.querySelector('#search-form').noValidate = true; return ''; })()`)
	p.click("#search-submit")
	p.wait("#return-error")
	assert.Equal(t, "true", p.eval(`document.querySelector('#return').getAttribute('aria-invalid') || ''`), "the field is marked invalid")
	assert.Equal(t, localInput(daysAhead(7)), p.value("#return"), "the typed return is kept")
	assert.Equal(t, localInput(daysAhead(9)), p.value("#pickup"), "the typed pickup is kept")
	p.otherPage("public-search-error")

	searchAndQuote(p, trip{"CGN-HBF", daysAhead(9), daysAhead(11)}, false)
	d := guestDetails("Bernd", "Fehler", "bernd.fehler@example.com")
	d["postalCode"] = "1O115" // a letter O for a zero
	fillGuest(p, d)
	fillCard(p, "#card", cardPays)
	p.eval(`(() => { for (const f of document.forms) f.noValidate = true; return ''; })()`)
	p.click("#book-submit")
	p.wait("#postalCode-error")
	assert.Equal(t, "true", p.eval(`document.querySelector('#postalCode').getAttribute('aria-invalid') || ''`))
	assert.Equal(t, "1O115", p.value("#postalCode"), "the bad value is kept to be corrected")
	for _, k := range []string{"firstName", "lastName", "email", "street", "city"} {
		assert.Equal(t, d[k], p.value("#"+k), "%s is kept", k)
	}
	p.mainPage("public-booking-error")
	// The refused form changed nothing: no customer was registered for the guest.
	var found struct{ Total int }
	status, raw := s.API(t, http.MethodGet, "/api/customers?email="+url.QueryEscape(d["email"]), s.Token(t, "carla"), nil, &found)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Zero(t, found.Total, "a refused booking form registers no customer")
}

// journeyVerifyEmail: an account registered over the API follows its welcome mail's link;
// the page reads the token from the URL's fragment, posts it and says the address is
// confirmed — the account may book from then on. (The link led to a 404 until the page
// existed, so no account could ever book.)
func journeyVerifyEmail(t *testing.T, b *browser, s *system) {
	email := "mia.verify@example.com"
	var c struct{ ID string }
	status, raw := s.API(t, http.MethodPost, "/api/customers", "", `{"firstName":"Mia","lastName":"Krause","email":"`+email+
		`","phone":"+49 30 1234567","dateOfBirth":"1990-05-01","address":{"street":"Markt 1","postalCode":"04109","city":"Leipzig"}}`, &c)
	require.Equal(t, http.StatusCreated, status, raw)
	link := s.mailTo(t, email, verifyLinkPattern, settle)
	p := b.newPage(t, s, journeyTimeout)
	p.goTo(link)
	p.wait("#verify-done")
	assert.NotContains(t, p.location(), "token", "the token leaves the address bar")
	p.otherPage("public-verify-email")
	var verified bool
	require.NoError(t, s.DB.Pool.QueryRow(context.Background(),
		`SELECT email_verified_at IS NOT NULL FROM customers.customers WHERE id = $1`, c.ID).Scan(&verified))
	assert.True(t, verified)
}
