package browser_test

import (
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
)

// journeyWithoutJavaScript: every flow works without JavaScript (issue 16, progressive
// enhancement). bob signs in, searches, re-prices the quote with the button, and books with
// the sandbox's test card offered instead of the card fields (which need the script to
// reach payments-api, docs/public-portal.md); the booking is confirmed.
func journeyWithoutJavaScript(t *testing.T, b *browser, s *system) {
	p := b.newPage(t, s, journeyTimeout)
	if _, err := chromedp.Call(p.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		p.fail("turn JavaScript off", err)
	}
	p.open("/my-bookings")
	signIn(p, "bob", signedIn, false)
	searchAndQuote(p, trip{"BER-HBF", daysAhead(25), daysAhead(27)}, false)
	assert.True(t, p.evalBool(`document.querySelector('#card .card-fields').hidden`), "the card fields stay hidden without the script")
	p.set("#sandboxCard", "tok_success")
	p.submit("#book-submit", "#booking-status")
	waitStatus(p, "confirmed")
}
