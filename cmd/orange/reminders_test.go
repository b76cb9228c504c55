package main_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/proctest"
)

// TestPickupReminderByMailAndSMS is issue 14's SMS channel in `orange dev`: alice adds a
// mobile number to her profile and chooses email and SMS; a booking confirmed 5 hours
// before its pickup is reminded at once (docs/notifications-worker.md) — one mail in
// /dev/mail and one SMS to her number in /dev/sms, both naming the booking.
func TestPickupReminderByMailAndSMS(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t)
	dev := startFlowDev(t, bin, dbURL, t.TempDir(), "REMINDER_SWEEP_INTERVAL=500ms")
	s := newFlowSystem(t, dev.Addr, openFlowDB(t, dbURL))

	var profile map[string]any
	status, raw := s.api(t, http.MethodGet, "/api/customers/"+devissuer.CustomerAlice, s.alice, nil, &profile)
	require.Equal(t, http.StatusOK, status, raw)
	update := map[string]any{}
	for _, k := range []string{"type", "firstName", "lastName", "email", "dateOfBirth", "address", "preferredLanguage"} {
		update[k] = profile[k]
	}
	update["phone"] = "+49 170 5550101"
	status, raw = s.api(t, http.MethodPut, "/api/customers/"+devissuer.CustomerAlice, s.alice, update, nil)
	require.Equal(t, http.StatusOK, status, raw)
	// The number reaches the notifier with customer.updated: SMS can be chosen once it has.
	require.Eventually(t, func() bool {
		status, _ := s.api(t, http.MethodPut, "/api/notifications/preferences", s.alice, map[string]bool{"email": true, "sms": true}, nil)
		return status == http.StatusOK
	}, flowSettle, 250*time.Millisecond, "alice could not choose SMS")

	c := s.take(t, "")
	pickup := time.Now().UTC().Add(5 * time.Hour).Truncate(time.Second)
	res := s.book(t, s.alice, c, pickup, pickup.Add(48*time.Hour), "LIABILITY", nil, cardPays)
	s.waitStatus(t, s.alice, res.ID, "confirmed", flowSettle)
	s.waitMails(t, flowAliceEmail, res.ID, map[string]int{"confirmed": 1, "reminder": 1})

	var box struct {
		Items []struct{ ID, To, Text string }
	}
	require.Eventually(t, func() bool {
		status, raw := s.api(t, http.MethodGet, "/dev/sms", "", nil, &box)
		require.Equal(t, http.StatusOK, status, raw)
		return len(box.Items) > 0
	}, flowSettle, 250*time.Millisecond, "no SMS in /dev/sms")
	require.Len(t, box.Items, 1)
	assert.Equal(t, "+491705550101", box.Items[0].To)
	assert.Contains(t, box.Items[0].Text, strings.ToUpper(res.ID[:8]), "the booking's reference")
	assert.Contains(t, box.Items[0].Text, "Orange Car Rental: reminder of your pick-up")
}
