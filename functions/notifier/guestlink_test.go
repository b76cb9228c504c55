package notifier_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
)

// fakeLinks plays reservations-api's guest-link route: the token for guest bookings, 404
// for others, status when set (a failure).
type fakeLinks struct {
	status atomic.Int64
	asked  atomic.Int64
}

func (f *fakeLinks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.asked.Add(1)
	if s := f.status.Load(); s != 0 {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(int(s))
		_ = json.NewEncoder(w).Encode(platform.Problem{Status: int(s), Title: http.StatusText(int(s))})
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/reservations/"), "/guest-link")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reservationsapi.GuestLink{ReservationID: id, Token: "v1.1893456000.c2lnbmVk", ExpiresAt: time.Unix(1893456000, 0)})
}

// TestAGuestsConfirmationCarriesTheManageLink (issue 13): a guest's confirmation mail carries
// the link to manage the booking, asked from reservations-api when the mail is made (the
// token is in no event), with the token in the URL's fragment; an account's confirmation
// asks nothing and has none; a failure to get the link retries the delivery, mailing nothing.
func TestAGuestsConfirmationCarriesTheManageLink(t *testing.T) {
	t.Parallel()
	w := newWorker(t, map[string]string{"MAIL_LINK_BASE": "https://www.orange.example/"})
	links := &fakeLinks{}
	tr := platform.NewTransport(nil, nil)
	tr.Mount(reservationsapi.Service, links)
	w.svc.SetGuestLinks(reservationsapi.NewClient(&http.Client{Transport: tr}))

	g := customer("en")
	g.Kind = "guest"
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, g)).status)
	res := reservation(g.CustomerID)
	res.Guest = true

	links.status.Store(http.StatusServiceUnavailable)
	r := w.deliver(event(t, events.ReservationConfirmed, res.ReservationID, res))
	assert.Equal(t, http.StatusInternalServerError, r.status, "retried: the mail waits for its link")
	assert.Empty(t, w.notifications())

	links.status.Store(0)
	r = w.deliver(event(t, events.ReservationConfirmed, res.ReservationID, res))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	mails := w.notifications()
	require.Len(t, mails, 1)
	assert.Contains(t, mails[0].Body, "https://www.orange.example/manage-booking?reservation="+res.ReservationID+"#token=v1.1893456000.c2lnbmVk")
	assert.Contains(t, mails[0].Body, "no account needed")
	// notifications-api shows the mail without the link's token: an agent reading it to help
	// the guest must not get the key to the booking (a resend sends the stored body whole).
	api := newAPIBeside(t, w, nil)
	shown := api.call("carla", http.MethodGet, "/api/notifications/"+mails[0].ID, "")
	require.Equal(t, http.StatusOK, shown.status, string(shown.body))
	assert.Contains(t, string(shown.body), "manage-booking?reservation="+res.ReservationID+"#token=[hidden]")
	assert.NotContains(t, string(shown.body), "c2lnbmVk")

	// An account's booking: no link asked, none in the mail.
	asked := links.asked.Load()
	c := customer("de")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	other := reservation(c.CustomerID)
	other.ReservationID = "3f2a1b9c-0000-4000-8000-000000000002"
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.ReservationConfirmed, other.ReservationID, other)).status)
	assert.Equal(t, asked, links.asked.Load())
	mails = confirmations(w)
	require.Len(t, mails, 2)
	assert.NotContains(t, mails[1].Body, "manage-booking")

	// reservations-api has no link for it (404): the confirmation goes without one.
	links.status.Store(http.StatusNotFound)
	third := reservation(g.CustomerID)
	third.ReservationID, third.Guest = "3f2a1b9c-0000-4000-8000-000000000003", true
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.ReservationConfirmed, third.ReservationID, third)).status)
	mails = confirmations(w)
	require.Len(t, mails, 3)
	assert.NotContains(t, mails[2].Body, "manage-booking")
}

// confirmations are the confirmation mails recorded, oldest first.
func confirmations(w *worker) []row {
	var out []row
	for _, m := range w.notifications() {
		if m.Type == events.ReservationConfirmed {
			out = append(out, m)
		}
	}
	return out
}

// TestAGuestsHeldBookingMailsTheLink: a guest's reservation.created mails the "booking held"
// message with the manage link (the way to name another card after a decline); an account's
// reservation.created mails nothing.
func TestAGuestsHeldBookingMailsTheLink(t *testing.T) {
	t.Parallel()
	w := newWorker(t, map[string]string{"MAIL_LINK_BASE": "https://www.orange.example"})
	links := &fakeLinks{}
	tr := platform.NewTransport(nil, nil)
	tr.Mount(reservationsapi.Service, links)
	w.svc.SetGuestLinks(reservationsapi.NewClient(&http.Client{Transport: tr}))

	c := customer("de")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	before := len(w.notifications())
	account := reservation(c.CustomerID)
	account.Status = "pending"
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.ReservationCreated, account.ReservationID, account)).status)
	assert.Len(t, w.notifications(), before, "an account's booking is mailed at its confirmation")
	assert.Zero(t, links.asked.Load())

	g := customer("de")
	g.Kind = "guest"
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, g)).status)
	held := reservation(g.CustomerID)
	held.ReservationID, held.Status, held.Guest = "3f2a1b9c-0000-4000-8000-000000000009", "pending", true
	r := w.deliver(event(t, events.ReservationCreated, held.ReservationID, held))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	mails := w.notifications()
	require.Len(t, mails, before+1)
	m := mails[len(mails)-1]
	assert.Equal(t, events.ReservationCreated, m.Type)
	assert.Equal(t, "Ihre Reservierung 3F2A1B9C ist vorgemerkt", m.Subject)
	assert.Contains(t, m.Body, "https://www.orange.example/manage-booking?reservation="+held.ReservationID+"#token=v1.1893456000.c2lnbmVk")
	assert.Contains(t, m.Body, "eine andere Karte")
}
