package notifier_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker/brokertest"
	"github.com/orangecarrental/orange/functions/notifier"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
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
	right := brokertest.SenderOf(t, notifier.ServiceName, typ)
	other := brokertest.OtherDelivery(t, notifier.ServiceName, typ)
	subject := devissuer.Subject(authtest.Namespace, right.ServiceAccount())
	audience := auth.ServiceAudience(authtest.Namespace, notifier.ServiceName)
	key, err := devissuer.GenerateKey()
	require.NoError(t, err)
	foreign, err := devissuer.NewCluster("http://elsewhere.test"+devissuer.ClusterPath, key).Mint(subject, audience)
	require.NoError(t, err)
	impostor, err := devissuer.NewCluster(authtest.ClusterURL, key).Mint(subject, audience)
	require.NoError(t, err)
	now := time.Now()
	expired, err := w.id.Cluster.MintClaims(devissuer.Claims{"iss": authtest.ClusterURL, "sub": subject, "aud": []string{audience},
		"iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	require.NoError(t, err)

	tests := []struct {
		name, auth string
		status     int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a token of another issuer", "Bearer " + foreign, http.StatusUnauthorized},
		{"the cluster issuer's name signed with another key", "Bearer " + impostor, http.StatusUnauthorized},
		{"an expired token of the right sender", "Bearer " + expired, http.StatusUnauthorized},
		{"the right sender's token addressed to " + other.Service, w.id.DeliveryBearer(t, right, other.Service), http.StatusUnauthorized},
		{"a valid delivery from " + other.Sender.String(), w.id.DeliveryBearer(t, other.Sender, notifier.ServiceName), http.StatusForbidden},
		{"a customer", w.id.Bearer(t, "alice"), http.StatusForbidden},
		{"an admin", w.id.Bearer(t, "ada"), http.StatusForbidden},
		{"customers-api's own identity", w.id.Bearer(t, "service:customers-api"), http.StatusForbidden},
		{"its Trigger " + right.String(), w.id.DeliveryBearer(t, right, notifier.ServiceName), http.StatusAccepted},
	}
	// The same event throughout: had a refused delivery recorded it in the inbox, the
	// accepted one would be a duplicate and queue nothing.
	for _, tt := range tests {
		before, rowsBefore := pgtest.Snapshot(t, w.db, notifier.Migrations.Schema), w.notifications()
		r := w.deliverAs(tt.auth, forged)
		require.Equal(t, tt.status, r.status, "%s: %s", tt.name, r.body)
		if tt.status >= 300 {
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), tt.name)
			if tt.status == http.StatusUnauthorized {
				assert.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer"), "%s: WWW-Authenticate %q", tt.name, r.header.Get("WWW-Authenticate"))
			}
			assert.Equal(t, before, pgtest.Snapshot(t, w.db, notifier.Migrations.Schema), "%s changed the database", tt.name)
			assert.Equal(t, rowsBefore, w.notifications(), "%s changed a notification", tt.name)
			assert.Zero(t, w.count(`SELECT count(*) FROM notifier.recipients WHERE customer_id = $1`, forgedCustomer.CustomerID), tt.name)
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
