package notifier_test

import (
	"context"
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
	"github.com/orangecarrental/orange/functions/notifier"
	"github.com/orangecarrental/orange/platform/pgtest"
)

// mailFolder is the whole mail folder as text, to search it for a person.
func (w *worker) mailFolder() string {
	w.t.Helper()
	var b strings.Builder
	entries, err := os.ReadDir(w.dir)
	require.NoError(w.t, err)
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(w.dir, e.Name()))
		require.NoError(w.t, err)
		b.WriteString(e.Name() + "\n" + string(raw) + "\n")
	}
	return b.String()
}

func erasure(c events.Customer, version int64) events.CustomerErasure {
	return events.CustomerErasure{CustomerID: c.CustomerID, Version: version}
}

// TestErasureRemovesSentMail is the attack of issue 11 on the notifier: the customer's
// welcome and booking mails, written to the mail folder before the erasure, were still
// there after it, address, name and all. Now customer.erased deletes them with the rest;
// a redelivery and a second erasure change nothing; the customer's events that arrive late
// bring nothing back and make no mail.
func TestErasureRemovesSentMail(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c, other := customer("en"), customer("de")
	other.Email, other.FirstName, other.LastName = "max@example.com", "Max", "Muster"
	for _, e := range []events.Customer{c, other} {
		require.Equal(t, http.StatusAccepted, w.deliver(registered(t, e)).status)
		require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.ReservationConfirmed, e.CustomerID, reservation(e.CustomerID))).status)
	}
	w.start()
	// The sender writes a file and then marks its row sent: wait for both, or the erasure may
	// find a mail written but still pending, which it gives up (TestMailBeingWrittenDuringErasureIsRemoved).
	waitFor(t, 5*time.Second, "four mails sent", func() bool {
		return len(w.files()) == 4 && w.count(`SELECT count(*) FROM notifier.notifications WHERE status = 'sent'`) == 4
	})
	personal := []string{c.Email, "Mustermann", "Erika"}
	for _, v := range personal {
		require.Contains(t, w.mailFolder(), v, "precondition: the folder holds %q", v)
	}

	erased := event(t, events.CustomerErased, c.CustomerID, erasure(c, 4))
	require.Equal(t, http.StatusAccepted, w.deliver(erased).status)
	folder := w.mailFolder()
	for _, v := range personal {
		assert.NotContains(t, folder, v)
	}
	assert.Len(t, w.files(), 2, "the other customer's mail stays")
	assert.Contains(t, folder, "max@example.com")
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.notifications n WHERE customer_id = $1
		AND (n::text LIKE '%erika%' OR n::text LIKE '%Mustermann%')`, c.CustomerID))
	assert.Equal(t, 2, w.count(`SELECT count(*) FROM notifier.notifications WHERE status = 'sent' AND customer_id = $1`, c.CustomerID),
		"the log keeps that the mails went out")
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.notifications WHERE customer_id = $1 AND subject <> ''`, c.CustomerID),
		"a subject holds what an agent typed or the booking's facts")
	assert.Equal(t, 2, w.count(`SELECT count(*) FROM notifier.notifications WHERE subject <> ''`), "the other customer's stay")

	schema := notifier.Migrations.Schema
	snap := pgtest.Snapshot(t, w.db, schema)
	assert.Equal(t, http.StatusOK, w.deliver(erased).status, "a redelivery is a duplicate")
	assert.Equal(t, snap, pgtest.Snapshot(t, w.db, schema))
	assert.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerErased, c.CustomerID, erasure(c, 4))).status)
	// Late: the registration and an older update (brokers keep no order), a newer update (a
	// forged or buggy one), and a mail event.
	for _, v := range []int64{1, 3, 9} {
		late := c
		late.Version = v
		typ := events.CustomerUpdated
		if v == 1 {
			typ = events.CustomerRegistered
		}
		require.Equal(t, http.StatusAccepted, w.deliver(event(t, typ, c.CustomerID, late)).status)
	}
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.ReservationCompleted, c.CustomerID, reservation(c.CustomerID))).status)
	after := pgtest.Snapshot(t, w.db, schema)
	delete(snap, schema+".inbox")
	delete(after, schema+".inbox")
	assert.Equal(t, snap, after, "only the inbox records what came after the erasure")
	time.Sleep(100 * time.Millisecond) // several poll intervals
	assert.Len(t, w.files(), 2)
	for _, v := range personal {
		assert.NotContains(t, w.mailFolder(), v)
	}
}

// TestErasureBeforeRegistration: brokers keep no order, so customer.erased may arrive
// before the customer's registration. The tombstone it leaves keeps the registration from
// storing the person and from sending a welcome mail.
func TestErasureBeforeRegistration(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("de")
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerErased, c.CustomerID, erasure(c, 3))).status)
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.ReservationConfirmed, c.CustomerID, reservation(c.CustomerID))).status)
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.recipients r WHERE r::text LIKE '%erika%' OR r::text LIKE '%Mustermann%'`))
	assert.Empty(t, w.notifications())
}

// gatedSender holds the first message until the test releases it: a send in progress.
type gatedSender struct {
	next     notifier.Sender
	sending  chan struct{}
	release  chan struct{}
	firstOne sync.Once
}

func (g *gatedSender) Send(ctx context.Context, m notifier.Message) error {
	g.firstOne.Do(func() {
		close(g.sending)
		<-g.release
	})
	return g.next.Send(ctx, m)
}

// TestMailBeingWrittenDuringErasureIsRemoved: the sender had claimed the customer's mails and
// was writing them when customer.erased arrived. The erasure deleted the files that existed
// (none yet); the files written after it are deleted when the sender finds the
// notifications no longer pending.
func TestMailBeingWrittenDuringErasureIsRemoved(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	gate := &gatedSender{sending: make(chan struct{}), release: make(chan struct{})}
	notifier.WrapSender(w.svc, func(s notifier.Sender) notifier.Sender { gate.next = s; return gate })
	c := customer("de")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.ReservationConfirmed, c.CustomerID, reservation(c.CustomerID))).status)
	w.start()
	select {
	case <-gate.sending:
	case <-time.After(5 * time.Second):
		t.Fatal("the sender never sent")
	}
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerErased, c.CustomerID, erasure(c, 3))).status)
	close(gate.release)
	waitFor(t, 5*time.Second, "the mails written after the erasure removed", func() bool {
		return len(w.files()) == 0 && w.count(`SELECT count(*) FROM notifier.notifications WHERE status = 'pending'`) == 0
	})
	time.Sleep(100 * time.Millisecond) // several poll intervals
	assert.Empty(t, w.files())
	assert.NotContains(t, w.mailFolder(), c.Email)
}
