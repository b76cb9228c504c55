package reservations_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// aroundTheClock is every day from 00:00 to 24:00.
const aroundTheClock = `[{"day":"monday","opens":"00:00","closes":"24:00"},{"day":"tuesday","opens":"00:00","closes":"24:00"},
	{"day":"wednesday","opens":"00:00","closes":"24:00"},{"day":"thursday","opens":"00:00","closes":"24:00"},
	{"day":"friday","opens":"00:00","closes":"24:00"},{"day":"saturday","opens":"00:00","closes":"24:00"},
	{"day":"sunday","opens":"00:00","closes":"24:00"}]`

// openAroundTheClock opens every branch of locations-api's database db around the clock, so
// tests that book at whatever hour the clock shows are not refused by the opening hours.
func openAroundTheClock(t testing.TB, db *database.DB) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(), `UPDATE locations.locations SET opening_hours = $1::jsonb`, aroundTheClock)
	require.NoError(t, err)
}

// setBranch gives branch code a status, a time zone and opening hours (JSON), as a fleet
// manager would.
func (a *api) setBranch(code, status, zone, hours string) {
	a.t.Helper()
	_, err := a.branches.Pool.Exec(context.Background(), `INSERT INTO locations.locations (code, name, street, postal_code, city, country, time_zone, opening_hours, status)
		VALUES ($1, 'Test branch', 'Teststraße 1', '10115', 'Berlin', 'DE', $2, $3::jsonb, $4)
		ON CONFLICT (code) DO UPDATE SET time_zone = EXCLUDED.time_zone, opening_hours = EXCLUDED.opening_hours, status = EXCLUDED.status`,
		code, zone, hours, status)
	require.NoError(a.t, err)
}

// TestBookingFitsTheBranches: a booking at a closed branch or one in maintenance (pickup or
// return) is refused, and so is a pickup or return outside the branch's opening hours, read
// in the branch's own time zone: 422 naming the field, the answer saying the hours; nothing
// is written. Each case uses branches of its own, so the branch cache never answers for
// another case.
//
// The hours are 09:00–17:00 on weekdays, closed at weekends. America/New_York is UTC−5 in
// January 2027 (no daylight saving), Europe/Berlin UTC+1; 2027-01-11 is a Monday.
func TestBookingFitsTheBranches(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const weekdays = `[{"day":"monday","opens":"09:00","closes":"17:00"},{"day":"tuesday","opens":"09:00","closes":"17:00"},
		{"day":"wednesday","opens":"09:00","closes":"17:00"},{"day":"thursday","opens":"09:00","closes":"17:00"},
		{"day":"friday","opens":"09:00","closes":"17:00"}]`
	a.setNow(time.Date(2027, 1, 4, 12, 0, 0, 0, time.UTC))
	at := func(s string) string { return s }
	tests := []struct {
		name           string
		pickupBranch   string // status/zone of the pickup branch
		pickupStatus   string
		pickupZone     string
		returnStatus   string // "" : returned where picked up
		returnZone     string
		pickupAt       string
		returnAt       string
		want           int
		wantFields     []string
		wantInResponse string
	}{
		{name: "inside the hours in New York", pickupStatus: "active", pickupZone: "America/New_York",
			pickupAt: at("2027-01-11T14:00:00Z"), returnAt: at("2027-01-12T21:59:59.999Z"), want: http.StatusCreated},
		{name: "09:00 in Berlin is 03:00 in New York", pickupStatus: "active", pickupZone: "America/New_York",
			pickupAt: at("2027-01-11T09:00:00+01:00"), returnAt: at("2027-01-12T15:00:00Z"), want: http.StatusUnprocessableEntity,
			wantFields: []string{"pickupAt"}, wantInResponse: "monday 09:00–17:00"},
		{name: "one millisecond before opening", pickupStatus: "active", pickupZone: "America/New_York",
			pickupAt: at("2027-01-11T08:59:59.999-05:00"), returnAt: at("2027-01-12T15:00:00Z"), want: http.StatusUnprocessableEntity,
			wantFields: []string{"pickupAt"}},
		{name: "the same hours in Berlin are open", pickupStatus: "active", pickupZone: "Europe/Berlin",
			pickupAt: at("2027-01-11T09:00:00+01:00"), returnAt: at("2027-01-12T16:59:00+01:00"), want: http.StatusCreated},
		{name: "returned at closing time (closes is exclusive)", pickupStatus: "active", pickupZone: "Europe/Berlin",
			pickupAt: at("2027-01-11T09:00:00+01:00"), returnAt: at("2027-01-12T17:00:00+01:00"), want: http.StatusUnprocessableEntity,
			wantFields: []string{"returnAt"}, wantInResponse: "tuesday 09:00–17:00"},
		{name: "returned on a Saturday", pickupStatus: "active", pickupZone: "Europe/Berlin",
			pickupAt: at("2027-01-11T10:00:00+01:00"), returnAt: at("2027-01-16T10:00:00+01:00"), want: http.StatusUnprocessableEntity,
			wantFields: []string{"returnAt"}, wantInResponse: "saturday closed"},
		{name: "a closed branch", pickupStatus: "closed", pickupZone: "Europe/Berlin",
			pickupAt: at("2027-01-11T10:00:00+01:00"), returnAt: at("2027-01-12T10:00:00+01:00"), want: http.StatusUnprocessableEntity,
			wantFields: []string{"pickupLocation"}, wantInResponse: "is closed and takes no bookings"},
		{name: "a return branch in maintenance", pickupStatus: "active", pickupZone: "Europe/Berlin", returnStatus: "maintenance", returnZone: "Europe/Berlin",
			pickupAt: at("2027-01-11T10:00:00+01:00"), returnAt: at("2027-01-12T10:00:00+01:00"), want: http.StatusUnprocessableEntity,
			wantFields: []string{"returnLocation"}, wantInResponse: "in maintenance"},
		{name: "everything wrong at once", pickupStatus: "active", pickupZone: "Asia/Tokyo", returnStatus: "closed", returnZone: "Europe/Berlin",
			pickupAt: at("2027-01-11T10:00:00+01:00"), returnAt: at("2027-01-12T10:00:00+01:00"), want: http.StatusUnprocessableEntity,
			wantFields: []string{"pickupAt", "returnLocation"}, wantInResponse: "Asia/Tokyo"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pickup := "TZ" + string(rune('A'+i)) + "-P1"
			ret := pickup
			a.setBranch(pickup, tt.pickupStatus, tt.pickupZone, weekdays)
			extra := ""
			if tt.returnStatus != "" {
				ret = "TZ" + string(rune('A'+i)) + "-R1"
				a.setBranch(ret, tt.returnStatus, tt.returnZone, weekdays)
				extra = `,"returnLocation":"` + ret + `"`
			}
			body := `{"vehicleId":"` + vehicle1 + `","pickupLocation":"` + pickup + `","pickupAt":"` + tt.pickupAt + `","returnAt":"` + tt.returnAt +
				`","paymentMethodId":"` + paymentMethod + `"` + extra + `}`
			before := a.snapshot()
			r := a.do("carla", http.MethodPost, "/api/reservations", strings.Replace(body, `{`, `{"customerId":"`+alice+`",`, 1))
			if tt.want == http.StatusCreated {
				// The fake fleet keeps every car at BER-HBF: past the branch rules, the car's
				// branch is what refuses — proof the branches let the booking through.
				require.Equal(t, http.StatusBadRequest, r.status, r.String())
				assert.Contains(t, string(r.body), "the vehicle is at BER-HBF")
				assert.Equal(t, before, a.snapshot())
				return
			}
			require.Equal(t, tt.want, r.status, r.String())
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			p := decode[platform.Problem](t, r)
			assert.Equal(t, platform.ProblemTypeBase+"unprocessable", p.Type)
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field)
			}
			assert.ElementsMatch(t, tt.wantFields, fields)
			assert.Contains(t, string(r.body), tt.wantInResponse)
			assert.Equal(t, before, a.snapshot())
		})
	}
	t.Run("an unknown branch", func(t *testing.T) {
		before := a.snapshot()
		r := a.do("alice", http.MethodPost, "/api/reservations", strings.Replace(bookingBody(vehicle1, time.Date(2027, 1, 11, 10, 0, 0, 0, time.UTC),
			time.Date(2027, 1, 12, 10, 0, 0, 0, time.UTC), ""), "BER-HBF", "NON-EX", 1))
		require.Equal(t, http.StatusBadRequest, r.status, r.String())
		assert.Equal(t, "pickupLocation", decode[platform.Problem](t, r).Errors[0].Field)
		assert.Equal(t, before, a.snapshot())
	})
}

// TestBranchCache: a branch is read once per RESERVATION_BRANCH_TTL; a status change is seen
// once the entry is older.
func TestBranchCache(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.setBranch("TTL-X1", "active", "Europe/Berlin", aroundTheClock)
	book := func() int {
		p, ret := period(3, 24)
		body := strings.Replace(bookingBody(vehicle1, p, ret, ""), "BER-HBF", "TTL-X1", 1)
		return a.do("alice", http.MethodPost, "/api/reservations", body).status
	}
	require.Equal(t, http.StatusBadRequest, book(), "past the branch rules (the fake car is at BER-HBF)")
	a.setBranch("TTL-X1", "closed", "Europe/Berlin", aroundTheClock)
	assert.Equal(t, http.StatusBadRequest, book(), "within the TTL the branch is as read")
	reservations.ExpireBranches(a.svc)
	assert.Equal(t, http.StatusUnprocessableEntity, book(), "read again: closed")
}
