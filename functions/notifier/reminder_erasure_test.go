package notifier_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/functions/notifier"
)

// TestErasureRemovesRemindersAndSMS: customer.erased deletes the customer's pickup
// reminders and SMS files (another customer's stay), and a reservation event arriving after
// it schedules no reminder again.
func TestErasureRemovesRemindersAndSMS(t *testing.T) {
	t.Parallel()
	smsDir := filepath.Join(t.TempDir(), "sms")
	w := newWorker(t, map[string]string{"SMS_DIR": smsDir})
	c, other := customer("de"), customer("en")
	c.Phone, other.Phone = "+491701111111", "+491702222222"
	sent := reminderBooking(c.CustomerID, 2, time.Now().Add(6*time.Hour))
	later := reminderBooking(c.CustomerID, 2, time.Now().Add(96*time.Hour))
	for _, x := range []events.Customer{c, other} {
		require.Equal(t, http.StatusAccepted, w.deliver(registered(t, x)).status)
		_, err := w.db.Pool.Exec(t.Context(), `INSERT INTO notifier.preferences (customer_id, email, sms) VALUES ($1, false, true)`, x.CustomerID)
		require.NoError(t, err)
	}
	w.deliverOK(events.ReservationConfirmed, sent)
	w.deliverOK(events.ReservationConfirmed, later)
	w.deliverOK(events.ReservationConfirmed, reminderBooking(other.CustomerID, 2, time.Now().Add(6*time.Hour)))
	w.start()
	smsFiles := func() []string {
		names, err := filepath.Glob(filepath.Join(smsDir, "*.txt"))
		require.NoError(t, err)
		return names
	}
	waitFor(t, 10*time.Second, "two reminders by SMS", func() bool { return len(smsFiles()) == 2 })
	require.Equal(t, 3, w.count(`SELECT count(*) FROM notifier.reminders`))

	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerErased, c.CustomerID, erasure(c, 4))).status)
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.reminders WHERE customer_id = $1`, c.CustomerID))
	assert.Equal(t, 1, w.count(`SELECT count(*) FROM notifier.reminders`), "the other customer's stays")
	files := smsFiles()
	require.Len(t, files, 1)
	raw, err := os.ReadFile(files[0])
	require.NoError(t, err)
	assert.Contains(t, string(raw), other.Phone)

	w.deliverOK(events.ReservationChanged, at(later, 3, "confirmed", time.Now().Add(100*time.Hour)))
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.reminders WHERE customer_id = $1`, c.CustomerID),
		"no reminder for an erased customer")
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.notifications WHERE customer_id = $1 AND recipient <> ''`, c.CustomerID))
}

// gate is a locations-api that holds every request until release is closed, then answers
// 404 (an unknown branch: the worker's own zone): a sweep stopped in the middle.
type gate struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.release:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{"Content-Type": {"application/problem+json"}},
		Body: io.NopCloser(strings.NewReader(`{"status":404}`)), Request: req}, nil
}

// TestErasureDuringASweep: customer.erased arriving while a sweep (another replica) is
// queuing the customer's reminder waits for that sweep and then redacts what it queued too —
// no pending mail with the address survives the erasure, and neither side deadlocks.
func TestErasureDuringASweep(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("de")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	w.deliverOK(events.ReservationConfirmed, reminderBooking(c.CustomerID, 2, time.Now().Add(6*time.Hour)))

	// The sweep, holding the due reminder, asks for the branch's time zone: held there.
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	w.svc.SetBranches(locationsapi.NewClient(&http.Client{Transport: g}))
	swept := make(chan error, 1)
	go func() {
		_, err := notifier.SweepReminders(context.Background(), w.svc)
		swept <- err
	}()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the sweep never asked for the branch")
	}
	erased := make(chan int, 1)
	e := event(t, events.CustomerErased, c.CustomerID, erasure(c, 4))
	go func() { erased <- w.deliver(e).status }()
	waitFor(t, 10*time.Second, "the erasure waiting for the sweep", func() bool {
		return w.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0
	})
	close(g.release)
	require.NoError(t, <-swept)
	assert.Equal(t, http.StatusAccepted, <-erased)

	assert.Equal(t, 1, w.count(`SELECT count(*) FROM notifier.notifications WHERE customer_id = $1 AND type = 'pickup-reminder'`, c.CustomerID),
		"the sweep queued the reminder before the erasure went on")
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.notifications WHERE customer_id = $1
		AND (recipient <> '' OR recipient_name <> '' OR body <> '' OR status = 'pending')`, c.CustomerID), "everything redacted")
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.reminders WHERE customer_id = $1`, c.CustomerID))
}
