package browser_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// journeyTimeout bounds each journey: its browser actions end with its context.
const journeyTimeout = 150 * time.Second

// counterBranch is where the agent's journey hands a car over; counterDay is how much of
// today it needs left there (a pickup a few minutes ahead, then handover and return).
const (
	counterBranch = "HAM-HBF"
	counterDay    = 2 * time.Hour
)

// TestPortals is issue 16's acceptance in a real browser: one system as `orange dev` runs
// it, one Chromium, every journey in its own browser context, in parallel.
func TestPortals(t *testing.T) {
	b := startBrowser(t)
	s := startSystem(t)
	s.openBranches(t, counterBranch, counterDay)
	t.Cleanup(func() { photographs.writeIndex(t) }) // after every journey
	journeys := []struct {
		name string
		run  func(*testing.T, *browser, *system)
	}{
		{"guest books, pays, cancels through the mailed link", journeyGuestBooksAndCancels},
		{"customer signs in, books, changes the dates", journeyCustomerChangesDates},
		{"declined card, then another card", journeyDeclinedCard},
		{"bad input is shown in place and kept", journeyBadInput},
		{"agent hands over, takes back, sees the invoice", journeyCounter},
		{"sessions stay in their portal", journeySessionsStayInTheirPortal},
		{"the search works with the keyboard alone", journeyKeyboard},
		{"booking works without JavaScript", journeyWithoutJavaScript},
		{"an account follows the welcome mail's link", journeyVerifyEmail},
	}
	for _, j := range journeys {
		t.Run(j.name, func(t *testing.T) {
			t.Parallel()
			j.run(t, b, s)
		})
	}
}

// signedIn is what every portal page shows a signed-in user: the sign-out form.
const signedIn = "form[action$='auth/logout']"

// issuerLogin is the path of the development issuer's login page (Keycloak's shape).
const issuerLogin = "/realms/orange-car-rental/protocol/openid-connect/auth"

// signIn completes the issuer's login page the browser was sent to as user (each demo
// user's password is its name), then waits for the portal to show next.
func signIn(p *page, user, next string, shoot bool) {
	p.t.Helper()
	p.wait("#username")
	if !strings.Contains(p.location(), issuerLogin) {
		p.t.Fatalf("%s: expected the issuer's login page, at %s", p.name, p.location())
	}
	if shoot {
		p.mainPage("login")
	}
	p.typeInto("#username", user)
	p.typeInto("#password", user)
	p.click("form button[type=submit]")
	p.eventually("come back from the issuer", `!location.pathname.includes('/protocol/openid-connect/')`, stepTimeout)
	p.wait(next)
}

// signInMistyped first types a wrong password: the login page says so, keeps the username
// and marks the fields; then signs in properly.
func signInMistyped(p *page, user, next string) {
	p.t.Helper()
	p.wait("#username")
	p.typeInto("#username", user)
	p.typeInto("#password", user+"-wrong")
	p.submit("form button[type=submit]", "#login-error")
	assert.Equal(p.t, user, p.value("#username"), "the login page keeps the username")
	assert.Equal(p.t, "true", p.eval(`document.querySelector('#password').getAttribute('aria-invalid') || ''`))
	p.otherPage("login-error")
	signIn(p, user, next, false)
}

// journeyCustomerChangesDates: alice signs in from "my bookings", books a car, changes the
// dates of the booking to a longer rental, sees the new price before confirming, and the
// booking shows it after.
func journeyCustomerChangesDates(t *testing.T, b *browser, s *system) {
	p := b.newPage(t, s, journeyTimeout)
	p.open("/my-bookings")
	signInMistyped(p, "alice", signedIn)
	p.mainPage("public-my-bookings")

	searchAndQuote(p, trip{"MUC-FLG", daysAhead(14), daysAhead(16)}, false)
	assert.False(t, p.has("#firstName"), "a signed-in customer is not asked for a guest's details")
	fillCard(p, "#card", cardPays)
	p.submit("#book-submit", "#booking-status")
	waitStatus(p, "confirmed")
	id := bookingID(p)

	p.open("/my-bookings")
	p.submit("#booking-"+id, "#booking-total")
	p.mainPage("public-booking-details")
	before := p.text("#booking-total")
	p.submit("#change-link", "#change-form")
	p.set("#change-form #pickup", localInput(daysAhead(14)))
	p.set("#change-form #return", localInput(daysAhead(13)))
	p.submit("#change-preview", "#return-error")
	assert.Equal(t, localInput(daysAhead(13)), p.value("#change-form #return"), "the refused return is kept")
	assert.False(t, p.has("#change-confirm"), "no confirmation for a refused change")
	p.set("#change-form #return", localInput(daysAhead(18)))
	p.submit("#change-preview", "#change-new-total")
	after := p.text("#change-new-total")
	assert.NotEqual(t, before, after, "four days cost more than two")
	p.mainPage("public-change")
	p.submit("#change-confirm", "#booking-total")
	p.eventually("the booking shows the new price", `document.querySelector('#booking-total') && document.querySelector('#booking-total').innerText.includes(`+jsString(priceDigits(after))+`)`, 5*time.Second)
}

// priceDigits is the amount of a shown price without its currency sign and spaces.
func priceDigits(s string) string {
	return strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "€ \u00a0"))
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// journeySessionsStayInTheirPortal: an agent signed in to the call center is not signed in
// to the public portal — it sends them to the issuer — and when they sign in there, the
// public portal refuses their account; the same, the other way round, for a customer at the
// call center.
func journeySessionsStayInTheirPortal(t *testing.T, b *browser, s *system) {
	for _, tc := range []struct {
		user, home, homeMark, other string
	}{
		{"carla", "/call-center/", "#home-search", "/my-bookings"},
		{"alice", "/my-bookings", signedIn, "/call-center/"},
	} {
		p := b.newPage(t, s, journeyTimeout)
		p.open(tc.home)
		signIn(p, tc.user, tc.homeMark, false)
		p.open(tc.other)
		if !strings.Contains(p.location(), issuerLogin) {
			p.fail(tc.user+" opens "+tc.other, fmt.Errorf("not sent to sign in: the session of %s reached the other portal", tc.home))
		}
		signIn(p, tc.user, "main", false)
		assert.False(t, p.has(signedIn), "%s is signed in to %s", tc.user, tc.other)
		assert.False(t, p.has("#bookings, #home-search"), "%s sees %s's pages", tc.user, tc.other)
		assert.Contains(t, p.bodyText(), "cannot sign in", "%s is told why", tc.user)
	}
}
