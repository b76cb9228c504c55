package main_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform/proctest"
)

// flowNotification is one notification as notifications-api shows it.
type flowNotification struct {
	ID, Type, Status, ResendOf, RequestedBy, ReservationID string
}

// TestAgentResendsAMail is issue 14's acceptance in `orange dev`: after a booking's
// confirmation mail, an agent finds it in the history through the gateway, resends it, sees
// the resend in the history, and notification-worker — the other process type over the same
// schema — sends it: the mail folder gets the second copy, and the resend shows as sent.
func TestAgentResendsAMail(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t)
	dev := startFlowDev(t, bin, dbURL, t.TempDir())
	s := newFlowSystem(t, dev.Addr, openFlowDB(t, dbURL))

	c := s.take(t, "KOMPAKT")
	pickup := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Hour)
	res := s.book(t, s.alice, c, pickup, pickup.Add(48*time.Hour), "LIABILITY", nil, cardPays)
	s.waitStatus(t, s.alice, res.ID, "confirmed", flowSettle)
	s.waitMails(t, flowAliceEmail, res.ID, map[string]int{"confirmed": 1})

	history := func(token string) []flowNotification {
		t.Helper()
		var page struct{ Items []flowNotification }
		status, raw := s.api(t, http.MethodGet, "/api/notifications?reservationId="+res.ID, token, nil, &page)
		require.Equal(t, http.StatusOK, status, raw)
		return page.Items
	}
	items := history(s.carla)
	require.Len(t, items, 1, "the confirmation, recorded by the worker")
	confirmation := items[0]
	assert.Equal(t, events.ReservationConfirmed, confirmation.Type)
	assert.Equal(t, "sent", confirmation.Status)
	status, raw := s.api(t, http.MethodPost, "/api/notifications/"+confirmation.ID+"/resend", s.alice, nil, nil)
	assert.Equal(t, http.StatusForbidden, status, "a customer resends nothing: %s", raw)

	var resent flowNotification
	status, raw = s.api(t, http.MethodPost, "/api/notifications/"+confirmation.ID+"/resend", s.carla, nil, &resent)
	require.Equal(t, http.StatusAccepted, status, raw)
	assert.Equal(t, confirmation.ID, resent.ResendOf)
	assert.NotEmpty(t, resent.RequestedBy)

	// The worker sends it: a second confirmation in the mail folder, and the resend is sent.
	s.waitMails(t, flowAliceEmail, res.ID, map[string]int{"confirmed": 2})
	require.Eventually(t, func() bool {
		items = history(s.carla)
		return len(items) == 2 && items[0].ID == resent.ID && items[0].Status == "sent"
	}, flowSettle, 250*time.Millisecond, "the resend never showed as sent: %+v", items)
	assert.Equal(t, confirmation.ID, items[0].ResendOf)
	mine := history(s.alice)
	assert.Len(t, mine, 2, "alice sees both in her own history")
	assert.Empty(t, mine[0].RequestedBy, "but not who asked")
	assert.Empty(t, history(s.bob), "bob sees none of hers")
}
