package reservations_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
)

// routeOf maps an action to its route (expire has none: the sweep does it; confirm has none
// either: only payment.authorized confirms a booking).
var routeOf = map[reservations.Action]string{
	reservations.ActionActivate: "/activate",
	reservations.ActionComplete: "/complete",
	reservations.ActionCancel:   "/cancel",
	reservations.ActionNoShow:   "/no-show",
}

// TestIllegalTransitions: every state × every action the machine forbids → 409
// problem+json, the row and the outbox unchanged. (A repeated cancel is the one exception:
// 200, unchanged.)
func TestIllegalTransitions(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(0, 48) // pickup today, so time rules never stand in the way
	a.setNow(p.Add(time.Hour))
	res := a.book(vehicle1, p.Add(time.Hour), ret)
	for _, s := range reservations.Statuses {
		for _, action := range reservations.Actions {
			path, ok := routeOf[action]
			if !ok || reservations.Allowed(action, s) {
				continue
			}
			t.Run(string(s)+"/"+string(action), func(t *testing.T) {
				a.setStatus(res.ID, s)
				before := a.snapshot()
				body := ""
				switch action {
				case reservations.ActionCancel:
					body = `{"reason":"test"}`
				case reservations.ActionActivate, reservations.ActionComplete:
					body = `{"odometerKm":1000,"fuelEighths":8}`
				}
				r := a.do("ada", http.MethodPost, "/api/reservations/"+res.ID+path, body)
				if action == reservations.ActionCancel && s == reservations.StatusCancelled {
					assert.Equal(t, http.StatusOK, r.status, r.String())
				} else {
					require.Equal(t, http.StatusConflict, r.status, r.String())
					assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
					assert.Equal(t, platform.ProblemTypeBase+"conflict", decode[platform.Problem](t, r).Type)
				}
				assert.Equal(t, s, a.status(res.ID))
				assert.Equal(t, before, a.snapshot())
			})
		}
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(2, 48)
	res := a.book(vehicle1, p, ret)
	id := res.ID
	post := func(user, action, body string) response {
		return a.do(user, http.MethodPost, "/api/reservations/"+id+action, body)
	}
	// Customers may not activate, complete or mark no-shows; nobody confirms by hand (the
	// route is gone: only payment.authorized confirms).
	for _, action := range []string{"/activate", "/complete", "/no-show"} {
		assert.Equal(t, 403, post("alice", action, "").status, action)
	}
	assert.Equal(t, 404, post("carla", "/confirm", "").status)
	assert.Equal(t, 404, post("ada", "/confirm", "").status)
	require.Equal(t, 202, a.event("lifecycle-auth", events.PaymentAuthorized, payment(id, "authorized")).status)
	// Not before the pickup day (Europe/Berlin).
	a.setNow(p.Add(-30 * time.Hour))
	handover := `{"odometerKm":12000,"fuelEighths":8}`
	r := post("carla", "/activate", handover)
	assert.Equal(t, 409, r.status, r.String())
	// A no-show only after the pickup time.
	assert.Equal(t, 409, post("carla", "/no-show", "").status)
	// At the pickup time: period's pickup is on the hour, and from 23:00 UTC in winter that
	// hour is midnight in Berlin, so a minute earlier was the day before (this failed then).
	a.setNow(p)
	r = post("carla", "/activate", handover)
	require.Equal(t, 200, r.status, r.String())
	// Returned 3 h late: beyond the hour's grace, one started day at the daily gross rate.
	a.setNow(ret.Add(3 * time.Hour))
	r = post("carla", "/complete", `{"odometerKm":12480,"fuelEighths":8}`)
	require.Equal(t, 200, r.status, r.String())
	done := decode[reservations.Reservation](t, r)
	assert.Equal(t, reservations.StatusCompleted, done.Status)
	assert.Equal(t, dailyGross, done.LateFeeCents)
	assert.Equal(t, 4, done.Version)
	assert.Equal(t, []string{"created " + id, "confirmed " + id, "activated " + id, "completed " + id}, a.recorded())
	var late string
	require.NoError(t, a.db.Pool.QueryRow(context.Background(),
		`SELECT data->>'lateFeeCents' FROM reservations.outbox WHERE type LIKE '%completed%'`).Scan(&late))
	assert.Equal(t, "4759", late)
}

func TestLateFee(t *testing.T) {
	ret := time.Date(2027, 5, 4, 10, 0, 0, 0, time.UTC)
	for late, want := range map[time.Duration]int64{
		-time.Hour: 0, 0: 0, time.Hour: 0, time.Hour + time.Minute: 100, 24 * time.Hour: 100,
		// The grace hour counts once, as in pricing's day rule: 24 h 30 min late is one day.
		24*time.Hour + 30*time.Minute: 100, 25 * time.Hour: 100, 25*time.Hour + time.Second: 200,
		49 * time.Hour: 200, 49*time.Hour + time.Second: 300,
	} {
		assert.Equal(t, want, reservations.LateFee(ret, ret.Add(late), 100), late.String())
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(0, 48)
	// 30 h before pickup, confirmed: 50 % of the total.
	pickup := p.Add(30 * time.Hour)
	res := a.book(vehicle1, pickup, ret.Add(30*time.Hour))
	a.setStatus(res.ID, reservations.StatusConfirmed)
	// Another customer cannot even see it.
	assert.Equal(t, 404, a.do("bob", http.MethodPost, "/api/reservations/"+res.ID+"/cancel", `{"reason":"x"}`).status)
	assert.Equal(t, 400, a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/cancel", `{"reason":""}`).status)
	// The customer's mail quotes the reason: no link (a phishing relay), and not over 500
	// characters — counted as characters, not bytes.
	for _, bad := range []string{`{"reason":"card blocked, confirm at https://evil.example/pay"}`, `{"reason":"see WWW.evil.example"}`, `{"reason":"confirm your card at evil-orange-rental.com/confirm today"}`,
		`{"reason":"` + strings.Repeat("x", 501) + `"}`} {
		assert.Equal(t, 400, a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/cancel", bad).status, bad)
	}
	assert.Equal(t, reservations.StatusConfirmed, a.status(res.ID))
	// If-Match: a malformed one is 400, another version 412, and nothing changes.
	cur := a.do("alice", http.MethodGet, "/api/reservations/"+res.ID, "")
	etag := cur.header.Get("ETag")
	require.NotEmpty(t, etag)
	assert.Equal(t, 400, a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/cancel", `{"reason":"x"}`, "If-Match", "garbage").status)
	assert.Equal(t, 412, a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/cancel", `{"reason":"x"}`, "If-Match", `"99"`).status)
	assert.Equal(t, reservations.StatusConfirmed, a.status(res.ID))
	r := a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/cancel", `{"reason":"  plans\n\nchanged "}`, "If-Match", etag)
	require.Equal(t, 200, r.status, r.String())
	c := decode[reservations.Reservation](t, r)
	assert.Equal(t, reservations.StatusCancelled, c.Status)
	assert.Equal(t, quoteGross/2, c.FeeCents)
	assert.Equal(t, "plans changed", c.CancelReason)
	events := a.recorded()
	// Repeating is a no-op 200: same state, same version, no new event — with the If-Match
	// of the first request too (its answer may have been lost).
	r = a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/cancel", `{"reason":"again"}`, "If-Match", etag)
	require.Equal(t, 200, r.status)
	again := decode[reservations.Reservation](t, r)
	assert.Equal(t, c.Version, again.Version)
	assert.Equal(t, "plans changed", again.CancelReason)
	assert.Equal(t, events, a.recorded())

	// A pending hold (nothing authorized) cancels free.
	hold := a.book(vehicle2, pickup, ret.Add(30*time.Hour))
	r = a.do("carla", http.MethodPost, "/api/reservations/"+hold.ID+"/cancel", `{"reason":"customer called"}`)
	require.Equal(t, 200, r.status)
	assert.Zero(t, decode[reservations.Reservation](t, r).FeeCents)
}

// TestIdempotentTransition: a retried transition with its key replays; without a key, the
// repetition is refused by the state machine.
func TestIdempotentTransition(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	res := a.book(vehicle1, p, ret)
	a.setStatus(res.ID, reservations.StatusConfirmed)
	a.setNow(p.Add(time.Hour))
	first := a.do("carla", http.MethodPost, "/api/reservations/"+res.ID+"/no-show", "", "Idempotency-Key", "c1")
	require.Equal(t, 200, first.status, first.String())
	again := a.do("carla", http.MethodPost, "/api/reservations/"+res.ID+"/no-show", "", "Idempotency-Key", "c1")
	assert.Equal(t, 200, again.status)
	assert.Equal(t, string(first.body), string(again.body))
	assert.Equal(t, 409, a.do("carla", http.MethodPost, "/api/reservations/"+res.ID+"/no-show", "").status)
	assert.Len(t, a.recorded(), 2)
}
