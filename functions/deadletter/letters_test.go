package deadletter_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/deadletter"
)

// TestListFiltersAndPages: each filter narrows the list, newest first, paged; a bad query
// is a 400 naming every bad parameter, and changes nothing.
func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for i := range 3 {
		require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, failed(customerUpdated(t, newCustomer(), "a@example.com"), 400, "x")).status, "letter %d", i)
	}
	res, err := events.New("reservations-api", events.ReservationCreated, newCustomer(), map[string]any{"version": 1})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, s.deadLetter("payments-api-reservation-created", failed(res, 500, "down")).status)
	// The oldest letter was received yesterday.
	_, err = s.db.Pool.Exec(ctx, `UPDATE deadletter.letters SET received_at = now() - interval '1 day'
WHERE id = (SELECT id FROM deadletter.letters WHERE type = $1 ORDER BY received_at LIMIT 1)`, events.CustomerUpdated)
	require.NoError(t, err)
	hourAgo := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))

	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 4},
		{"?type=" + url.QueryEscape(events.CustomerUpdated), 3},
		{"?trigger=payments-api-reservation-created", 1},
		{"?source=reservations-api", 1},
		{"?status=stored", 4},
		{"?status=replayed", 0},
		{"?from=" + hourAgo, 3},
		{"?to=" + hourAgo, 1},
		{"?type=" + url.QueryEscape(events.CustomerUpdated) + "&from=" + hourAgo, 2},
	} {
		assert.Equal(t, tc.want, s.letters(tc.query).Total, "GET %s", tc.query)
	}
	page := s.letters("?page=2&pageSize=3")
	assert.Equal(t, 4, page.Total)
	require.Len(t, page.Items, 1)
	assert.Equal(t, events.CustomerUpdated, page.Items[0].Event.Type, "newest first: the oldest is last")

	for _, q := range []string{"?colour=red", "?status=lost", "?from=yesterday", "?page=0", "?pageSize=1000",
		"?trigger=nobody", "?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "?type=a&type=b", "?page=1;pageSize=2"} {
		r := s.do(http.MethodGet, deadletter.Prefix+q, s.admin)
		assert.Equal(t, http.StatusBadRequest, r.status, "GET %s: %s", q, r.body)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
		r = s.do(http.MethodPost, deadletter.Prefix+"/replay"+q, s.admin)
		assert.Equal(t, http.StatusBadRequest, r.status, "POST replay%s: %s", q, r.body)
	}
	assert.Equal(t, http.StatusBadRequest, s.do(http.MethodPost, deadletter.Prefix+"/replay?status=discarded", s.admin).status)
	assert.Equal(t, http.StatusBadRequest, s.do(http.MethodPost, deadletter.Prefix+"/replay?limit=101", s.admin).status)
	assert.Equal(t, 4, s.letters("?status=stored").Total, "nothing changed")
	var outbox int
	require.NoError(t, s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM deadletter.outbox`).Scan(&outbox))
	assert.Zero(t, outbox, "nothing replayed")

	assert.Equal(t, http.StatusNotFound, s.do(http.MethodGet, deadletter.Prefix+"/not-an-id", s.admin).status)
	assert.Equal(t, http.StatusNotFound, s.do(http.MethodGet, deadletter.Prefix+"/"+newCustomer(), s.admin).status)
	assert.Equal(t, http.StatusNotFound, s.do(http.MethodPost, deadletter.Prefix+"/"+newCustomer()+"/replay", s.admin).status)
	assert.Equal(t, http.StatusNotFound, s.do(http.MethodPost, deadletter.Prefix+"/"+newCustomer()+"/discard", s.admin).status)
}

// TestTheAdminAPIIsForAdmins: anonymous 401; a customer, an agent, a fleet manager, a
// function, a Trigger's delivery 403.
func TestTheAdminAPIIsForAdmins(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, failed(customerUpdated(t, newCustomer(), "a@example.com"), 400, "x")).status)
	id := s.letters("").Items[0].ID
	routes := []struct{ method, path string }{
		{http.MethodGet, deadletter.Prefix}, {http.MethodGet, deadletter.Prefix + "/" + id},
		{http.MethodPost, deadletter.Prefix + "/replay"}, {http.MethodPost, deadletter.Prefix + "/" + id + "/replay"},
		{http.MethodPost, deadletter.Prefix + "/" + id + "/discard"},
	}
	for _, rt := range routes {
		assert.Equal(t, http.StatusUnauthorized, s.do(rt.method, rt.path, "").status, "%s %s anonymous", rt.method, rt.path)
		for _, who := range []string{"alice", "carla", "frank", "service:reservations-api"} {
			assert.Equal(t, http.StatusForbidden, s.do(rt.method, rt.path, s.id.Bearer(t, who)).status, "%s %s as %s", rt.method, rt.path, who)
		}
	}
	assert.Equal(t, deadletter.StatusStored, s.letters("").Items[0].Status, "nothing changed")
}

// TestDiscard: a discarded letter says who discarded it, cannot be replayed (409) and
// stays as it is when discarded again; a filtered replay leaves it out.
func TestDiscard(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	e := failed(customerUpdated(t, newCustomer(), "a@example.com"), 400, "x")
	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, e).status)
	id := s.letters("").Items[0].ID

	r := s.do(http.MethodPost, deadletter.Prefix+"/"+id+"/discard", s.admin, "Idempotency-Key", "discard-1")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var got letter
	r.json(t, &got)
	assert.Equal(t, deadletter.StatusDiscarded, got.Status)
	assert.Equal(t, "ada", got.DiscardedBy)

	again := s.do(http.MethodPost, deadletter.Prefix+"/"+id+"/discard", s.admin)
	require.Equal(t, http.StatusOK, again.status)
	assert.JSONEq(t, string(r.body), string(again.body), "discarding again changes nothing")

	r = s.do(http.MethodPost, deadletter.Prefix+"/"+id+"/replay", s.admin)
	assert.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	var report struct{ Replayed int }
	r = s.do(http.MethodPost, deadletter.Prefix+"/replay?status=replayed", s.admin)
	require.Equal(t, http.StatusOK, r.status)
	r = s.do(http.MethodPost, deadletter.Prefix+"/replay", s.admin)
	require.Equal(t, http.StatusOK, r.status)
	r.json(t, &report)
	assert.Zero(t, report.Replayed)
	// A redelivery of a discarded letter leaves it discarded.
	require.Equal(t, http.StatusOK, s.deadLetter(trigger, e).status)
	assert.Equal(t, 1, s.letters("?status=discarded").Total)
}

// TestWhatCannotBeReplayed: a letter that is not one of our events (a ping), or whose data
// is not JSON, is a 409 to replay and is left out of a filtered replay.
func TestWhatCannotBeReplayed(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ping := cloudevents.NewEvent()
	ping.SetID("0e0f7d4c-4a52-4bbd-bf5a-6f1f7f0a0a01")
	ping.SetSource("/apis/v1/namespaces/orange/pingsources/reservations-expire-holds")
	ping.SetType("dev.knative.sources.ping")
	require.NoError(t, ping.SetData(cloudevents.ApplicationJSON, map[string]string{"at": "now"}))
	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, failed(ping, 400, "x")).status)
	text := customerUpdated(t, newCustomer(), "a@example.com")
	require.NoError(t, text.SetData("text/plain", []byte("not json")))
	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, failed(text, 400, "x")).status)

	for _, l := range s.letters("").Items {
		r := s.do(http.MethodPost, deadletter.Prefix+"/"+l.ID+"/replay", s.admin)
		assert.Equal(t, http.StatusConflict, r.status, "%s: %s", l.Event.Type, r.body)
	}
	var report struct{ Replayed int }
	r := s.do(http.MethodPost, deadletter.Prefix+"/replay", s.admin)
	require.Equal(t, http.StatusOK, r.status)
	r.json(t, &report)
	assert.Zero(t, report.Replayed)
	assert.Equal(t, 2, s.letters("?status=stored").Total)
}

// TestConcurrentDeliveriesAndReplaysDoNotDouble: the same dead letter delivered by several
// at once is one row (one 202, the rest 200); two filtered replays at once replay each
// letter once between them; replays of one letter at once each count, and queue its event
// once.
func TestConcurrentDeliveriesAndReplaysDoNotDouble(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	e := failed(customerUpdated(t, newCustomer(), "a@example.com"), 400, "x")
	statuses := make(chan int, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- s.deadLetter(trigger, e).status
		}()
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for st := range statuses {
		counts[st]++
	}
	assert.Equal(t, map[int]int{http.StatusAccepted: 1, http.StatusOK: 7}, counts)
	for range 4 {
		require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, failed(customerUpdated(t, newCustomer(), "a@example.com"), 400, "x")).status)
	}

	replayed := make(chan int, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var report struct{ Replayed int }
			r := s.do(http.MethodPost, deadletter.Prefix+"/replay", s.admin)
			if r.status == http.StatusOK {
				r.json(t, &report)
			}
			replayed <- report.Replayed
		}()
	}
	wg.Wait()
	close(replayed)
	total := 0
	for n := range replayed {
		total += n
	}
	assert.Equal(t, 5, total, "every letter replayed once between the two")
	var once, outbox int
	require.NoError(t, s.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM deadletter.letters WHERE replay_count = 1`).Scan(&once))
	require.NoError(t, s.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM deadletter.outbox`).Scan(&outbox))
	assert.Equal(t, 5, once)
	assert.Equal(t, 5, outbox)

	id := s.letters("?status=replayed&pageSize=1").Items[0].ID
	codes := make(chan int, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- s.do(http.MethodPost, deadletter.Prefix+"/"+id+"/replay", s.admin).status
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		assert.Equal(t, http.StatusOK, code)
	}
	var count int
	require.NoError(t, s.db.Pool.QueryRow(context.Background(), `SELECT replay_count FROM deadletter.letters WHERE id = $1`, id).Scan(&count))
	assert.Equal(t, 5, count, "the filtered replay and four at once")
	require.NoError(t, s.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM deadletter.outbox`).Scan(&outbox))
	assert.Equal(t, 5, outbox, "still one outbox row per event")
}
