package reservations_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
)

// TestSearchQueryIsStrict: GET /api/reservations reads its query string with
// platform.ParseQuery — an unknown, repeated or malformed parameter (a ';' separator
// included: issue 13 found `?page=1;pageSize=9999999` answered 200 with the ';' part
// dropped) is a 400 problem naming it, with every other bad parameter.
func TestSearchQueryIsStrict(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tests := []struct {
		query  string
		fields []string
	}{
		{"?page=1;pageSize=9999999", []string{"page"}},
		{"?status=pending;customer=x", []string{"status"}},
		{"?colour=red", []string{"colour"}},
		{"?page=1&page=2", []string{"page"}},
		{"?pageSize=1000", []string{"pageSize"}},
		{"?page=0", []string{"page"}},
		{"?from=%zz", []string{"from"}},
		{"?status=lost&sort=price&customer=x&vehicle=y&category=BUS&location=Berlin&from=yesterday",
			[]string{"status", "customer", "vehicle", "category", "location", "from", "sort"}},
		{"?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", []string{"to"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := a.do("carla", http.MethodGet, "/api/reservations"+tt.query, "")
			require.Equal(t, http.StatusBadRequest, r.status, r.String())
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			var got []string
			for _, f := range decode[platform.Problem](t, r).Errors {
				got = append(got, f.Field)
			}
			assert.ElementsMatch(t, tt.fields, got)
		})
	}
	// Fractional seconds are times like any other.
	r := a.do("carla", http.MethodGet, "/api/reservations?from=2030-01-01T00:00:00.5Z&to=2030-01-01T00:00:00.501%2B00:00", "")
	assert.Equal(t, http.StatusOK, r.status, r.String())
}

// TestCustomersListTheirOwn: a customer lists and filters their own reservations (status,
// from/to, paginated) with the search staff use for everyone's; another customer's
// bookings never show, even when asked for by id.
func TestCustomersListTheirOwn(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	first := a.book(vehicle1, p, ret)
	second := a.book(vehicle2, p.Add(72*time.Hour), ret.Add(72*time.Hour))
	a.setStatus(second.ID, reservations.StatusConfirmed)
	r := a.do("carla", http.MethodPost, "/api/reservations", bookingBody("f1ee0000-0000-4000-8000-000000000005", p, ret, `,"customerId":"`+bob+`"`))
	require.Equal(t, http.StatusCreated, r.status, r.String())
	bobs := decode[reservations.Reservation](t, r)

	type page struct {
		Items []reservations.Reservation
		Total int
	}
	list := func(user, q string) ([]string, int) {
		r := a.do(user, http.MethodGet, "/api/reservations"+q, "")
		require.Equal(t, http.StatusOK, r.status, r.String())
		pg := decode[page](t, r)
		out := []string{}
		for _, it := range pg.Items {
			out = append(out, it.ID)
		}
		return out, pg.Total
	}
	tests := []struct {
		user, query string
		want        []string
		total       int
	}{
		{"alice", "", []string{first.ID, second.ID}, 2},
		{"alice", "?status=confirmed", []string{second.ID}, 1},
		{"alice", "?status=pending&sort=-pickupAt", []string{first.ID}, 1},
		{"alice", "?from=" + url.QueryEscape(ret.Add(time.Hour).Format(time.RFC3339)), []string{second.ID}, 1},
		{"alice", "?to=" + url.QueryEscape(p.Add(time.Hour).Format(time.RFC3339Nano)), []string{first.ID}, 1},
		{"alice", "?pageSize=1&page=2", []string{second.ID}, 2},
		{"alice", "?customer=" + bob, []string{}, 0},
		{"bob", "", []string{bobs.ID}, 1},
		{"carla", "?customer=" + bob, []string{bobs.ID}, 1},
		{"carla", "?status=confirmed", []string{second.ID}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.user+tt.query, func(t *testing.T) {
			got, total := list(tt.user, tt.query)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.total, total)
		})
	}
	// A customer's list is read as strictly as staff's search.
	r = a.do("alice", http.MethodGet, "/api/reservations?page=1;pageSize=9999999", "")
	assert.Equal(t, http.StatusBadRequest, r.status, r.String())
}
