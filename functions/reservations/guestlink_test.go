package reservations_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
)

const linkKey = "test-link-key-0123456789abcdef0123456789"

// guestLinkAPI is the API with guest links on, notification-worker's token at hand, and a
// confirmed guest booking of vehicle1 three days ahead.
func guestLinkAPI(t *testing.T) (*api, reservations.Reservation, reservations.GuestLink) {
	a := newAPI(t)
	reservations.SetLinkKey(a.svc, linkKey)
	a.tokens["notifier"] = a.id.Bearer(t, "service:notification-worker")
	p, ret := period(3, 48)
	r := a.guestFrom("192.0.2.20", vehicle1, "gina@example.com", p, ret)
	require.Equal(t, http.StatusCreated, r.status, r.String())
	res := decode[reservations.Reservation](t, r)
	paid := payment(res.ID, "authorized")
	paid.CustomerID = res.CustomerID // the guest's
	require.Equal(t, http.StatusAccepted, a.event("auth-"+res.ID, events.PaymentAuthorized, paid).status)
	r = a.do("notifier", http.MethodGet, "/api/reservations/"+res.ID+"/guest-link", "")
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	return a, res, decode[reservations.GuestLink](t, r)
}

// TestGuestLink (issue 13): notification-worker gets the signed link of a guest booking
// (expiring 30 days after the return) and the guest, with no account, views the booking,
// sees the cancellation fee before cancelling, and cancels.
func TestGuestLink(t *testing.T) {
	t.Parallel()
	a, res, link := guestLinkAPI(t)
	assert.Equal(t, res.ID, link.ReservationID)
	assert.Equal(t, res.ReturnAt.Add(30*24*time.Hour).Unix(), link.ExpiresAt.Unix())
	tok := "?token=" + url.QueryEscape(link.Token)
	base := "/api/reservations/" + res.ID + "/guest"

	r := a.do("", http.MethodGet, base+tok, "")
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, res.ID, decode[reservations.Reservation](t, r).ID)

	// 48 h before the pickup, nothing; 30 h before, half of 142.76 € = 71.38 €.
	r = a.do("", http.MethodGet, base+"/cancellation-fee"+tok, "")
	require.Equal(t, http.StatusOK, r.status, r.String())
	fee := decode[reservations.CancellationPreview](t, r)
	assert.Equal(t, int64(0), fee.FeeCents)
	assert.Equal(t, quoteGross, fee.TotalGrossCents)
	a.setNow(res.PickupAt.Add(-30 * time.Hour))
	r = a.do("", http.MethodGet, base+"/cancellation-fee"+tok, "")
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, int64(7138), decode[reservations.CancellationPreview](t, r).FeeCents)

	r = a.do("", http.MethodPost, base+"/cancel"+tok, `{"reason":"flight cancelled"}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	got := decode[reservations.Reservation](t, r)
	assert.Equal(t, reservations.StatusCancelled, got.Status)
	assert.Equal(t, int64(7138), got.FeeCents)
	typ, _ := a.lastEvent(res.ID)
	assert.Equal(t, events.ReservationCancelled, typ)
	// The link never travels in an event.
	assert.NotContains(t, a.snapshot()+strings.Join(a.recorded(), ","), link.Token)
	var outbox string
	require.NoError(t, a.db.Pool.QueryRow(t.Context(), `SELECT coalesce(string_agg(data::text, ''), '') FROM reservations.outbox`).Scan(&outbox))
	assert.NotContains(t, outbox, link.Token)
}

// TestGuestLinkChangesAndPays: through the link the guest changes the booking and, after a
// decline, names another card.
func TestGuestLinkChangesAndPays(t *testing.T) {
	t.Parallel()
	a, res, link := guestLinkAPI(t)
	tok := "?token=" + url.QueryEscape(link.Token)
	base := "/api/reservations/" + res.ID + "/guest"
	r := a.do("", http.MethodPost, base+"/change"+tok, fmt.Sprintf(`{"returnAt":%q}`, res.ReturnAt.Add(24*time.Hour).Format(time.RFC3339)))
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, 2+1, decode[reservations.Reservation](t, r).Version, "confirmed (2), changed (3)")
	typ, _ := a.lastEvent(res.ID)
	assert.Equal(t, events.ReservationChanged, typ)

	// A pending guest booking whose card was declined: another card through the link.
	p, ret := period(4, 24)
	r = a.guestFrom("192.0.2.21", vehicle2, "gina@example.com", p, ret)
	require.Equal(t, http.StatusCreated, r.status, r.String())
	pending := decode[reservations.Reservation](t, r)
	a.decline(pending.ID)
	r = a.do("notifier", http.MethodGet, "/api/reservations/"+pending.ID+"/guest-link", "")
	require.Equal(t, http.StatusOK, r.status, r.String())
	link2 := decode[reservations.GuestLink](t, r)
	r = a.do("", http.MethodPost, "/api/reservations/"+pending.ID+"/guest/payment-method?token="+url.QueryEscape(link2.Token), fmt.Sprintf(`{"paymentMethodId":%q}`, secondCard))
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, 2, decode[reservations.Reservation](t, r).PaymentAttempt)
	typ, ev := a.lastEvent(pending.ID)
	assert.Equal(t, events.ReservationPaymentRequested, typ)
	assert.Equal(t, secondCard, ev.PaymentMethodID)
}

// TestGuestLinkBadInput: a missing, forged or another booking's link, or a bad
// query string, is a 4xx problem and changes nothing; only notification-worker gets links,
// and only of guest bookings.
func TestGuestLinkBadInput(t *testing.T) {
	t.Parallel()
	a, res, link := guestLinkAPI(t)
	other := a.book(vehicle2, res.PickupAt, res.ReturnAt) // alice's: not a guest booking
	forged := reservations.SignLink("another-key-0123456789abcdef0123456789", res.ID, time.Now().Add(time.Hour))
	otherLink := reservations.SignLink(linkKey, other.ID, time.Now().Add(time.Hour))
	q := func(token string) string { return "?token=" + url.QueryEscape(token) }
	guest := "/api/reservations/" + res.ID + "/guest"
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"no token", "GET", guest, "", 400},
		{"empty token", "GET", guest + "?token=", "", 400},
		{"token twice", "GET", guest + q(link.Token) + "&token=x", "", 400},
		{"';' separator", "GET", guest + q(link.Token) + ";x=1", "", 400},
		{"unknown parameter", "GET", guest + q(link.Token) + "&email=gina@example.com", "", 400},
		{"forged", "GET", guest + q(forged), "", 404},
		{"another booking's link", "GET", guest + q(otherLink), "", 404},
		{"garbage", "GET", guest + q("v1.x.y"), "", 404},
		{"not an id", "GET", "/api/reservations/nope/guest" + q(link.Token), "", 404},
		{"fee: forged", "GET", guest + "/cancellation-fee" + q(forged), "", 404},
		{"cancel: forged", "POST", guest + "/cancel" + q(forged), `{"reason":"x"}`, 404},
		{"cancel: no reason", "POST", guest + "/cancel" + q(link.Token), `{}`, 400},
		{"cancel: not json", "POST", guest + "/cancel" + q(link.Token), `{"reason":`, 400},
		{"cancel: no token", "POST", guest + "/cancel", `{"reason":"x"}`, 400},
		{"change: nothing", "POST", guest + "/change" + q(link.Token), `{}`, 400},
		{"change: unknown field", "POST", guest + "/change" + q(link.Token), `{"colour":"red"}`, 400},
		{"payment method: confirmed", "POST", guest + "/payment-method" + q(link.Token), `{"paymentMethodId":"` + secondCard + `"}`, 409},
		{"payment method: a card number", "POST", guest + "/payment-method" + q(link.Token), `{"paymentMethodId":"4242424242424242"}`, 400},
	}
	before := a.snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do("", tt.method, tt.path, tt.body)
			require.Equal(t, tt.want, r.status, r.String())
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			assert.NotContains(t, string(r.body), `"customerId"`, "nothing of the booking shows")
		})
	}
	assert.Equal(t, before, a.snapshot(), "nothing written")

	// The link itself: notification-worker's only, guest bookings only.
	for user, want := range map[string]int{"": 401, "alice": 403, "carla": 403, "ada": 200, "service:payments-api": 403} {
		r := a.do(user, http.MethodGet, "/api/reservations/"+res.ID+"/guest-link", "")
		assert.Equal(t, want, r.status, "%s: %s", user, r)
	}
	r := a.do("notifier", http.MethodGet, "/api/reservations/"+other.ID+"/guest-link", "")
	assert.Equal(t, http.StatusNotFound, r.status, "an account's booking has no link: %s", r)
	r = a.do("notifier", http.MethodGet, "/api/reservations/"+res.ID+"/guest-link?x=1", "")
	assert.Equal(t, http.StatusBadRequest, r.status, r.String())

	// Without a key no link is made, and none is taken.
	reservations.SetLinkKey(a.svc, "")
	assert.Equal(t, http.StatusNotFound, a.do("notifier", http.MethodGet, "/api/reservations/"+res.ID+"/guest-link", "").status)
	assert.Equal(t, http.StatusNotFound, a.do("", http.MethodGet, guest+q(link.Token), "").status)
	_ = platform.Public
}

// TestGuestLinkExpiry: a link works until 30 days after the booking's return — its current
// return: a change that moves the return later keeps the link working that much longer
// (a guest who moves the booking out does not lose the link before the rental); past it,
// the link is a 404 like any wrong one.
func TestGuestLinkExpiry(t *testing.T) {
	t.Parallel()
	a, res, link := guestLinkAPI(t)
	path := "/api/reservations/" + res.ID + "/guest?token=" + url.QueryEscape(link.Token)
	end := res.ReturnAt.Add(reservations.GuestLinkAfterReturn)
	assert.True(t, link.ExpiresAt.Equal(end.Truncate(time.Second)), "%s vs %s", link.ExpiresAt, end)

	a.setNow(end.Add(-time.Minute))
	assert.Equal(t, http.StatusOK, a.do("", http.MethodGet, path, "").status, "a minute before")
	a.setNow(end.Add(time.Second))
	assert.Equal(t, http.StatusNotFound, a.do("", http.MethodGet, path, "").status, "past the return + 30 days")

	// The booking moved 60 days later (as a change does): the same link works again, until
	// the new return + 30 days. In hours: '60 days' is calendar days in the server's zone,
	// 60 × 24 h only where no clock change lies between.
	_, err := a.db.Pool.Exec(t.Context(), `UPDATE reservations.reservations SET pickup_at = pickup_at + interval '1440 hours',
		return_at = return_at + interval '1440 hours' WHERE id = $1`, res.ID)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, a.do("", http.MethodGet, path, "").status, "follows the booking's return")
	a.setNow(end.Add(60*24*time.Hour + time.Second))
	assert.Equal(t, http.StatusNotFound, a.do("", http.MethodGet, path, "").status)
}
