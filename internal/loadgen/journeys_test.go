package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeAPI is the public API's surface the journeys use, with the rules they must follow:
// bookings and quotes inside the branch's opening hours, a fresh Idempotency-Key on every
// POST, a token on bookings, a customer sees and cancels only their own bookings. It is a
// stand-in for the generator's unit tests; TestLoadAgainstDev (cmd/orange) runs the real one.
type fakeAPI struct {
	mu        sync.Mutex
	keys      map[string]bool
	owner     map[string]string // reservation → token
	cancelled map[string]int
	broken    []string // rules a request broke
}

func (f *fakeAPI) fail(format string, args ...any) {
	f.broken = append(f.broken, fmt.Sprintf(format, args...))
}

// open checks s against TST-ONE's hours: Monday to Friday 08:00–18:00 in Berlin.
func open(s string) bool {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return false
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	l := t.In(berlin)
	m := l.Hour()*60 + l.Minute()
	return l.Weekday() != time.Saturday && l.Weekday() != time.Sunday && m >= 8*60 && m < 18*60
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if r.Method == http.MethodPost && !strings.HasPrefix(r.URL.Path, "/realms/") {
		k := r.Header.Get("Idempotency-Key")
		if k == "" || f.keys[k] {
			f.fail("%s %s: Idempotency-Key %q missing or reused", r.Method, r.URL.Path, k)
		}
		f.keys[k] = true
	}
	var body map[string]any
	if r.Header.Get("Content-Type") == "application/json" {
		_ = json.NewDecoder(r.Body).Decode(&body)
	}
	str := func(k string) string { s, _ := body[k].(string); return s }
	id, action, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/reservations/"), "/")
	switch {
	case r.URL.Path == "/api/locations" && r.URL.Query().Get("status") == "active":
		reply(200, map[string]any{"items": []map[string]any{
			{"code": "TST-ONE", "timeZone": "Europe/Berlin", "openingHours": []map[string]string{
				{"day": "monday", "opens": "08:00", "closes": "18:00"}, {"day": "tuesday", "opens": "08:00", "closes": "18:00"},
				{"day": "wednesday", "opens": "08:00", "closes": "18:00"}, {"day": "thursday", "opens": "08:00", "closes": "18:00"},
				{"day": "friday", "opens": "08:00", "closes": "18:00"}}},
		}})
	case r.URL.Path == "/api/vehicles":
		q := r.URL.Query()
		if q.Get("location") != "TST-ONE" {
			f.fail("search at %q", q.Get("location"))
		}
		// vehicles-api holds a search's pickup to the branch's hours, as a booking's.
		if !open(q.Get("pickup")) {
			f.fail("search outside the opening hours: %s", r.URL.RawQuery)
			reply(422, nil)
			return
		}
		reply(200, map[string]any{"items": []map[string]string{{"id": "car-1", "category": "KLEIN", "locationCode": "TST-ONE"},
			{"id": "car-2", "category": "SUV", "locationCode": "TST-ONE"}}})
	case r.URL.Path == "/api/pricing/quotes":
		if !open(str("pickupAt")) || !open(str("returnAt")) {
			f.fail("quote outside the opening hours: %v", body)
		}
		reply(200, map[string]any{"grossCents": 1})
	case r.URL.Path == "/realms/orange-car-rental/protocol/openid-connect/token":
		_ = r.ParseForm()
		reply(200, map[string]string{"access_token": "tok-" + r.PostForm.Get("username")})
	case r.URL.Path == "/api/payments/methods":
		if tok == "" {
			f.fail("tokenization without a token")
		}
		reply(201, map[string]string{"id": "pm_" + tok})
	case r.URL.Path == "/api/reservations":
		if tok == "" || str("paymentMethodId") != "pm_"+tok {
			f.fail("booking by %q with %q", tok, str("paymentMethodId"))
		}
		if !open(str("pickupAt")) || !open(str("returnAt")) {
			f.fail("booking outside the opening hours: %v", body)
		}
		rid := fmt.Sprintf("r-%d", len(f.owner)+1)
		f.owner[rid] = tok
		reply(201, map[string]string{"id": rid, "status": "pending"})
	case f.owner[id] != "" && f.owner[id] != tok:
		f.fail("%s of %s by another customer", r.URL.Path, id)
		reply(404, nil)
	case r.Method == http.MethodGet && action == "" && f.owner[id] != "":
		reply(200, map[string]string{"id": id, "status": "pending"})
	case r.Method == http.MethodPost && action == "cancel" && f.owner[id] != "":
		f.cancelled[id]++
		reply(200, map[string]string{"id": id, "status": "cancelled"})
	default:
		f.fail("unexpected %s %s", r.Method, r.URL)
		reply(404, nil)
	}
}

// The journeys read the system, keep its rules and each do their requests.
func TestJourneys(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{keys: map[string]bool{}, owner: map[string]string{}, cancelled: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := Constant(40, time.Second)
	require.NoError(t, err)
	rep, err := Run(context.Background(), Config{URL: srv.URL, Profile: p, Mix: mix(t, DefaultMix, Journeys...), Users: []string{"alice", "bob"}})
	require.NoError(t, err)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Empty(t, f.broken)
	assert.Empty(t, rep.Outcomes)
	counts := map[string]uint64{}
	for _, s := range rep.Journeys {
		counts[s.Journey] = s.OK
	}
	assert.Equal(t, map[string]uint64{"search": 28, "quote": 6, "book": 4, "cancel": 2, "all": 40}, counts)
	steps := map[string]uint64{}
	for _, s := range rep.Requests {
		steps[s.Journey+" "+s.Step] += s.Count
	}
	// The cancel journeys cancel what book journeys booked, or book their own first.
	assert.Equal(t, uint64(2), steps["cancel POST /api/reservations/{id}/cancel"])
	assert.Equal(t, uint64(4), steps["book POST /api/reservations"])
	assert.Len(t, f.cancelled, 2)
	for id, n := range f.cancelled {
		assert.Equal(t, 1, n, "%s cancelled more than once", id)
	}
	owners := map[string]bool{}
	for _, tok := range f.owner {
		owners[tok] = true
	}
	assert.Equal(t, map[string]bool{"tok-alice": true, "tok-bob": true}, owners, "the users book in turn")
}

// A target whose users cannot sign in fails at the start, saying what to do.
func TestSignInRefused(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{keys: map[string]bool{}, owner: map[string]string{}, cancelled: map[string]int{}}
	mux := http.NewServeMux()
	mux.Handle("/", f)
	mux.HandleFunc("/realms/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p, err := Constant(1, time.Second)
	require.NoError(t, err)
	_, err = Run(context.Background(), Config{URL: srv.URL, Profile: p, Mix: mix(t, DefaultMix, Journeys...), Users: []string{"alice"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "signing in as alice")
	assert.Contains(t, err.Error(), "leave them out of -mix")
	// Without book and cancel nobody signs in.
	_, err = Run(context.Background(), Config{URL: srv.URL, Profile: p, Mix: mix(t, "search=1,quote=1", Journeys...), Users: []string{"alice"}})
	require.NoError(t, err)
}

// The set-up's search asks at the branch's first opening after a time, whatever the time.
func TestOpensAfter(t *testing.T) {
	t.Parallel()
	b := branch{TimeZone: "Europe/Berlin", OpeningHours: []struct {
		Day    string `json:"day"`
		Opens  string `json:"opens"`
		Closes string `json:"closes"`
	}{{"monday", "14:00", "18:00"}, {"monday", "08:00", "12:00"}, {"friday", "08:00", "18:00"}}}
	b.prepare()
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, b.loc)
		require.NoError(t, err)
		return tm
	}
	for _, tc := range []struct{ after, want string }{
		{"2027-01-04 06:00", "2027-01-04 08:00"}, // Monday before opening: its first window
		{"2027-01-04 09:07", "2027-01-04 09:15"}, // inside a window: the next quarter hour
		{"2027-01-04 11:30", "2027-01-04 14:00"}, // within the window's last hour: the next window
		{"2027-01-04 17:30", "2027-01-08 08:00"}, // Monday evening: Friday morning
		{"2027-01-09 10:00", "2027-01-11 08:00"}, // Saturday: Monday
	} {
		got := b.opensAfter(at(tc.after))
		assert.Equal(t, at(tc.want), got.In(b.loc), tc.after)
	}
}
