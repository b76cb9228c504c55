package notifier_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
)

// TestAGuestGetsItsBookingsMailNotAWelcome is issue 11's "a guest booking sends a booking
// mail, not an account welcome": customers-api registers a guest booking's guest as a guest,
// and the worker sends it no welcome — the guest's first mail is its booking's confirmation.
func TestAGuestGetsItsBookingsMailNotAWelcome(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	g := customer("en")
	g.Kind = "guest"
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, g)).status)
	assert.Empty(t, w.notifications(), "no welcome for a guest")

	r := w.deliver(event(t, events.ReservationConfirmed, reservation(g.CustomerID).ReservationID, reservation(g.CustomerID)))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	mails := w.notifications()
	require.Len(t, mails, 1)
	assert.Equal(t, events.ReservationConfirmed, mails[0].Type)
	assert.Equal(t, g.Email, mails[0].Recipient)
	assert.Equal(t, "Your reservation 3F2A1B9C is confirmed", mails[0].Subject)
}

// TestAnAccountsWelcomeCarriesItsVerificationLink: an account's welcome carries the link
// that verifies its address (MAIL_LINK_BASE, the token in the fragment); a new address gets
// a mail with its own link; an event from before verification welcomes without one.
func TestAnAccountsWelcomeCarriesItsVerificationLink(t *testing.T) {
	t.Parallel()
	w := newWorker(t, map[string]string{"MAIL_LINK_BASE": "https://www.orange.example/"})
	const token = "K7QW2ZJX5M3HN4PRT6VYBC2DFG"
	c := customer("de")
	c.Kind, c.VerificationToken = "account", token
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	mails := w.notifications()
	require.Len(t, mails, 1)
	assert.Equal(t, "Willkommen bei Orange Car Rental", mails[0].Subject)
	assert.Contains(t, mails[0].Body, "Guten Tag Erika Mustermann,")
	assert.Contains(t, mails[0].Body, "\nhttps://www.orange.example/verify-email#token="+token+"\n")
	assert.Contains(t, mails[0].Body, "bevor Sie reservieren")

	// A profile change without a new address sends nothing; a new address its link.
	updated := c
	updated.Version, updated.VerificationToken = 2, ""
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerUpdated, c.CustomerID, updated)).status)
	require.Len(t, w.notifications(), 1)
	updated.Version, updated.Email, updated.VerificationToken = 3, "erika@neu.example", "M3HN4PRT6VYBC2DFGK7QW2ZJX5"
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerUpdated, c.CustomerID, updated)).status)
	mails = w.notifications()
	require.Len(t, mails, 2)
	assert.Equal(t, "Bitte bestätigen Sie Ihre neue E-Mail-Adresse", mails[1].Subject)
	assert.Equal(t, "erika@neu.example", mails[1].Recipient)
	assert.Contains(t, mails[1].Body, "https://www.orange.example/verify-email#token=M3HN4PRT6VYBC2DFGK7QW2ZJX5")

	// A new link for the same address (asked for: POST …/verification) does not say the
	// address changed.
	updated.Version, updated.VerificationToken = 4, "P4RT6VYBC2DFGK7QW2ZJX5M3HN"
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerUpdated, c.CustomerID, updated)).status)
	mails = w.notifications()
	require.Len(t, mails, 3)
	again := mails[len(mails)-1]
	assert.Equal(t, "Bitte bestätigen Sie Ihre E-Mail-Adresse", again.Subject)
	assert.Contains(t, again.Body, "neuer Link")
	assert.NotContains(t, again.Body, "neue E-Mail-Adresse")
	assert.Contains(t, again.Body, "https://www.orange.example/verify-email#token=P4RT6VYBC2DFGK7QW2ZJX5M3HN")

	// Recorded before kinds and verification existed: the welcome as it was.
	old := customer("en")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, old)).status)
	mails = w.notifications()
	require.Len(t, mails, 4)
	assert.Equal(t, "Welcome to Orange Car Rental", mails[3].Subject)
	assert.NotContains(t, mails[3].Body, "verify-email")
	assert.Contains(t, mails[3].Body, "You can now reserve vehicles")
}

// TestCustomerEventsThatWouldPutTextIntoMail: a token is a token and a kind a kind; anything
// else is refused for good (400, dead letter) and no mail is recorded.
func TestCustomerEventsThatWouldPutTextIntoMail(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	for name, edit := range map[string]func(*events.Customer){
		"a link as the token": func(c *events.Customer) { c.VerificationToken = "x https://evil.example/login" },
		"a line break":        func(c *events.Customer) { c.VerificationToken = "K7QW2ZJX5M3HN4PR\nBcc: victim" },
		"an unknown kind":     func(c *events.Customer) { c.Kind = "vip" },
	} {
		c := customer("en")
		c.Kind, c.VerificationToken = "account", "K7QW2ZJX5M3HN4PRT6VYBC2DFG"
		edit(&c)
		r := w.deliver(registered(t, c))
		assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", name, r.body)
	}
	assert.Empty(t, w.notifications())
}

// TestALateWelcomeSendsNothing: a customer.registered arriving after the address changed
// (brokers keep no order) sent the welcome, with the old address's dead link, to the new
// address; an event no newer than what the worker holds sends nothing.
func TestALateWelcomeSendsNothing(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("de")
	c.Kind, c.VerificationToken = "account", "K7QW2ZJX5M3HN4PRT6VYBC2DFG"
	updated := c
	updated.Version, updated.Email, updated.VerificationToken = 3, "erika@neu.example", "M3HN4PRT6VYBC2DFGK7QW2ZJX5"
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerUpdated, c.CustomerID, updated)).status)
	require.Len(t, w.notifications(), 1, "the new address's link")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	mails := w.notifications()
	require.Len(t, mails, 1, "no welcome after the change")
	assert.NotContains(t, mails[0].Body, "K7QW2ZJX5M3HN4PRT6VYBC2DFG")
}

// TestAnAddressChangeOvertakenByALaterEdit: the address change (v2, with its link) arrives
// after a later profile edit (v3, the new address already): its link still verifies the
// address held, and its mail says so as for a new address — not "here is a new link", and
// not nothing.
func TestAnAddressChangeOvertakenByALaterEdit(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("en")
	c.Kind, c.VerificationToken = "account", "K7QW2ZJX5M3HN4PRT6VYBC2DFG"
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	edited := c
	edited.Version, edited.Email, edited.VerificationToken, edited.LastName = 3, "erika@neu.example", "", "Muster"
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerUpdated, c.CustomerID, edited)).status)
	moved := c
	moved.Version, moved.Email, moved.VerificationToken = 2, "erika@neu.example", "M3HN4PRT6VYBC2DFGK7QW2ZJX5"
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerUpdated, c.CustomerID, moved)).status)
	mails := w.notifications()
	require.Len(t, mails, 2)
	assert.Equal(t, "Please confirm your new email address", mails[1].Subject)
	assert.Equal(t, "erika@neu.example", mails[1].Recipient)
}
