package reservations_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
)

// guestsWithEmail counts customers-api's records of an address, whatever its case.
func (a *api) guestsWithEmail(email string) int {
	a.t.Helper()
	var n int
	require.NoError(a.t, a.customers.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM customers.customers WHERE lower(email) = lower($1)`, email).Scan(&n))
	return n
}

// TestGuestBookingIsOneOutcome (issue 13): registering the guest and holding the car are
// both or neither. A hold refused after the registration (the car taken: 409) leaves no
// guest behind — customers-api withdraws the record and records customer.erased — and books
// nothing; the retry with a free car books. A guest registered by a booking that crashed
// before its hold books on the retry, as the same record.
func TestGuestBookingIsOneOutcome(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(4, 48)
	a.book(vehicle1, p, ret) // alice holds vehicle1

	const email = "gina.gast@example.com"
	before := a.snapshot()
	r := a.guestFrom("192.0.2.10", vehicle1, email, p, ret)
	require.Equal(t, http.StatusConflict, r.status, r.String())
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	assert.Contains(t, decode[platform.Problem](t, r).Detail, "already booked")
	assert.Equal(t, before, a.snapshot(), "nothing booked, no event: nothing to mail")
	assert.Zero(t, a.guestsWithEmail(email), "no guest left in customers-api")
	// The registration's events are scrubbed and followed by customer.erased; a guest's
	// registration mails nothing (no welcome), and reservation.created was never recorded.
	rows, err := a.customers.Pool.Query(context.Background(),
		`SELECT type, data::text FROM customers.outbox WHERE data::text ILIKE '%gina%' OR type = $1`, events.CustomerErased)
	require.NoError(t, err)
	var erased int
	for rows.Next() {
		var typ, data string
		require.NoError(t, rows.Scan(&typ, &data))
		assert.Equal(t, events.CustomerErased, typ, "no event names the withdrawn guest: %s", data)
		erased++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 1, erased)

	r = a.guestFrom("192.0.2.10", vehicle2, email, p, ret)
	require.Equal(t, http.StatusCreated, r.status, "the retry with a free car books: %s", r)
	res := decode[reservations.Reservation](t, r)
	assert.Equal(t, 1, a.guestsWithEmail(email))
	assert.Equal(t, []string{"created " + res.ID}, a.recorded()[1:])
	assert.True(t, res.Guest)
	_, ev := a.lastEvent(res.ID)
	assert.True(t, ev.Guest, "reservation.created says a guest booked (the notifier mails the link)")

	// A crash between the two steps: the guest is registered, the hold never made.
	client := customersapi.NewClient(platform.ForwardingClient(a.transport, a.id.ServiceTokens(reservations.ServiceName), 5*time.Second))
	var gb reservations.GuestBooking
	require.NoError(t, json.Unmarshal([]byte(guestBody(p, ret, "hugo@example.com", "1990-01-01", "2010-01-01", "2040-01-01")), &gb))
	c, err := client.RegisterGuest(context.Background(), *gb.Customer)
	require.NoError(t, err)
	r = a.guestFrom("192.0.2.11", "f1ee0000-0000-4000-8000-000000000005", "Hugo@Example.com", p, ret)
	require.Equal(t, http.StatusCreated, r.status, "the retry after a crash books: %s", r)
	assert.Equal(t, c.ID, decode[reservations.Reservation](t, r).CustomerID, "as the guest registered before")
	assert.Equal(t, 1, a.guestsWithEmail("hugo@example.com"))

	// A guest who booked before and is refused now keeps their record (and first booking).
	r = a.guestFrom("192.0.2.12", vehicle1, email, p, ret)
	require.Equal(t, http.StatusConflict, r.status, r.String())
	assert.Equal(t, 1, a.guestsWithEmail(email))
	assert.Equal(t, reservations.StatusPending, a.status(res.ID))
}
