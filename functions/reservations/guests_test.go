package reservations_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
)

// branchCars are five cars of the fake fleet's BER-HBF branch (every id it does not treat
// specially is a compact car there).
var branchCars = []string{vehicle1, vehicle2,
	"f1ee0000-0000-4000-8000-000000000005", "f1ee0000-0000-4000-8000-000000000006", "f1ee0000-0000-4000-8000-000000000007"}

// guestFrom books vehicle for [p, ret) as a guest with email, from client address addr (as
// the gateway passes it on); more header pairs may follow.
func (a *api) guestFrom(addr, vehicle, email string, p, ret time.Time, header ...string) response {
	a.t.Helper()
	body := strings.Replace(guestBody(p, ret, email, "1990-01-01", "2010-01-01", "2040-01-01"), vehicle1, vehicle, 1)
	return a.do("", http.MethodPost, "/api/reservations/guest", body, append([]string{platform.ClientAddressHeader, addr}, header...)...)
}

// TestGuestHoldsCannotEmptyABranch is issue 11's attack: five guest bookings with throw-away
// addresses from one client held every free car of a branch, for as long as a signed-in
// customer's hold, renewably. Now one address makes RESERVATION_GUEST_HOLDS_PER_ADDRESS (3)
// guest bookings an hour: the fourth and fifth are 429, register nobody, and the cars stay
// free for customers. A spoofed X-Forwarded-For changes nothing; another address is not
// affected. And a guest's hold is shorter than a signed-in customer's.
func TestGuestHoldsCannotEmptyABranch(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	const attacker = "203.0.113.7"
	customers := a.customerRows()
	var held []reservations.Reservation
	for i, car := range branchCars {
		r := a.guestFrom(attacker, car, fmt.Sprintf("throwaway%d@mailinator.example", i), p, ret,
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		if i < 3 {
			require.Equal(t, http.StatusCreated, r.status, "guest booking %d: %s", i, r)
			held = append(held, decode[reservations.Reservation](t, r))
			continue
		}
		require.Equal(t, http.StatusTooManyRequests, r.status, "guest booking %d: %s", i, r)
		prob := decode[platform.Problem](t, r)
		assert.Equal(t, platform.ProblemTypeBase+"too-many-requests", prob.Type)
		assert.Contains(t, prob.Detail, "at most 3 guest bookings per hour")
		assert.Equal(t, "3600", r.header.Get("Retry-After"), "when the window lets one more through")
	}
	assert.Equal(t, customers+3, a.customerRows(), "a refused guest is not registered")

	// The cars the attack did not get are there for customers.
	for _, car := range branchCars[3:] {
		r := a.do("alice", http.MethodPost, "/api/reservations", bookingBody(car, p, ret, ""))
		require.Equal(t, http.StatusCreated, r.status, r.String())
		res := decode[reservations.Reservation](t, r)
		require.NotNil(t, res.HoldExpiresAt)
		assert.WithinDuration(t, time.Now().Add(15*time.Minute), *res.HoldExpiresAt, time.Minute, "a customer's hold")
	}
	for _, res := range held {
		require.NotNil(t, res.HoldExpiresAt)
		assert.WithinDuration(t, time.Now().Add(5*time.Minute), *res.HoldExpiresAt, time.Minute, "a guest's hold is RESERVATION_GUEST_HOLD")
	}

	// Other people are not the attacker.
	q, qret := period(10, 24)
	r := a.guestFrom("198.51.100.20", vehicle1, "someone.else@example.com", q, qret)
	require.Equal(t, http.StatusCreated, r.status, r.String())

	// The window passes: an hour later the address books again.
	_, err := a.db.Pool.Exec(context.Background(),
		`UPDATE reservations.guest_holds SET created_at = created_at - interval '61 minutes' WHERE client_address = $1`, attacker)
	require.NoError(t, err)
	r = a.guestFrom(attacker, vehicle2, "later@example.com", q, qret)
	require.Equal(t, http.StatusCreated, r.status, r.String())
}

// TestGuestHoldsPerMailbox: one mailbox — any case, any +tag — has at most
// RESERVATION_GUEST_HOLDS_PER_EMAIL (2) unpaid guest holds, from whatever address; a hold
// that is paid for (or lapses) no longer counts.
func TestGuestHoldsPerMailbox(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	first := a.guestFrom("192.0.2.10", branchCars[0], "gina+1@example.com", p, ret)
	require.Equal(t, http.StatusCreated, first.status, first.String())
	r := a.guestFrom("192.0.2.11", branchCars[1], "Gina+2@Example.com", p, ret)
	require.Equal(t, http.StatusCreated, r.status, r.String())

	r = a.guestFrom("192.0.2.12", branchCars[2], "GINA@example.com", p, ret)
	require.Equal(t, http.StatusTooManyRequests, r.status, r.String())
	assert.Contains(t, decode[platform.Problem](t, r).Detail, "this email address already holds 2 unpaid guest bookings")

	a.setStatus(decode[reservations.Reservation](t, first).ID, reservations.StatusConfirmed)
	r = a.guestFrom("192.0.2.12", branchCars[2], "gina+3@example.com", p, ret)
	require.Equal(t, http.StatusCreated, r.status, r.String())
}

// TestGuestLimitUnderConcurrency: ten guest bookings of ten cars fired at once from one
// address get exactly three holds; the claim is taken under a lock, not checked and hoped.
func TestGuestLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	const n = 10
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			car := fmt.Sprintf("f1ee0000-0000-4000-8000-0000000001%02d", i)
			statuses[i] = a.guestFrom("203.0.113.99", car, fmt.Sprintf("burst%d@example.com", i), p, ret).status
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 3, http.StatusTooManyRequests: n - 3}, count)
}

// TestRefusedGuestBookingsDoNotCount: a guest booking that fails gives its place back, so a
// guest who typed a wrong date or picked a taken car can still book; IPv6 addresses count
// by their /64.
func TestRefusedGuestBookingsDoNotCount(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	young, issued := time.Now().AddDate(-20, 0, 0).Format(time.DateOnly), time.Now().AddDate(-2, 0, 0).Format(time.DateOnly)
	for i := range 5 {
		body := guestBody(p, ret, fmt.Sprintf("young%d@example.com", i), young, issued, "2040-01-01")
		r := a.do("", http.MethodPost, "/api/reservations/guest", body, platform.ClientAddressHeader, "2001:db8:1:2::1")
		require.Equal(t, http.StatusUnprocessableEntity, r.status, r.String())
	}
	for i, addr := range []string{"2001:db8:1:2::2", "2001:db8:1:2:ffff::3", "2001:db8:1:2:abcd::4"} {
		r := a.guestFrom(addr, branchCars[i], fmt.Sprintf("v6-%d@example.com", i), p, ret)
		require.Equal(t, http.StatusCreated, r.status, r.String())
	}
	r := a.guestFrom("2001:db8:1:2:1234::5", branchCars[3], "v6-3@example.com", p, ret)
	require.Equal(t, http.StatusTooManyRequests, r.status, "the same /64: %s", r)
	r = a.guestFrom("2001:db8:1:3::1", branchCars[3], "v6-4@example.com", p, ret)
	require.Equal(t, http.StatusCreated, r.status, "another /64: %s", r)
}

// TestGuestWithoutGatewayHeader: a request with no client address from the gateway counts
// against its peer's address.
func TestGuestWithoutGatewayHeader(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	for i, car := range branchCars[:4] {
		body := strings.Replace(guestBody(p, ret, fmt.Sprintf("peer%d@example.com", i), "1990-01-01", "2010-01-01", "2040-01-01"), vehicle1, car, 1)
		r := a.do("", http.MethodPost, "/api/reservations/guest", body) // httptest's peer: 192.0.2.1
		want := http.StatusCreated
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		require.Equal(t, want, r.status, "%d: %s", i, r)
	}
}

// TestGuestLimitsConfig: the limits are settings, checked at start.
func TestGuestLimitsConfig(t *testing.T) {
	t.Parallel()
	valid := reservations.Config{Hold: 15 * time.Minute, CallTimeout: time.Second, GuestHold: 5 * time.Minute,
		GuestHoldsPerEmail: 2, GuestHoldsPerAddress: 3, GuestWindow: time.Hour}
	require.NoError(t, valid.Validate())
	for name, edit := range map[string]func(*reservations.Config){
		"guest hold longer than a customer's": func(c *reservations.Config) { c.GuestHold = 20 * time.Minute },
		"guest hold under a minute":           func(c *reservations.Config) { c.GuestHold = time.Second },
		"no holds per email":                  func(c *reservations.Config) { c.GuestHoldsPerEmail = 0 },
		"no holds per address":                func(c *reservations.Config) { c.GuestHoldsPerAddress = 0 },
		"a window of a second":                func(c *reservations.Config) { c.GuestWindow = time.Second },
		"a no-show grace of a second":         func(c *reservations.Config) { c.NoShowGrace = time.Second },
		"a no-show grace of a month":          func(c *reservations.Config) { c.NoShowGrace = 30 * 24 * time.Hour },
	} {
		c := valid
		edit(&c)
		assert.Error(t, c.Validate(), name)
	}
}
