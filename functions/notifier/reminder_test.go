package notifier_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/functions/notifier"
	"github.com/orangecarrental/orange/platform"
)

// reminderBooking is a confirmed booking of customerID at version, picked up at pickup (whole
// seconds, UTC) and returned 3 days later.
func reminderBooking(customerID string, version int64, pickup time.Time) events.Reservation {
	r := reservation(customerID)
	r.ReservationID, r.Version = uuid.NewString(), version
	pickup = pickup.UTC().Truncate(time.Second)
	r.PickupAt, r.ReturnAt = pickup.Format(time.RFC3339), pickup.Add(72*time.Hour).Format(time.RFC3339)
	return r
}

// at is r at version v with status and pickup moved to pickup (zero: unchanged).
func at(r events.Reservation, v int64, status string, pickup time.Time) events.Reservation {
	r.Version, r.Status = v, status
	if !pickup.IsZero() {
		r.PickupAt = pickup.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	return r
}

// reminderRow is a booking's reminder as the tests look at it.
type reminderRow struct {
	State    string
	Version  int64
	PickupAt time.Time
	RemindAt time.Time
}

func (w *worker) reminder(reservationID string) (reminderRow, bool) {
	w.t.Helper()
	var m reminderRow
	var remind *time.Time
	err := w.db.Pool.QueryRow(context.Background(), `SELECT state, version, pickup_at, remind_at FROM notifier.reminders
		WHERE reservation_id = $1`, reservationID).Scan(&m.State, &m.Version, &m.PickupAt, &remind)
	if err != nil {
		require.ErrorContains(w.t, err, "no rows")
		return m, false
	}
	if remind != nil {
		m.RemindAt = *remind
	}
	return m, true
}

// deliverOK delivers an event of typ about r and requires it accepted.
func (w *worker) deliverOK(typ string, r events.Reservation) {
	w.t.Helper()
	resp := w.deliver(event(w.t, typ, r.ReservationID, r))
	require.Equal(w.t, http.StatusAccepted, resp.status, string(resp.body))
}

// sent is one notification of a booking: its channel, recipient, subject and body.
type sent struct{ Type, Channel, Recipient, Subject, Body string }

func (w *worker) notificationsOf(reservationID, typ string) []sent {
	w.t.Helper()
	rows, err := w.db.Pool.Query(context.Background(), `SELECT type, channel, recipient, subject, body FROM notifier.notifications
		WHERE reservation_id = $1 AND type = $2 ORDER BY channel, created_at`, reservationID, typ)
	require.NoError(w.t, err)
	defer rows.Close()
	var out []sent
	for rows.Next() {
		var s sent
		require.NoError(w.t, rows.Scan(&s.Type, &s.Channel, &s.Recipient, &s.Subject, &s.Body))
		out = append(out, s)
	}
	require.NoError(w.t, rows.Err())
	return out
}

func (w *worker) sweep() int {
	w.t.Helper()
	n, err := notifier.SweepReminders(context.Background(), w.svc)
	require.NoError(w.t, err)
	return n
}

// TestReminderFollowsTheBooking: confirmed schedules the reminder 24 h before the pickup, a
// change of the pickup moves it (and its mail shows old and new), events older than what is
// held change nothing (brokers keep no order), and the cancellation drops it for good.
func TestReminderFollowsTheBooking(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("de")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	first := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	moved := first.Add(24 * time.Hour)
	res := reminderBooking(c.CustomerID, 2, first)

	w.deliverOK(events.ReservationConfirmed, res)
	m, ok := w.reminder(res.ReservationID)
	require.True(t, ok)
	assert.Equal(t, reminderRow{State: "scheduled", Version: 2, PickupAt: first, RemindAt: first.Add(-24 * time.Hour)}, utc(m))

	w.deliverOK(events.ReservationChanged, at(res, 4, "confirmed", moved))
	m, _ = w.reminder(res.ReservationID)
	assert.Equal(t, reminderRow{State: "scheduled", Version: 4, PickupAt: moved, RemindAt: moved.Add(-24 * time.Hour)}, utc(m))
	changed := w.notificationsOf(res.ReservationID, events.ReservationChanged)
	require.Len(t, changed, 1)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	assert.Contains(t, changed[0].Body, "Abholung: BER-HBF, "+moved.In(berlin).Format("02.01.2006, 15:04")+
		" Uhr (bisher "+first.In(berlin).Format("02.01.2006, 15:04")+" Uhr)")
	for _, line := range strings.Split(changed[0].Body, "\n") {
		if strings.HasPrefix(line, "Rückgabe:") {
			assert.NotContains(t, line, "bisher", "the return did not move: no old date")
		}
	}

	// Late arrivals of older events: a confirmed (v3) and a change (v3) from before v4.
	w.deliverOK(events.ReservationConfirmed, at(res, 3, "confirmed", first))
	w.deliverOK(events.ReservationChanged, at(res, 3, "confirmed", first))
	m, _ = w.reminder(res.ReservationID)
	assert.Equal(t, reminderRow{State: "scheduled", Version: 4, PickupAt: moved, RemindAt: moved.Add(-24 * time.Hour)}, utc(m))
	assert.Len(t, w.notificationsOf(res.ReservationID, events.ReservationChanged), 1, "no mail for a stale change")

	confirmations := len(w.notificationsOf(res.ReservationID, events.ReservationConfirmed))
	w.deliverOK(events.ReservationCancelled, at(res, 5, "cancelled", time.Time{}))
	w.deliverOK(events.ReservationChanged, at(res, 4, "confirmed", first.Add(48*time.Hour)))
	m, _ = w.reminder(res.ReservationID)
	assert.Equal(t, "dropped", m.State)
	assert.Equal(t, int64(5), m.Version)
	// A confirmation arriving after the cancellation sends no "confirmed" mail.
	w.deliverOK(events.ReservationConfirmed, at(res, 2, "confirmed", first))
	assert.Len(t, w.notificationsOf(res.ReservationID, events.ReservationConfirmed), confirmations, "no confirmation after the cancellation")
}

func utc(m reminderRow) reminderRow {
	m.PickupAt, m.RemindAt = m.PickupAt.UTC(), m.RemindAt.UTC()
	if m.RemindAt.Equal(time.Time{}.UTC()) {
		m.RemindAt = time.Time{}
	}
	return m
}

// TestReminderDroppedWhenTheBookingEnds: cancelled, expired, no-show, activated and
// completed drop the reminder, whether they come after the confirmation or before it.
func TestReminderDroppedWhenTheBookingEnds(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("en")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	pickup := time.Now().Add(10 * time.Hour) // due at once: a sweep would queue it
	for _, tt := range []struct{ typ, status string }{
		{events.ReservationCancelled, "cancelled"}, {events.ReservationExpired, "expired"},
		{events.ReservationNoShow, "no_show"}, {events.ReservationActivated, "active"},
		{events.ReservationCompleted, "completed"},
	} {
		t.Run(tt.status, func(t *testing.T) {
			after := reminderBooking(c.CustomerID, 2, pickup)
			w.deliverOK(events.ReservationConfirmed, after)
			w.deliverOK(tt.typ, at(after, 3, tt.status, time.Time{}))
			m, _ := w.reminder(after.ReservationID)
			assert.Equal(t, "dropped", m.State)

			before := reminderBooking(c.CustomerID, 2, pickup)
			w.deliverOK(tt.typ, at(before, 3, tt.status, time.Time{}))
			w.deliverOK(events.ReservationConfirmed, before)
			m, _ = w.reminder(before.ReservationID)
			assert.Equal(t, "dropped", m.State, "a confirmation older than the end brings nothing back")
		})
	}
	assert.Zero(t, w.sweep())
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.notifications WHERE type = 'pickup-reminder'`))
}

// TestDueReminderGoesByTheCustomersChannels: a due reminder becomes one notification per
// channel the customer chose (no preferences: email), SMS only with a mobile number and a
// provider (else the mail, unless the customer chose neither), and a sweep again adds none.
func TestDueReminderGoesByTheCustomersChannels(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t, notifier.Migrations)
	const phone = "+491701234567"
	tests := []struct {
		name       string
		env        map[string]string
		prefs      string // "email,sms" as stored; "" for no row
		phone      string
		want       []string // channel → recipient, sorted by channel
		wantState  string
		wantDelays bool
	}{
		{name: "no preferences: email", want: []string{"email erika.mustermann@example.com"}, wantState: "queued"},
		{name: "email and SMS", prefs: "true,true", phone: phone, want: []string{"email erika.mustermann@example.com", "sms " + phone}, wantState: "queued"},
		{name: "SMS only", prefs: "false,true", phone: phone, want: []string{"sms " + phone}, wantState: "queued"},
		{name: "SMS without a number: the mail", prefs: "false,true", want: []string{"email erika.mustermann@example.com"}, wantState: "queued"},
		// A landline (Hamburg) reaches no SMS: the mail.
		{name: "SMS to a landline: the mail", prefs: "false,true", phone: "+49 40 5550202", want: []string{"email erika.mustermann@example.com"}, wantState: "queued"},
		{name: "SMS off: the mail", env: map[string]string{"SMS_MODE": "off"}, prefs: "false,true", phone: phone,
			want: []string{"email erika.mustermann@example.com"}, wantState: "queued"},
		{name: "neither: none", prefs: "false,false", phone: phone, wantState: "declined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorkerOn(t, db, tt.env, io.Discard)
			c := customer("de")
			c.Phone = tt.phone
			require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
			if tt.prefs != "" {
				_, err := db.Pool.Exec(context.Background(), `INSERT INTO notifier.preferences (customer_id, email, sms)
					VALUES ($1, $2, $3)`, c.CustomerID, strings.HasPrefix(tt.prefs, "true"), strings.HasSuffix(tt.prefs, "true"))
				require.NoError(t, err)
			}
			res := reminderBooking(c.CustomerID, 2, time.Now().Add(10*time.Hour))
			w.deliverOK(events.ReservationConfirmed, res)
			assert.Equal(t, len(tt.want), w.sweep())
			assert.Zero(t, w.sweep(), "a second sweep queues nothing more")
			var got []string
			for _, n := range w.notificationsOf(res.ReservationID, "pickup-reminder") {
				got = append(got, n.Channel+" "+n.Recipient)
			}
			assert.Equal(t, tt.want, got)
			m, _ := w.reminder(res.ReservationID)
			assert.Equal(t, tt.wantState, m.State)
		})
	}
}

// TestReminderIsSentByMailAndSMS: Run's sweep and sender deliver a reminder as one mail and
// one SMS, both in German with the pickup on Berlin's clock; the SMS is plain GSM text.
func TestReminderIsSentByMailAndSMS(t *testing.T) {
	t.Parallel()
	smsDir := filepath.Join(t.TempDir(), "sms")
	w := newWorker(t, map[string]string{"SMS_DIR": smsDir, "REMINDER_SWEEP_INTERVAL": "20ms"})
	c := customer("de")
	c.Phone = "+49 170 1234567"
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	_, err := w.db.Pool.Exec(context.Background(), `INSERT INTO notifier.preferences (customer_id, email, sms) VALUES ($1, true, true)`, c.CustomerID)
	require.NoError(t, err)
	pickup := time.Now().Add(5 * time.Hour).UTC().Truncate(time.Minute)
	res := reminderBooking(c.CustomerID, 2, pickup)
	w.start()
	w.deliverOK(events.ReservationConfirmed, res)

	waitFor(t, 10*time.Second, "the reminder's mail and SMS", func() bool {
		return w.count(`SELECT count(*) FROM notifier.notifications WHERE type = 'pickup-reminder' AND status = 'sent'`) == 2
	})
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	local := pickup.In(berlin).Format("02.01.2006, 15:04") + " Uhr"
	mails := w.notificationsOf(res.ReservationID, "pickup-reminder")
	require.Len(t, mails, 2)
	assert.Equal(t, "Erinnerung: Abholung am "+local, mails[0].Subject)
	assert.Contains(t, mails[0].Body, "Abholung: BER-HBF, "+local+" (Ortszeit der Station)")

	files, err := filepath.Glob(filepath.Join(smsDir, "*.txt"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	raw, err := os.ReadFile(files[0])
	require.NoError(t, err)
	assert.Contains(t, string(raw), "To: +491701234567\n")
	text := mails[1].Body
	assert.Contains(t, string(raw), "\n\n"+text+"\n")
	assert.Contains(t, text, "Abholung am "+local+" (Ortszeit) in BER-HBF")
	assert.True(t, notifier.IsGSM(text))
	assert.LessOrEqual(t, notifier.SMSSegments(text), notifier.MaxSMSSegments)
}

// TestLateBookingsAndTheTwoHourRule: a booking confirmed less than 24 h ahead is reminded at
// once while the pickup is more than 2 hours away; closer than that, it is not.
func TestLateBookingsAndTheTwoHourRule(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("en")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	soon := reminderBooking(c.CustomerID, 2, time.Now().Add(3*time.Hour))
	tooSoon := reminderBooking(c.CustomerID, 2, time.Now().Add(90*time.Minute))
	later := reminderBooking(c.CustomerID, 2, time.Now().Add(30*time.Hour))
	for _, r := range []events.Reservation{soon, tooSoon, later} {
		w.deliverOK(events.ReservationConfirmed, r)
	}
	assert.Equal(t, 1, w.sweep())
	for r, want := range map[string]string{soon.ReservationID: "queued", tooSoon.ReservationID: "missed", later.ReservationID: "scheduled"} {
		m, _ := w.reminder(r)
		assert.Equal(t, want, m.State, r)
	}
	assert.Len(t, w.notificationsOf(soon.ReservationID, "pickup-reminder"), 1)
	assert.Empty(t, w.notificationsOf(tooSoon.ReservationID, "pickup-reminder"))

	// A change of the return only: still one reminder. A new pickup time: a new one.
	ret := at(soon, 3, "confirmed", time.Time{})
	ret.ReturnAt = time.Now().Add(200 * time.Hour).UTC().Format(time.RFC3339)
	w.deliverOK(events.ReservationChanged, ret)
	assert.Zero(t, w.sweep())
	w.deliverOK(events.ReservationChanged, at(soon, 4, "confirmed", time.Now().Add(6*time.Hour)))
	assert.Equal(t, 1, w.sweep())
	assert.Len(t, w.notificationsOf(soon.ReservationID, "pickup-reminder"), 2)
}

// TestTwoSweepsAtOnceQueueEachReminderOnce: two replicas sweeping the same due reminders at
// the same moment (more than a batch of them) still make one mail and one SMS each.
func TestTwoSweepsAtOnceQueueEachReminderOnce(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t, notifier.Migrations)
	a, b := newWorkerOn(t, db, nil, io.Discard), newWorkerOn(t, db, nil, io.Discard)
	const bookings = 40
	for i := range bookings {
		c := customer("de")
		c.Phone = fmt.Sprintf("+4917012345%02d", i)
		require.Equal(t, http.StatusAccepted, a.deliver(registered(t, c)).status)
		_, err := db.Pool.Exec(context.Background(), `INSERT INTO notifier.preferences (customer_id, email, sms) VALUES ($1, true, true)`, c.CustomerID)
		require.NoError(t, err)
		a.deliverOK(events.ReservationConfirmed, reminderBooking(c.CustomerID, 2, time.Now().Add(12*time.Hour)))
	}
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i, w := range []*worker{a, b, a, b} {
		wg.Go(func() {
			n, err := notifier.SweepReminders(context.Background(), w.svc)
			assert.NoError(t, err)
			counts[i] = n
		})
	}
	wg.Wait()
	assert.Equal(t, 2*bookings, counts[0]+counts[1]+counts[2]+counts[3], "%v", counts)
	assert.Equal(t, bookings, a.count(`SELECT count(*) FROM notifier.notifications WHERE type = 'pickup-reminder' AND channel = 'email'`))
	assert.Equal(t, bookings, a.count(`SELECT count(*) FROM notifier.notifications WHERE type = 'pickup-reminder' AND channel = 'sms'`))
	assert.Equal(t, bookings, a.count(`SELECT count(*) FROM notifier.reminders WHERE state = 'queued'`))
}

// TestReminderShowsTheBranchesClock: the reminder shows the pickup on the pickup branch's own
// clock; while locations-api cannot say which, the reminder waits instead of guessing.
func TestReminderShowsTheBranchesClock(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	openLocations, locationsClient := withNewYorkBranch(t, w)

	c := customer("en")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	pickup := time.Now().Add(8 * time.Hour).UTC().Truncate(time.Minute)
	res := reminderBooking(c.CustomerID, 2, pickup)
	res.PickupLocation = "NYC-JFK"
	// The confirmation itself needs the zones too: deliver it while locations-api answers,
	// then take it away for the sweep.
	openLocations()
	w.deliverOK(events.ReservationConfirmed, res)

	w.svc.SetBranches(locationsapi.NewClient(&http.Client{Transport: platform.NewTransport(nil, nil)}))
	assert.Zero(t, w.sweep(), "locations-api unreachable: postponed")
	m, _ := w.reminder(res.ReservationID)
	assert.Equal(t, "scheduled", m.State)
	assert.True(t, m.RemindAt.After(time.Now().Add(30*time.Second)), "retried a minute later")

	w.svc.SetBranches(locationsClient)
	_, err := w.db.Pool.Exec(context.Background(), `UPDATE notifier.reminders SET remind_at = now()`)
	require.NoError(t, err)
	assert.Equal(t, 1, w.sweep())
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	mails := w.notificationsOf(res.ReservationID, "pickup-reminder")
	require.Len(t, mails, 1)
	assert.Contains(t, mails[0].Body, "Pick-up: NYC-JFK, "+pickup.In(ny).Format("2 Jan 2006, 15:04")+" (the branch's local time)")
}

// TestNewReservationTypesNeedABookingID: the types consumed for reminders refuse (400, dead
// letter) a booking id that is not a UUID, and change nothing.
func TestNewReservationTypesNeedABookingID(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("de")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	for _, typ := range []string{events.ReservationChanged, events.ReservationExpired, events.ReservationNoShow, events.ReservationActivated} {
		r := reservation(c.CustomerID)
		r.ReservationID = "r-1"
		resp := w.deliver(event(t, typ, r.ReservationID, r))
		assert.Equal(t, http.StatusBadRequest, resp.status, typ)
	}
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.reminders`))
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.notifications WHERE type <> $1`, events.CustomerRegistered))
}

// TestAChangeDuringTheHoldShowsWhatMoved: the hold (reservation.created) is held like any
// later state, so a change before the confirmation shows the pickup it moved from — the
// first change's mail had no "(bisher …)", only a second one did.
func TestAChangeDuringTheHoldShowsWhatMoved(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("de")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	first := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	res := reminderBooking(c.CustomerID, 1, first)
	res.Status = "pending"
	w.deliverOK(events.ReservationCreated, res)
	m, ok := w.reminder(res.ReservationID)
	require.True(t, ok)
	assert.Equal(t, "waiting", m.State)
	w.deliverOK(events.ReservationChanged, at(res, 2, "pending", first.Add(24*time.Hour)))
	changed := w.notificationsOf(res.ReservationID, events.ReservationChanged)
	require.Len(t, changed, 1)
	assert.Contains(t, changed[0].Body, "bisher")
}
