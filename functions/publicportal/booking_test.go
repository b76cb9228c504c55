package publicportal_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

var bookingPath = regexp.MustCompile(`^/bookings/([0-9a-f-]{36})$`)

// decline records a declined card on booking id, as payment.failed does (no broker here).
func (s *system) decline(id string) {
	s.t.Helper()
	_, err := s.db.Pool.Exec(context.Background(),
		`UPDATE reservations.reservations SET payment_declined_reason = 'card_declined', version = version + 1 WHERE id = $1`, id)
	require.NoError(s.t, err)
}

// TestGuestBooksThenManagesWithTheLink: a guest without JavaScript books with a sandbox
// test card, sees the booking pending, then declined with the way to another card (the
// mailed link); opens the link (the token from the URL's fragment posted by the page), sees
// the fee before cancelling — nothing for a pending hold — and cancels.
func TestGuestBooksThenManagesWithTheLink(t *testing.T) {
	s := start(t)
	pickup, ret := trip()
	book := s.get("/book?vehicle=" + vwGolf + "&location=BER-HBF&pickup=" + url.QueryEscape(pickup) + "&return=" + url.QueryEscape(ret))
	require.Equal(t, http.StatusOK, book.status, book.body)
	form := guestForm(pickup, ret)
	form.Set("idem", hidden(t, book.body, "idem"))
	done := s.post(book, "/book", form)
	require.Equal(t, http.StatusOK, done.status, done.body)
	m := bookingPath.FindStringSubmatch(done.url)
	require.NotNil(t, m, "landed on %s", done.url)
	id := m[1]
	assert.Contains(t, done.body, `data-status="pending"`)
	assert.Contains(t, done.body, `id="refresh-status"`)
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM reservations.reservations WHERE id = $1 AND guest`, id))
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM payments.payment_methods`), "the sandbox token became one payment method")

	// The form sent again (a reload after a lost answer): its sandbox card is tokenized anew,
	// so reservations-api answers "this key was used with another request" — which the page
	// showed raw, in English. A guest is told the booking went through.
	form.Del("csrf")
	again := s.post(book, "/book", form)
	assert.Equal(t, http.StatusConflict, again.status, again.body)
	assert.Contains(t, again.body, "This booking was already sent.")
	assert.NotContains(t, again.body, "Idempotency-Key")
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM reservations.reservations`), "booked once")

	// Another browser (no cookie of this booking) learns nothing.
	other := s.otherBrowser()
	assert.Equal(t, http.StatusNotFound, other.get("/bookings/"+id).status)

	s.decline(id)
	declined := s.get("/bookings/" + id)
	require.Equal(t, http.StatusOK, declined.status)
	assert.Contains(t, declined.body, `id="payment-declined"`)
	assert.Contains(t, declined.body, "Your card was declined (by your bank)", "the provider's code in words, not card_declined")
	assert.Contains(t, declined.body, "<dd>Liability only (included)</dd>", "the insurance by name, not LIABILITY")
	assert.NotContains(t, declined.body, `id="retry-card-form"`, "a guest names another card through the mailed link")

	// The mailed link: /manage-booking?reservation=<id>#token=<token>; the page asks for the
	// token, which portal.js posts from the fragment.
	var link reservationsapi.GuestLink
	admin := &http.Client{Transport: bearerTransport{s.m.Transport, s.id.Bearer(t, "ada")}}
	require.NoError(t, platform.CallJSON(context.Background(), admin, http.MethodGet, reservationsapi.Service,
		reservationsapi.Prefix+"/"+id+"/guest-link", nil, &link))
	manage := s.get("/manage-booking?reservation=" + id)
	require.Equal(t, http.StatusOK, manage.status)
	assert.Contains(t, manage.body, `id="guest-token-form"`)
	assert.Equal(t, "no-referrer", manage.header.Get("Referrer-Policy"))
	bad := s.post(manage, "/manage-booking", url.Values{"reservation": {id}, "token": {"v1.forged.token"}})
	assert.Equal(t, http.StatusNotFound, bad.status, "a forged token opens nothing")
	opened := s.post(manage, "/manage-booking", url.Values{"reservation": {id}, "token": {link.Token}})
	require.Equal(t, http.StatusOK, opened.status, opened.body)
	assert.Equal(t, "/manage-booking?reservation="+id, opened.url, "the token never shows in a URL")
	assert.Contains(t, opened.body, `id="retry-card-form"`, "with the link the guest names another card")
	assert.Contains(t, opened.body, `id="cancel-link"`)

	// Another card (the test card that pays): the booking is pending again with attempt 2.
	retried := s.post(opened, "/manage-booking/payment-method", url.Values{"reservation": {id}, "sandboxCard": {"tok_success"}})
	require.Equal(t, http.StatusOK, retried.status, retried.body)
	assert.NotContains(t, retried.body, `id="payment-declined"`)
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM reservations.reservations WHERE id = $1 AND payment_attempt = 2`, id))

	// A link with the token in its query (not the mailed form) works too, and the token
	// leaves the address bar at once.
	fresh := s.otherBrowser()
	viaQuery := fresh.get("/manage-booking?reservation=" + id + "&token=" + url.QueryEscape(link.Token))
	require.Equal(t, http.StatusOK, viaQuery.status, viaQuery.body)
	assert.Equal(t, "/manage-booking?reservation="+id, viaQuery.url)
	assert.Contains(t, viaQuery.body, `id="booking-status"`)

	// The change form as a browser sends it: a GET form's fields replace its action's
	// query, so the booking's id must be one of them (the preview was a 404).
	change := s.get("/manage-booking/change?reservation=" + id)
	require.Equal(t, http.StatusOK, change.status, change.body)
	assert.Contains(t, change.body, `<input type="hidden" name="reservation" value="`+id+`">`)

	cancel := s.get("/manage-booking/cancel?reservation=" + id)
	require.Equal(t, http.StatusOK, cancel.status, cancel.body)
	assert.Contains(t, cancel.body, `id="cancel-fee"`)
	assert.Contains(t, cancel.body, "Cancelling now is free.")
	cancelled := s.post(cancel, "/manage-booking/cancel", url.Values{"reservation": {id}})
	require.Equal(t, http.StatusOK, cancelled.status, cancelled.body)
	assert.Contains(t, cancelled.body, `data-status="cancelled"`)
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM reservations.reservations WHERE id = $1 AND status = 'cancelled'`, id))
}

// TestCustomerBooksChangesAndCancels: alice signs in at the issuer's page, books (sandbox
// card), finds the booking in "my bookings", sees a declined card and names another, moves
// the return a day later (the new price shown first, then on the booking), and sees the
// fee before cancelling.
func TestCustomerBooksChangesAndCancels(t *testing.T) {
	s := start(t)
	s.signIn("alice")
	pickup, ret := trip()
	book := s.get("/book?vehicle=" + vwID3 + "&location=BER-HBF&pickup=" + url.QueryEscape(pickup) + "&return=" + url.QueryEscape(ret))
	require.Equal(t, http.StatusOK, book.status, book.body)
	assert.NotContains(t, book.body, `name="firstName"`, "a signed-in customer is not asked who they are")
	booking := url.Values{"vehicle": {vwID3}, "location": {"BER-HBF"}, "pickup": {pickup}, "return": {ret}, "sandboxCard": {"tok_success"},
		"idem": {hidden(t, book.body, "idem")}}
	done := s.post(book, "/book", booking)
	require.Equal(t, http.StatusOK, done.status, done.body)
	m := bookingPath.FindStringSubmatch(done.url)
	require.NotNil(t, m, "landed on %s", done.url)
	id := m[1]
	// Sent again: the booking the first submit made, not an error.
	booking.Del("csrf")
	again := s.post(book, "/book", booking)
	require.Equal(t, http.StatusOK, again.status, again.body)
	assert.Equal(t, done.url, again.url, "the same booking")

	list := s.get("/my-bookings")
	require.Equal(t, http.StatusOK, list.status)
	assert.Contains(t, list.body, `id="booking-`+id+`"`)

	s.decline(id)
	declined := s.get("/bookings/" + id)
	assert.Contains(t, declined.body, `id="retry-card-form"`)
	noCard := s.post(declined, "/bookings/"+id+"/payment-method", url.Values{})
	assert.Equal(t, http.StatusBadRequest, noCard.status)
	assert.Contains(t, noCard.body, `id="card-error"`)
	// The hold runs out while the page is open: the card named then is refused, and the page
	// says why (the refusal had no form to stand above).
	_, err := s.db.Pool.Exec(context.Background(), `UPDATE reservations.reservations SET status = 'expired', hold_expires_at = NULL, cancelled_at = now() WHERE id = $1`, id)
	require.NoError(t, err)
	late := s.post(declined, "/bookings/"+id+"/payment-method", url.Values{"sandboxCard": {"tok_success"}})
	assert.Equal(t, http.StatusBadRequest, late.status, late.body)
	assert.Contains(t, late.body, `<div class="form-errors" role="alert"><p>an expired reservation takes no other payment method`)
	_, err = s.db.Pool.Exec(context.Background(), `UPDATE reservations.reservations SET status = 'pending', hold_expires_at = now() + interval '10 minutes', cancelled_at = NULL WHERE id = $1`, id)
	require.NoError(t, err)
	retried := s.post(declined, "/bookings/"+id+"/payment-method", url.Values{"sandboxCard": {"tok_success"}})
	require.Equal(t, http.StatusOK, retried.status, retried.body)
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM reservations.reservations WHERE id = $1 AND payment_attempt = 2`, id))

	// Confirm it as payment.authorized would, so the change and the fee are a confirmed booking's.
	_, err = s.db.Pool.Exec(context.Background(), `UPDATE reservations.reservations SET status = 'confirmed', hold_expires_at = NULL, version = version + 1 WHERE id = $1`, id)
	require.NoError(t, err)
	detail := s.get("/my-bookings/" + id)
	require.Equal(t, http.StatusOK, detail.status, detail.body)
	assert.Contains(t, detail.body, `data-status="confirmed"`)
	assert.Contains(t, detail.body, `id="no-invoices"`)
	before := totalOf(t, detail.body)

	berlin, _ := time.LoadLocation("Europe/Berlin")
	r, _ := time.ParseInLocation("2006-01-02T15:04", ret, berlin)
	later := r.AddDate(0, 0, 1).Format("2006-01-02T15:04")
	preview := s.get("/my-bookings/" + id + "/change?pickup=" + url.QueryEscape(pickup) + "&return=" + url.QueryEscape(later))
	require.Equal(t, http.StatusOK, preview.status, preview.body)
	assert.Contains(t, preview.body, `id="change-new-total"`)
	changed := s.post(preview, "/my-bookings/"+id+"/change", url.Values{"pickup": {pickup}, "return": {later}})
	require.Equal(t, http.StatusOK, changed.status, changed.body)
	assert.Contains(t, changed.body, `id="flash"`)
	after := totalOf(t, changed.body)
	assert.NotEqual(t, before, after, "a day more costs more")
	assert.Contains(t, preview.body, after, "the price shown before confirming is the booking's new price")

	badChange := s.post(preview, "/my-bookings/"+id+"/change", url.Values{"pickup": {pickup}, "return": {"2001-01-01T10:00"}})
	assert.Equal(t, http.StatusBadRequest, badChange.status)
	assert.Contains(t, badChange.body, `id="return-error"`)
	assert.Contains(t, badChange.body, `value="2001-01-01T10:00"`)

	// An invoice of the booking (as payments writes one at the return) is listed and
	// downloads as payments-api's PDF; another customer's download is refused.
	const payment, invoice = "9a9e0000-0000-4000-8000-0000000000aa", "1a9e0000-0000-4000-8000-0000000000aa"
	_, err = s.db.Pool.Exec(context.Background(), `INSERT INTO payments.payments (id, reservation_id, customer_id, status, authorized_cents, provider, provider_authorization)
		VALUES ($1, $2, $3, 'authorized', 14276, 'sandbox', 'sbx_auth_portal')`, payment, id, devissuer.CustomerAlice)
	require.NoError(t, err)
	_, err = s.db.Pool.Exec(context.Background(), `INSERT INTO payments.invoices (id, number, year, seq, reservation_id, payment_id, customer_id, net_cents, vat_cents, gross_cents)
		VALUES ($1, 'OCR-2000-000001', 2000, 1, $2, $3, $4, 11997, 2279, 14276)`, invoice, id, payment, devissuer.CustomerAlice)
	require.NoError(t, err)
	withInvoice := s.get("/my-bookings/" + id)
	assert.Contains(t, withInvoice.body, `class="invoice-pdf" href="/my-bookings/`+id+`/invoices/`+invoice+`"`)
	pdf := s.get("/my-bookings/" + id + "/invoices/" + invoice)
	require.Equal(t, http.StatusOK, pdf.status, pdf.body)
	assert.Equal(t, "application/pdf", pdf.header.Get("Content-Type"))
	assert.True(t, strings.HasPrefix(pdf.body, "%PDF"), "a PDF")
	// The invoice under another booking's URL (one of alice's own, one that does not exist)
	// is not found: the URL's booking is checked, not only the owner.
	assert.Equal(t, http.StatusNotFound, s.get("/my-bookings/00000000-0000-4000-8000-000000000000/invoices/"+invoice).status)

	// Ten days ahead cancelling is free — but for a change fee the booking carries (its
	// change was a partial cancellation): the page shows what reservations-api charges, not
	// a share of the total by its own reckoning, and the fee charged afterwards.
	_, err = s.db.Pool.Exec(context.Background(), `UPDATE reservations.reservations SET change_fee_gross_cents = 2000 WHERE id = $1`, id)
	require.NoError(t, err)
	cancel := s.get("/my-bookings/" + id + "/cancel")
	require.Equal(t, http.StatusOK, cancel.status, cancel.body)
	assert.Contains(t, cancel.body, "Cancelling now costs €20.00.")
	cancelled := s.post(cancel, "/my-bookings/"+id+"/cancel", url.Values{})
	require.Equal(t, http.StatusOK, cancelled.status, cancelled.body)
	assert.Contains(t, cancelled.body, `data-status="cancelled"`)
	assert.Contains(t, cancelled.body, `id="booking-fee">€20.00<`)

	// Bob sees nothing of alice's booking.
	bob := s.otherBrowser()
	bob.signIn("bob")
	assert.Equal(t, http.StatusNotFound, bob.get("/my-bookings/"+id).status)
	assert.Equal(t, http.StatusNotFound, bob.get("/my-bookings/"+id+"/invoices/"+invoice).status)
	assert.Equal(t, http.StatusNotFound, bob.get("/bookings/"+id).status)
	assert.Equal(t, http.StatusNotFound, bob.get("/my-bookings/"+id+"/change").status)
	bobs := bob.get("/my-bookings")
	require.Equal(t, http.StatusOK, bobs.status, bobs.body)
	assert.NotContains(t, bobs.body, id)
	refused := bob.post(bobs, "/bookings/"+id+"/payment-method", url.Values{"sandboxCard": {"tok_success"}})
	assert.Contains(t, []int{http.StatusNotFound, http.StatusBadRequest}, refused.status)
	assert.NotContains(t, refused.body, `id="booking-total"`, "nothing of alice's booking shows")
}

var totalPattern = regexp.MustCompile(`id="booking-total">([^<]+)<`)

func totalOf(t *testing.T, body string) string {
	t.Helper()
	m := totalPattern.FindStringSubmatch(body)
	require.NotNil(t, m, "no total on the page")
	return strings.TrimSpace(m[1])
}

// bearerTransport calls as one identity.
type bearerTransport struct {
	next   http.RoundTripper
	bearer string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", b.bearer)
	return b.next.RoundTrip(r)
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hidden is the value of the hidden field name of page body.
func hidden(t *testing.T, body, name string) string {
	t.Helper()
	for _, m := range hiddenField.FindAllStringSubmatch(body, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	t.Fatalf("no hidden field %s", name)
	return ""
}
