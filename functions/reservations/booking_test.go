package reservations_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

func TestCreateHoldsTheVehicleAndRecordsTheEvent(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	pickup, ret := period(3, 72)
	r := a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle1, pickup, ret, ""))
	require.Equal(t, http.StatusCreated, r.status, r.String())
	res := decode[reservations.Reservation](t, r)
	assert.Equal(t, alice, res.CustomerID)
	assert.Equal(t, reservations.StatusPending, res.Status)
	assert.Equal(t, quoteGross, res.TotalGrossCents)
	assert.Equal(t, "EUR", res.Currency)
	require.NotNil(t, res.HoldExpiresAt)
	assert.WithinDuration(t, time.Now().Add(15*time.Minute), *res.HoldExpiresAt, time.Minute)
	assert.Equal(t, "/api/reservations/"+res.ID, r.header.Get("Location"))
	assert.Equal(t, `"1"`, r.header.Get("ETag"))
	assert.NotContains(t, string(r.body), paymentMethod, "the payment method is not shown")

	assert.Equal(t, []string{"created " + res.ID}, a.recorded())
	var method, status string
	require.NoError(t, a.db.Pool.QueryRow(context.Background(),
		`SELECT data->>'paymentMethodId', data->>'status' FROM reservations.outbox`).Scan(&method, &status))
	assert.Equal(t, paymentMethod, method, "reservation.created names the payment method for payments")

	// Owner, agent and admin see it; another customer gets 404; functions calling as
	// themselves are not readers.
	for user, want := range map[string]int{"alice": 200, "carla": 200, "ada": 200, "bob": 404, "frank": 403, "service:payments-api": 403, "": 401} {
		got := a.do(user, http.MethodGet, "/api/reservations/"+res.ID, "")
		assert.Equal(t, want, got.status, "%s: %s", user, got)
	}
	// Lookup by id + email (the customer's email copied at booking); a wrong email is 404.
	assert.Equal(t, 200, a.do("", http.MethodGet, "/api/reservations/lookup?id="+res.ID+"&email="+strings.ToUpper(aliceEmail), "").status)
	assert.Equal(t, 404, a.do("", http.MethodGet, "/api/reservations/lookup?id="+res.ID+"&email=mallory@example.com", "").status)
	assert.Equal(t, 400, a.do("", http.MethodGet, "/api/reservations/lookup?id="+res.ID, "").status)
	// Strict: a ';' pair or an unknown parameter is refused by name, never ignored.
	for _, q := range []string{"id=" + res.ID + ";email=" + aliceEmail, "id=" + res.ID + "&email=" + aliceEmail + "&expand=payments"} {
		got := a.do("", http.MethodGet, "/api/reservations/lookup?"+q, "")
		assert.Equal(t, 400, got.status, "%s: %s", q, got)
	}
}

func TestAgentBooksForACustomer(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	pickup, ret := period(3, 48)
	r := a.do("carla", http.MethodPost, "/api/reservations", bookingBody(vehicle1, pickup, ret, `,"customerId":"`+bob+`"`))
	require.Equal(t, http.StatusCreated, r.status, r.String())
	assert.Equal(t, bob, decode[reservations.Reservation](t, r).CustomerID)
	// An agent must say for whom.
	r = a.do("carla", http.MethodPost, "/api/reservations", bookingBody(vehicle2, pickup, ret, ""))
	assert.Equal(t, http.StatusBadRequest, r.status, r.String())
}

// TestNoDoubleBookingUnderConcurrency: 200 concurrent bookings of one vehicle for overlapping
// periods → exactly one hold, 199 conflicts; PostgreSQL's exclusion constraint decides.
func TestNoDoubleBookingUnderConcurrency(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	base, _ := period(5, 0)
	const n = 200
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Every period overlaps every other: they all contain base+24h..base+25h.
			p := base.Add(time.Duration(i%20) * time.Hour)
			statuses[i] = a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle1, p, p.Add(48*time.Hour), "")).status
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	assert.Equal(t, map[int]int{201: 1, 409: n - 1}, count)
	var rows, events int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM reservations.reservations`).Scan(&rows))
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM reservations.outbox`).Scan(&events))
	assert.Equal(t, 1, rows)
	assert.Equal(t, 1, events, "a refused booking records no event")
}

func TestTouchingPeriodsBothSucceed(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, mid := period(3, 48)
	a.book(vehicle1, p, mid)
	a.book(vehicle1, mid, mid.Add(24*time.Hour)) // starts the moment the first ends: '[)'
	r := a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle1, mid.Add(-time.Minute), mid.Add(time.Hour), ""))
	assert.Equal(t, http.StatusConflict, r.status, r.String())
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	// Another vehicle, same period: fine.
	a.book(vehicle2, p, mid)
}

func TestFinalStatesFreeTheVehicle(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	for _, s := range []reservations.Status{reservations.StatusCancelled, reservations.StatusExpired, reservations.StatusNoShow, reservations.StatusCompleted} {
		res := a.book(vehicle1, p, ret)
		a.setStatus(res.ID, s)
	}
	a.book(vehicle1, p, ret)
}

// TestRawOverlappingInsertFails bypasses Go entirely: the database refuses with 23P01.
func TestRawOverlappingInsertFails(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ctx := context.Background()
	insert := `INSERT INTO reservations.reservations (customer_id, vehicle_id, category, pickup_location, return_location,
		pickup_at, return_at, status, hold_expires_at, total_gross_cents)
		VALUES ($1, $2, 'KOMPAKT', 'BER-HBF', 'BER-HBF', $3, $4, $5, now() + interval '15 minutes', 100)`
	_, err := a.db.Pool.Exec(ctx, insert, alice, vehicle1, "2030-01-01T10:00:00Z", "2030-01-04T10:00:00Z", "confirmed")
	require.NoError(t, err)
	_, err = a.db.Pool.Exec(ctx, insert, bob, vehicle1, "2030-01-03T10:00:00Z", "2030-01-05T10:00:00Z", "pending")
	require.Error(t, err)
	assert.True(t, database.IsCode(err, database.ExclusionViolation), "want SQLSTATE 23P01, got %v", err)
	assert.True(t, database.IsCode(err, "23P01"))
	// Touching is fine, and a cancelled row does not block.
	_, err = a.db.Pool.Exec(ctx, insert, bob, vehicle1, "2030-01-04T10:00:00Z", "2030-01-05T10:00:00Z", "pending")
	require.NoError(t, err)
	_, err = a.db.Pool.Exec(ctx, insert, bob, vehicle1, "2030-01-02T10:00:00Z", "2030-01-03T10:00:00Z", "cancelled")
	require.NoError(t, err)
	// More than 90 days is refused by a CHECK too.
	_, err = a.db.Pool.Exec(ctx, insert, bob, vehicle2, "2030-01-01T10:00:00Z", "2030-04-02T10:00:00Z", "pending")
	assert.True(t, database.IsCode(err, database.CheckViolation), "got %v", err)
}

// TestBadInput: every refused booking answers 4xx problem+json and writes nothing, outbox
// included.
func TestBadInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 72)
	ok := func(mod func(string) string) string { return mod(bookingBody(vehicle1, p, ret, "")) }
	replace := func(old, new string) func(string) string {
		return func(s string) string { return strings.Replace(s, old, new, 1) }
	}
	past := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Hour)
	tests := []struct {
		name, user, body string
		want             int
	}{
		{"not json", "alice", `{"vehicleId":`, 400},
		{"unknown field", "alice", ok(replace(`"category"`, `"colour":"red","category"`)), 400},
		{"bad vehicle", "alice", ok(replace(vehicle1, "car-1")), 400},
		{"bad category", "alice", ok(replace("KOMPAKT", "SPACESHIP")), 400},
		{"bad location", "alice", ok(replace("BER-HBF", "Berlin")), 400},
		{"bad time", "alice", ok(replace(p.Format(time.RFC3339), "tomorrow")), 400},
		{"an offset of 24 hours", "alice", ok(replace(p.Format(time.RFC3339), p.Add(24*time.Hour).Format("2006-01-02T15:04:05")+"+24:00")), 400},
		{"return before pickup", "alice", bookingBody(vehicle1, ret, p, ""), 400},
		{"empty period", "alice", bookingBody(vehicle1, p, p, ""), 400},
		{"over 90 days", "alice", bookingBody(vehicle1, p, p.Add(91*24*time.Hour), ""), 400},
		{"in the past", "alice", bookingBody(vehicle1, past, past.Add(24*time.Hour), ""), 400},
		{"no payment method", "alice", ok(replace(`"`+paymentMethod+`"`, `""`)), 400},
		{"a card number for a payment method", "alice", ok(replace(paymentMethod, "4242424242424242")), 400},
		{"a provider token for a payment method", "alice", ok(replace(paymentMethod, "tok_success")), 400},
		{"another customer", "alice", bookingBody(vehicle1, p, ret, `,"customerId":"`+bob+`"`), 400},
		{"unknown customer", "carla", bookingBody(vehicle1, p, ret, `,"customerId":"`+nobody+`"`), 400},
		{"unknown vehicle", "alice", ok(replace(vehicle1, unknownVehicle)), 400},
		{"category of another vehicle", "alice", ok(replace("KOMPAKT", "LUXUS")), 400},
		{"vehicle elsewhere", "alice", ok(replace(vehicle1, vehicleMunich)), 400},
		{"vehicle in maintenance", "alice", ok(replace(vehicle1, vehicleMaintenance)), 409},
		{"ineligible", "carla", bookingBody(vehicle1, p, ret, `,"customerId":"`+ineligible+`"`), 422},
		{"cannot be priced", "alice", bookingBody(vehicle1, p, ret, `,"insurance":"NONE"`), 422},
		{"anonymous", "", ok(replace("", "")), 401},
		{"fleet manager", "frank", ok(replace("", "")), 403},
	}
	before := a.snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(tt.user, http.MethodPost, "/api/reservations", tt.body)
			require.Equal(t, tt.want, r.status, r.String())
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
		})
	}
	assert.Equal(t, before, a.snapshot())
	// Search rejects what it does not know.
	for _, q := range []string{"?status=lost", "?colour=red", "?pageSize=1000", "?from=yesterday", "?sort=price", "?customer=x"} {
		r := a.do("carla", http.MethodGet, "/api/reservations"+q, "")
		assert.Equal(t, 400, r.status, q)
	}
}

// TestIdempotentCreate: 50 concurrent identical POSTs with one key → one reservation; every
// other answer is the replay of the first or a 409 while it runs. The same key with another
// body is 422.
func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(4, 48)
	body := bookingBody(vehicle1, p, ret, "")
	const n = 50
	results := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = a.do("alice", http.MethodPost, "/api/reservations", body, "Idempotency-Key", "book-42")
		}()
	}
	close(start)
	wg.Wait()
	var created []byte
	count := map[int]int{}
	for _, r := range results {
		count[r.status]++
		if r.status == http.StatusCreated {
			if created == nil {
				created = r.body
			}
			assert.Equal(t, string(created), string(r.body), "a replay is byte for byte")
		} else {
			assert.Equal(t, http.StatusConflict, r.status, r.String())
		}
	}
	assert.GreaterOrEqual(t, count[201], 1)
	var rows int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM reservations.reservations`).Scan(&rows))
	assert.Equal(t, 1, rows)
	assert.Len(t, a.recorded(), 1)

	replay := a.do("alice", http.MethodPost, "/api/reservations", body, "Idempotency-Key", "book-42")
	assert.Equal(t, 201, replay.status)
	assert.Equal(t, "true", replay.header.Get("Idempotent-Replayed"))
	assert.Equal(t, string(created), string(replay.body))

	other := a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle2, p, ret, ""), "Idempotency-Key", "book-42")
	assert.Equal(t, http.StatusUnprocessableEntity, other.status, other.String())
	assert.Equal(t, 1, rows)
}

func TestSearch(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	first := a.book(vehicle1, p, ret)
	second := a.book(vehicle2, p.Add(24*time.Hour), ret.Add(24*time.Hour))
	a.setStatus(second.ID, reservations.StatusConfirmed)
	type page struct {
		Items []reservations.Reservation
		Total int
	}
	ids := func(q string) []string {
		r := a.do("carla", http.MethodGet, "/api/reservations"+q, "")
		require.Equal(t, 200, r.status, r.String())
		pg := decode[page](t, r)
		var out []string
		for _, it := range pg.Items {
			out = append(out, it.ID)
		}
		return out
	}
	assert.Equal(t, []string{first.ID, second.ID}, ids(""))
	assert.Equal(t, []string{second.ID, first.ID}, ids("?sort=-pickupAt"))
	assert.Equal(t, []string{second.ID}, ids("?status=confirmed"))
	assert.Equal(t, []string{first.ID}, ids("?vehicle="+vehicle1))
	assert.Equal(t, []string{first.ID, second.ID}, ids("?customer="+alice+"&category=kompakt&location=BER-HBF"))
	assert.Equal(t, []string{first.ID}, ids("?to="+p.Add(time.Hour).Format(time.RFC3339)))
	assert.Equal(t, []string{second.ID}, ids("?pageSize=1&page=2"))
	assert.Equal(t, 403, a.do("frank", http.MethodGet, "/api/reservations", "").status)
	assert.Equal(t, 401, a.do("", http.MethodGet, "/api/reservations", "").status)
	_ = platform.Public
}

// TestRandomizedRunLeavesNoOverlap books random periods of a few vehicles from many
// goroutines, cancels some, and then asks PostgreSQL itself, by a self-join, for two blocking
// bookings of one vehicle that overlap: there must be none.
func TestRandomizedRunLeavesNoOverlap(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	vehicles := []string{vehicle1, vehicle2, "f1ee0000-0000-4000-8000-000000000005", "f1ee0000-0000-4000-8000-000000000006"}
	base, _ := period(2, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	count := map[int]int{}
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				seed := g*31 + i*17
				v := vehicles[seed%len(vehicles)]
				p := base.Add(time.Duration(seed%97) * time.Hour)
				r := a.do("alice", http.MethodPost, "/api/reservations", bookingBody(v, p, p.Add(time.Duration(1+seed%40)*time.Hour), ""))
				if r.status == http.StatusCreated && seed%5 == 0 {
					res := decode[reservations.Reservation](t, r)
					a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/cancel", `{"reason":"random"}`)
				}
				mu.Lock()
				count[r.status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 16*15, count[201]+count[409], "only created or conflict: %v", count)
	assert.Positive(t, count[201])
	var overlaps int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM reservations.reservations x
		JOIN reservations.reservations y ON x.vehicle_id = y.vehicle_id AND x.id < y.id AND x.period && y.period
		WHERE x.status IN ('pending', 'confirmed', 'active') AND y.status IN ('pending', 'confirmed', 'active')`).Scan(&overlaps))
	assert.Zero(t, overlaps)
}

// TestLapsedHoldFreesTheCarAtOnce: a hold past its expiry that the sweep has not reached yet
// does not keep the car from the next booking: it is expired then (with its event) and the
// booking made; a hold still running does keep it.
func TestLapsedHoldFreesTheCarAtOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(5, 48)
	lapsed := a.book(vehicle1, p, ret)
	r := a.do("bob", http.MethodPost, "/api/reservations", bookingBody(vehicle1, p, ret, ""))
	require.Equal(t, http.StatusConflict, r.status, "the hold runs: %s", r)
	_, err := a.db.Pool.Exec(context.Background(), `UPDATE reservations.reservations SET hold_expires_at = now() - interval '1 second' WHERE id = $1`, lapsed.ID)
	require.NoError(t, err)
	r = a.do("bob", http.MethodPost, "/api/reservations", bookingBody(vehicle1, p, ret, ""))
	require.Equal(t, http.StatusCreated, r.status, r.String())
	assert.Equal(t, reservations.StatusExpired, a.status(lapsed.ID))
	assert.Contains(t, a.recorded(), "expired "+lapsed.ID)
}
