package reservations_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/reservations"
)

// TestBookingsFollowTheCarsChain: a one-way booking (returned at MUC-FLG) followed by a
// booking of the same car starting at BER-HBF stranded the later one — the car in Munich on
// its day, and nobody able to mend it. Both orders are refused now, new bookings and
// changes alike; bookings that return the car where the next one starts are not.
func TestBookingsFollowTheCarsChain(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	oneWay := `,"returnLocation":"MUC-FLG"`
	day := func(d int) time.Time { p, _ := period(d, 24); return p }
	book := func(vehicle string, from, to time.Time, extra string) response {
		return a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle, from, to, extra))
	}

	// vehicle1: a one-way booking first, then a booking at the old branch after it.
	first := book(vehicle1, day(3), day(4), oneWay)
	require.Equal(t, http.StatusCreated, first.status, first.String())
	r := book(vehicle1, day(6), day(7), "")
	require.Equal(t, http.StatusConflict, r.status, r.String())
	assert.Contains(t, r.String(), "returned at MUC-FLG")

	// vehicle2: a booking at BER-HBF first, then a one-way booking before it.
	later := book(vehicle2, day(6), day(7), "")
	require.Equal(t, http.StatusCreated, later.status, later.String())
	r = book(vehicle2, day(3), day(4), oneWay)
	require.Equal(t, http.StatusConflict, r.status, r.String())
	assert.Contains(t, r.String(), "would be without its car")
	// Returned where the next one starts, it fits.
	r = book(vehicle2, day(3), day(4), "")
	require.Equal(t, http.StatusCreated, r.status, r.String())

	// A change that moves a booking of vehicle1 after its one-way booking is refused too.
	early := book(vehicle1, day(1), day(2), "")
	require.Equal(t, http.StatusCreated, early.status, early.String())
	res := decode[reservations.Reservation](t, early)
	r = a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/change",
		`{"pickupAt":"`+day(8).Format(time.RFC3339)+`","returnAt":"`+day(9).Format(time.RFC3339)+`"}`)
	require.Equal(t, http.StatusConflict, r.status, r.String())
	assert.Equal(t, reservations.StatusPending, a.status(res.ID))
}
