package notifier_test

import (
	"bytes"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/notifier"
)

func frozen() events.ReportSummary {
	return events.ReportSummary{Month: "2026-11", Version: 1, FrozenAt: "2026-12-01T01:00:00Z", AvailableCarDays: 75,
		RentedCarDays: 7, Utilisation: 0.0933, RevenueNetCents: 60925, RevenueVatCents: 11575, RevenueGrossCents: 72500,
		ADRCents: 8333, RevPACCents: 667, Bookings: 5, Cancellations: 1, NoShows: 1, Currency: "EUR"}
}

// TestReportFrozenMailsTheAdmins: report.frozen queues one mail per REPORT_MAIL_TO address,
// once under redelivery, with the month's figures; none configured, none sent (logged).
func TestReportFrozenMailsTheAdmins(t *testing.T) {
	t.Parallel()
	w := newWorker(t, map[string]string{"REPORT_MAIL_TO": "ada@orangecarrental.com, controlling@orangecarrental.com"})
	e := event(t, events.ReportFrozen, "2026-11", frozen())
	assert.Equal(t, http.StatusAccepted, w.deliver(e).status)
	assert.Equal(t, http.StatusOK, w.deliver(e).status)
	rows := w.notifications()
	require.Len(t, rows, 2)
	assert.ElementsMatch(t, []string{"ada@orangecarrental.com", "controlling@orangecarrental.com"}, []string{rows[0].Recipient, rows[1].Recipient})

	w.start()
	waitFor(t, 5*time.Second, "two mails", func() bool { return len(w.files()) == 2 })
	msg, err := mail.ReadMessage(strings.NewReader(w.readFile(w.files()[0])))
	require.NoError(t, err)
	assert.Contains(t, msg.Header.Get("Subject"), "2026-11")
	var body bytes.Buffer
	_, err = body.ReadFrom(msg.Body)
	require.NoError(t, err)
	assert.Contains(t, body.String(), "9.3 % (7 of 75 available car-days rented)")
	assert.Contains(t, body.String(), "/api/reports/monthly/2026-11")

	var logs bytes.Buffer
	quiet := newWorkerLogging(t, nil, &logs)
	assert.Equal(t, http.StatusAccepted, quiet.deliver(event(t, events.ReportFrozen, "2026-11", frozen())).status)
	assert.Empty(t, quiet.notifications())
	assert.Contains(t, logs.String(), "REPORT_MAIL_TO is empty")

	bad := frozen()
	bad.Month = "November"
	assert.Equal(t, http.StatusBadRequest, w.deliver(event(t, events.ReportFrozen, "x", bad)).status)
}

// TestReportMailsAdminsOnly: the admins' report mails hold the month's revenue; agents,
// who read everyone's notifications, neither list, read nor resend them — admins do.
func TestReportMailsAdminsOnly(t *testing.T) {
	t.Parallel()
	a := newAPIBeside(t, newWorker(t, map[string]string{"REPORT_MAIL_TO": "ada@orangecarrental.com"}), nil)
	a.register(alice, "Alice", "de", "")
	a.confirm(alice, "7e5e7a00-0000-4000-8000-000000000001")
	require.Equal(t, http.StatusAccepted, a.deliver(event(t, events.ReportFrozen, "2026-11", frozen())).status)
	a.markSent()
	var reportID string
	require.NoError(t, a.db.Pool.QueryRow(t.Context(), `SELECT id::text FROM notifier.notifications WHERE type = $1`,
		events.ReportFrozen).Scan(&reportID))

	listed := func(user, query string) []string {
		r := a.call(user, http.MethodGet, "/api/notifications"+query, "")
		require.Equal(t, http.StatusOK, r.status, r.body)
		var types []string
		for _, n := range decodeJSON[page](t, r).Items {
			types = append(types, n.Type)
		}
		return types
	}
	assert.NotContains(t, listed("carla", ""), events.ReportFrozen)
	assert.NotEmpty(t, listed("carla", ""), "the agent still lists the customers' notifications")
	assert.Empty(t, listed("carla", "?customerId=00000000-0000-0000-0000-000000000000"))
	assert.Contains(t, listed("ada", ""), events.ReportFrozen)

	assert.Equal(t, http.StatusNotFound, a.call("carla", http.MethodGet, "/api/notifications/"+reportID, "").status)
	assert.Equal(t, http.StatusNotFound, a.call("carla", http.MethodPost, "/api/notifications/"+reportID+"/resend", "",
		"Idempotency-Key", "report-resend-1").status)
	r := a.call("ada", http.MethodGet, "/api/notifications/"+reportID, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Contains(t, decodeJSON[notifier.Notification](t, r).Body, "Revenue net")

	// An admin resends it: to the address it went to (it was a 409, "customer not known").
	r = a.call("ada", http.MethodPost, "/api/notifications/"+reportID+"/resend", "", "Idempotency-Key", "report-resend-2")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	again := decodeJSON[notifier.Notification](t, r)
	assert.Equal(t, events.ReportFrozen, again.Type)
	var to string
	require.NoError(t, a.db.Pool.QueryRow(t.Context(), `SELECT recipient FROM notifier.notifications WHERE id = $1`, again.ID).Scan(&to))
	assert.Equal(t, "ada@orangecarrental.com", to)
}
