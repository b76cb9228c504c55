package notifier_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker/brokertest"
	"github.com/orangecarrental/orange/functions/notifier"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/pgtest"
)

// TestRefusedDeliveriesChangeNothing: /cloudevents admits only the event platform's
// deliveries from the worker's own Triggers. A forged customer.registered — accepted, it
// queues a welcome mail to whatever address it names — is refused without a token (401),
// with a token of another issuer or signed with another key (401), expired (401),
// addressed to another Service (401), from another function's Trigger (403), and with
// people's and functions' tokens (403); none of them changes a row or writes a mail.
// Delivered by its Trigger, the same event queues the mail.
func TestRefusedDeliveriesChangeNothing(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	// Something to change: a known customer with a mail queued.
	known := customer("de")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, known)).status)
	forgedCustomer := customer("en")
	forgedCustomer.Email = "phishing@example.com"
	forged := registered(t, forgedCustomer)

	typ := forged.Type()
	tests := brokertest.WithCallers(brokertest.DeliveryCredentials(t, w.id, notifier.ServiceName, typ),
		brokertest.Credential{Name: "a customer", Auth: w.id.Bearer(t, "alice"), Status: http.StatusForbidden},
		brokertest.Credential{Name: "an admin", Auth: w.id.Bearer(t, "ada"), Status: http.StatusForbidden},
		brokertest.Credential{Name: "customers-api's own identity", Auth: w.id.Bearer(t, "service:customers-api"), Status: http.StatusForbidden},
	)
	// The same event throughout: had a refused delivery recorded it in the inbox, the
	// accepted one would be a duplicate and queue nothing.
	for _, tt := range tests {
		before, rowsBefore := pgtest.Snapshot(t, w.db, notifier.Migrations.Schema), w.notifications()
		r := w.deliverAs(tt.Auth, forged)
		require.Equal(t, tt.Status, r.status, "%s: %s", tt.Name, r.body)
		if tt.Status >= 300 {
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), tt.Name)
			if tt.Status == http.StatusUnauthorized {
				assert.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer"), "%s: WWW-Authenticate %q", tt.Name, r.header.Get("WWW-Authenticate"))
			}
			assert.Equal(t, before, pgtest.Snapshot(t, w.db, notifier.Migrations.Schema), "%s changed the database", tt.Name)
			assert.Equal(t, rowsBefore, w.notifications(), "%s changed a notification", tt.Name)
			assert.Zero(t, w.count(`SELECT count(*) FROM notifier.recipients WHERE customer_id = $1`, forgedCustomer.CustomerID), tt.Name)
		}
	}
	assert.Equal(t, 1, w.count(`SELECT count(*) FROM notifier.notifications WHERE event_id = $1 AND recipient = $2 AND status = 'pending'`,
		forged.ID(), forgedCustomer.Email))
	assert.Len(t, w.notifications(), 2)
	assert.Empty(t, w.files(), "nothing is sent before the sender runs")
}

// TestSendersComeFromTheManifests holds the route table's senders to knative/base: the
// receiver admits exactly the Triggers that deliver to the worker.
func TestSendersComeFromTheManifests(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	var want []platform.Sender
	for _, typ := range slices.Sorted(maps.Keys(events.Types)) {
		for _, d := range brokertest.DeliveriesOf(t, typ) {
			if d.Service == notifier.ServiceName && !slices.Contains(want, d.Sender) {
				want = append(want, d.Sender)
			}
		}
	}
	var got []platform.Sender
	for _, r := range w.svc.Routes() {
		if r.Path == events.ReceivePath {
			got = append(got, r.Access.Senders...)
		}
	}
	assert.ElementsMatch(t, want, got)
	for _, typ := range notifier.Consumes {
		brokertest.SenderOf(t, notifier.ServiceName, typ) // exactly one Trigger delivers each consumed type
	}
}
