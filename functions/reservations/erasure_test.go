package reservations_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker/brokertest"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/pgtest"
)

// erase delivers customer.erased for customerID as the event platform does: from
// reservations' own Trigger for the type in knative/base.
func (a *api) erase(eventID, customerID string) response {
	a.t.Helper()
	return a.eraseAs(a.id.DeliveryBearer(a.t, brokertest.SenderOf(a.t, reservations.ServiceName, events.CustomerErased), reservations.ServiceName),
		eventID, customerID)
}

func (a *api) eraseAs(authorization, eventID, customerID string) response {
	a.t.Helper()
	body, err := json.Marshal(events.CustomerErasure{CustomerID: customerID, Version: 3})
	require.NoError(a.t, err)
	return a.do("", http.MethodPost, events.ReceivePath, string(body),
		"ce-specversion", "1.0", "ce-id", eventID, "ce-source", "customers-api", "ce-type", events.CustomerErased,
		"ce-subject", customerID, "Authorization", authorization)
}

// stored is everything reservations keeps about bookings, as text: every column of every
// booking and every event in the outbox.
func (a *api) stored() string {
	a.t.Helper()
	var s string
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce((SELECT string_agg(r::text, E'\n') FROM reservations.reservations r), '') || E'\n' ||
		        coalesce((SELECT string_agg(o::text, E'\n') FROM reservations.outbox o), '')`).Scan(&s))
	return s
}

func (a *api) lookup(id, email string) int {
	a.t.Helper()
	return a.do("", http.MethodGet, "/api/reservations/lookup?id="+id+"&email="+url.QueryEscape(email), "").status
}

// TestErasureReachesBookings is the attack of issue 11: after the customer was erased, the
// public lookup still found their bookings with the old address, which reservations kept
// (customer_email), and the reason they typed when cancelling still named them. Now
// customer.erased removes both from the bookings and from the events in the outbox, keeps
// every id, changes nothing on a redelivery or a second erasure, and nothing personal comes
// back afterwards: a late payment confirms the booking without it, a new booking is refused.
func TestErasureReachesBookings(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ctx := context.Background()
	p, ret := period(3, 48)
	cancelled := a.book(vehicle1, p, ret)
	r := a.do("alice", http.MethodPost, "/api/reservations/"+cancelled.ID+"/cancel", `{"reason":"Alice Hartmann, ill: call me on +49 30 5550101"}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	held := a.book(vehicle2, p, ret) // its payment arrives after the erasure
	// A return's damage notes, as the counter writes them (the counter's own tests go
	// through pickup and return; here only what the erasure does with the text matters).
	_, err := a.db.Pool.Exec(ctx, `UPDATE reservations.reservations SET damage_notes = 'dent rear left; Ms Hartmann says her son drove' WHERE id = $1`, cancelled.ID)
	require.NoError(t, err)
	personal := []string{aliceEmail, "Hartmann", "5550101"}
	for _, v := range personal {
		require.Contains(t, a.stored(), v, "precondition: reservations holds %q", v)
	}
	require.Equal(t, http.StatusOK, a.lookup(held.ID, aliceEmail), "precondition: the lookup finds the booking")

	// Only reservations' own Trigger may erase: a forged erasure would be a way to lock a
	// customer out of their bookings.
	other := brokertest.OtherDelivery(t, reservations.ServiceName, events.CustomerErased)
	before := a.snapshot()
	assert.Equal(t, http.StatusForbidden, a.eraseAs(a.id.DeliveryBearer(t, other.Sender, reservations.ServiceName), "forged", alice).status)
	assert.Equal(t, http.StatusForbidden, a.eraseAs(a.tokens["ada"], "forged", alice).status)
	assert.Equal(t, before, a.snapshot())

	require.Equal(t, http.StatusAccepted, a.erase("erase-1", alice).status)
	for _, id := range []string{cancelled.ID, held.ID} {
		assert.Equal(t, http.StatusNotFound, a.lookup(id, aliceEmail), "the old address finds nothing")
	}
	stored := a.stored()
	for _, v := range personal {
		assert.NotContains(t, stored, v)
	}
	got := decode[reservations.Reservation](t, a.do("carla", http.MethodGet, "/api/reservations/"+cancelled.ID, ""))
	assert.Equal(t, reservations.ReasonErased, got.CancelReason)
	assert.Equal(t, alice, got.CustomerID, "the booking and its ids stay")
	assert.Equal(t, reservations.StatusCancelled, got.Status)
	assert.Equal(t, 2, got.Version, "an erasure is not a change of the booking: no new version, no event")
	assert.Equal(t, []string{"created " + cancelled.ID, "cancelled " + cancelled.ID, "created " + held.ID}, a.recorded())
	var notes string
	require.NoError(t, a.db.Pool.QueryRow(ctx, `SELECT damage_notes FROM reservations.reservations WHERE id = $1`, cancelled.ID).Scan(&notes))
	assert.Equal(t, reservations.ReasonErased, notes, "the notes go, the fact of damage stays")
	var reasons []string
	rows, err := a.db.Pool.Query(ctx, `SELECT data->>'reason' FROM reservations.outbox WHERE data ? 'reason'`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		reasons = append(reasons, s)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{reservations.ReasonErased}, reasons, "the reservation.cancelled kept in the outbox")

	// Idempotent: the same delivery again is a duplicate; another erasure event for the same
	// customer (a replay, an agent's second request) finds nothing left to change.
	schema := reservations.Migrations.Schema
	snap := pgtest.Snapshot(t, a.db, schema)
	assert.Equal(t, http.StatusOK, a.erase("erase-1", alice).status)
	assert.Equal(t, snap, pgtest.Snapshot(t, a.db, schema))
	assert.Equal(t, http.StatusAccepted, a.erase("erase-2", alice).status)
	after := pgtest.Snapshot(t, a.db, schema)
	assert.NotEqual(t, snap[schema+".inbox"], after[schema+".inbox"])
	maps.DeleteFunc(snap, func(k string, _ string) bool { return k == schema+".inbox" })
	maps.DeleteFunc(after, func(k string, _ string) bool { return k == schema+".inbox" })
	assert.Equal(t, snap, after, "only the inbox records the second erasure event")

	// Ordered-safe: what arrives later brings nothing back.
	require.Equal(t, http.StatusAccepted, a.event("pay-late", events.PaymentAuthorized, payment(held.ID, "authorized")).status)
	assert.Equal(t, reservations.StatusConfirmed, a.status(held.ID))
	p2, ret2 := period(10, 24)
	r = a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle1, p2, ret2, ""))
	assert.Equal(t, http.StatusConflict, r.status, "an erased customer cannot book: %s", r)
	for _, v := range personal {
		assert.NotContains(t, a.stored(), v)
	}
	assert.Equal(t, http.StatusNotFound, a.lookup(held.ID, aliceEmail))
}

// TestBookingInFlightDuringErasure: customers-api found the customer eligible, then
// customer.erased reached reservations before the booking was stored. Without a record of
// the erasure the booking stored the address the erasure had just removed; now it is
// refused and nothing is stored.
func TestBookingInFlightDuringErasure(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	quoting, release := make(chan struct{}), make(chan struct{})
	pricing := a.fakePricing()
	a.transport.Mount("pricing-api", a.onlyReservations(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/quotes") {
			close(quoting)
			<-release
		}
		pricing.ServeHTTP(w, r)
	})))
	p, ret := period(3, 48)
	booked := make(chan response, 1)
	go func() {
		booked <- a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle1, p, ret, ""))
	}()
	select { // eligibility answered: the customer was not erased yet
	case <-quoting:
	case r := <-booked:
		t.Fatalf("the booking never asked for a quote: %s", r)
	case <-time.After(30 * time.Second):
		t.Fatal("the booking never asked for a quote")
	}
	require.Equal(t, http.StatusAccepted, a.erase("erase-1", alice).status)
	close(release)
	r := <-booked
	assert.Equal(t, http.StatusConflict, r.status, r.String())
	assert.NotContains(t, a.stored(), aliceEmail)
	assert.Empty(t, a.recorded())
}

// TestSendersComeFromTheManifests holds the route table's senders to knative/base: the
// receiver admits exactly the Triggers and PingSources that deliver to reservations-api.
func TestSendersComeFromTheManifests(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var want []platform.Sender
	for _, typ := range slices.Sorted(maps.Keys(events.Types)) {
		for _, d := range brokertest.DeliveriesOf(t, typ) {
			if d.Service == reservations.ServiceName && !slices.Contains(want, d.Sender) {
				want = append(want, d.Sender)
			}
		}
	}
	var got []platform.Sender
	for _, r := range a.svc.Routes() {
		if r.Path == events.ReceivePath {
			got = append(got, r.Access.Senders...)
		}
	}
	assert.ElementsMatch(t, want, got)
}

// TestErasureForgetsGuestHolds: a guest booking records who held (the mailbox's SHA-256,
// which anyone with the address can compute, and the client address); the guest's erasure
// deletes the record with the rest.
func TestErasureForgetsGuestHolds(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	r := a.guestFrom("198.51.100.20", vehicle1, "gina.gast@example.org", p, ret)
	require.Equal(t, http.StatusCreated, r.status, r.String())
	guest := decode[reservations.Reservation](t, r)
	holds := func() int {
		var n int
		require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM reservations.guest_holds`).Scan(&n))
		return n
	}
	require.Equal(t, 1, holds(), "precondition: the hold is recorded")
	require.Equal(t, http.StatusAccepted, a.erase("erase-guest", guest.CustomerID).status)
	assert.Zero(t, holds())
	assert.Equal(t, http.StatusNotFound, a.lookup(guest.ID, "gina.gast@example.org"))
	assert.NotContains(t, a.stored(), "gina.gast")
}
