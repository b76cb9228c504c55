package events_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform/database"
)

func relay(db *database.DB, p events.Publisher) *events.Relay {
	return &events.Relay{DB: db, Schema: producer, Publisher: p, Logger: quiet()}
}

// versionsBySubject reads the payload versions of es, per aggregate, in publishing order.
func versionsBySubject(t *testing.T, es []cloudevents.Event) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for _, e := range es {
		v, err := events.DecodeData[events.Vehicle](e)
		require.NoError(t, err)
		out[e.Subject()] = append(out[e.Subject()], v.Version)
	}
	return out
}

func upTo(n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

func pending(t *testing.T, db *database.DB) int {
	t.Helper()
	return count(t, db, `SELECT count(*) FROM evtest.outbox WHERE published_at IS NULL`)
}

// expireBackoff makes every waiting retry due: the passing of time, without waiting.
func expireBackoff(t *testing.T, db *database.DB) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(), `UPDATE evtest.outbox SET next_attempt_at = now() - interval '1 second' WHERE next_attempt_at IS NOT NULL`)
	require.NoError(t, err)
}

func TestDrainPublishesInOrderPerAggregateAndMarksAfterAcceptance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	const aggregates, perAggregate = 12, 8
	// Interleaved: v1 of every aggregate, then v2 of every aggregate, …
	var recorded []cloudevents.Event
	for v := int64(1); v <= perAggregate; v++ {
		for a := range aggregates {
			recorded = append(recorded, change(t, db, fmt.Sprintf("v-%02d", a), v))
		}
	}

	var early []string
	var mu sync.Mutex
	pub := &recorder{decide: func(ctx context.Context, e cloudevents.Event, _ int) error {
		// Still unmarked while the broker holds it.
		if count(t, db, `SELECT count(*) FROM evtest.outbox WHERE id = $1 AND published_at IS NULL`, e.ID()) != 1 {
			mu.Lock()
			early = append(early, e.ID())
			mu.Unlock()
		}
		return nil
	}}
	r := relay(db, pub)
	r.Batch = 1000
	n, err := r.Drain(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(recorded), n)

	assert.Empty(t, early, "marked published before the broker accepted")
	assert.ElementsMatch(t, ids(recorded), ids(pub.accepted()), "every event once")
	for subject, versions := range versionsBySubject(t, pub.accepted()) {
		assert.Equalf(t, upTo(perAggregate), versions, "order of %s", subject)
	}
	assert.Zero(t, pending(t, db))

	// Published events are not published again.
	n, err = r.Drain(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Len(t, pub.tried(), len(recorded))

	// The published events carry what was recorded, attribute for attribute.
	byID := map[string]cloudevents.Event{}
	for _, e := range pub.accepted() {
		byID[e.ID()] = e
	}
	for _, want := range recorded {
		got := byID[want.ID()]
		assert.Equal(t, want.Type(), got.Type())
		assert.Equal(t, want.Source(), got.Source())
		assert.Equal(t, want.Subject(), got.Subject())
		assert.Equal(t, want.Subject(), got.Extensions()["partitionkey"])
		assert.WithinDuration(t, want.Time(), got.Time(), time.Microsecond)
		assert.JSONEq(t, string(want.Data()), string(got.Data()))
		require.NoError(t, got.Validate())
	}
}

func TestDrainSmallBatchesKeepOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	for v := int64(1); v <= 10; v++ {
		change(t, db, "a", v)
		change(t, db, "b", v)
	}
	pub := &recorder{}
	r := relay(db, pub)
	r.Batch = 3
	for pass := 0; pending(t, db) > 0; pass++ {
		require.Less(t, pass, 20, "draining does not progress")
		n, err := r.Drain(ctx)
		require.NoError(t, err)
		assert.LessOrEqual(t, n, 3)
	}
	assert.Equal(t, map[string][]int64{"a": upTo(10), "b": upTo(10)}, versionsBySubject(t, pub.accepted()))
}

type outboxState struct {
	published bool
	attempts  int
	lastError *string
	retryIn   *time.Duration
}

func stateOf(t *testing.T, db *database.DB, id string) outboxState {
	t.Helper()
	var s outboxState
	var retryMs *float64
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT published_at IS NOT NULL, attempts, last_error,
       extract(epoch FROM next_attempt_at - now()) * 1000
FROM evtest.outbox WHERE id = $1`, id).Scan(&s.published, &s.attempts, &s.lastError, &retryMs))
	if retryMs != nil {
		d := time.Duration(*retryMs * float64(time.Millisecond))
		s.retryIn = &d
	}
	return s
}

// TestRefusedEventHoldsBackItsAggregateOnly: a broker refusal leaves the event unmarked with
// its attempt, error and next try recorded; the same aggregate's later events wait behind it,
// other aggregates go on; after the backoff the first goes out before the second.
func TestRefusedEventHoldsBackItsAggregateOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	a1 := change(t, db, "a", 1)
	b1 := change(t, db, "b", 1)
	a2 := change(t, db, "a", 2)
	b2 := change(t, db, "b", 2)

	refusals := 3
	pub := &recorder{decide: func(_ context.Context, e cloudevents.Event, attempt int) error {
		if e.ID() == a1.ID() && attempt <= refusals {
			return fmt.Errorf("broker answered 503 (attempt %d)", attempt)
		}
		return nil
	}}
	r := relay(db, pub)
	r.Backoff, r.MaxBackoff = time.Hour, 3*time.Hour

	// Pass 1: a1 refused, a2 held back, b goes out.
	_, err := r.Drain(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{b1.ID(), b2.ID()}, ids(pub.accepted()))
	assert.NotContains(t, pub.tried(), a2.ID(), "a2 must not overtake a1")
	s := stateOf(t, db, a1.ID())
	assert.False(t, s.published)
	assert.Equal(t, 1, s.attempts)
	require.NotNil(t, s.lastError)
	assert.Contains(t, *s.lastError, "503")
	require.NotNil(t, s.retryIn)
	assert.InDelta(t, time.Hour.Seconds(), s.retryIn.Seconds(), 60, "first retry after Backoff")
	assert.Equal(t, outboxState{}, stateOf(t, db, a2.ID()), "a2 untouched")

	// Pass 2, before the backoff ends: nothing is due, a2 is still held back.
	triedBefore := len(pub.tried())
	n, err := r.Drain(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Len(t, pub.tried(), triedBefore)

	// Refused again: the delay doubles, up to MaxBackoff.
	for _, want := range []time.Duration{2 * time.Hour, 3 * time.Hour} {
		expireBackoff(t, db)
		_, err := r.Drain(ctx)
		require.NoError(t, err)
		s := stateOf(t, db, a1.ID())
		require.NotNil(t, s.retryIn)
		assert.InDeltaf(t, want.Seconds(), s.retryIn.Seconds(), 60, "retry delay after attempt %d", s.attempts)
		assert.NotContains(t, pub.tried(), a2.ID())
	}
	assert.Equal(t, refusals, stateOf(t, db, a1.ID()).attempts)

	// After the backoff: a1, then a2.
	expireBackoff(t, db)
	_, err = r.Drain(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{b1.ID(), b2.ID(), a1.ID(), a2.ID()}, ids(pub.accepted()))
	assert.Zero(t, pending(t, db))
}

// TestRelayKilledBetweenPublishAndMark: the broker delivered the event to a consumer, but the
// relay never marked it — the acknowledgement was lost, or the process died. The next pass
// delivers it again, and the consumer's inbox makes its effect happen once.
func TestRelayKilledBetweenPublishAndMark(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// after runs once the consumer has the event; it returns what Publish returns.
		after func(cancel context.CancelFunc) error
	}{
		{"ack lost", func(context.CancelFunc) error { return errors.New("broker connection reset before the answer") }},
		{"process killed", func(cancel context.CancelFunc) error { cancel(); return nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			sink := newConsumer(t, db, applyEffect)
			broker, err := events.NewHTTPPublisher(sink.sink(), nil)
			require.NoError(t, err)

			e := change(t, db, "v-1", 1)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			first := &recorder{decide: func(ctx context.Context, ev cloudevents.Event, _ int) error {
				if err := broker.Publish(ctx, ev); err != nil {
					return err
				}
				return tc.after(cancel)
			}}
			_, _ = relay(db, first).Drain(ctx)
			require.Equal(t, 1, effects(t, db, e.ID()), "the consumer got it")
			require.False(t, stateOf(t, db, e.ID()).published, "but the relay never marked it")

			// The relay comes back (a fresh one, as after a restart) once any backoff is over.
			expireBackoff(t, db)
			_, err = relay(db, broker).Drain(context.Background())
			require.NoError(t, err)

			assert.True(t, stateOf(t, db, e.ID()).published)
			assert.Equal(t, map[int]int{202: 1, 200: 1}, sink.answered(), "delivered twice: done, then duplicate")
			assert.Equal(t, 1, effects(t, db, e.ID()), "the effect happened once")
			assert.Equal(t, 1, count(t, db, `SELECT count(*) FROM evsink.inbox WHERE id = $1`, e.ID()))
		})
	}
}

// runRelay runs r until the returned stop is called (or the test ends) and checks Run
// returns nil promptly once its context ends.
func runRelay(t *testing.T, r *events.Relay) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// tagged records which relay published what.
type tagged struct {
	mu  sync.Mutex
	by  map[string][]string // event id → relays that published it
	err error
}

func (tg *tagged) publisher(name string) events.Publisher {
	return &recorder{decide: func(ctx context.Context, e cloudevents.Event, _ int) error {
		// A broker takes a moment: long enough for a second leader to overlap.
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		tg.mu.Lock()
		tg.by[e.ID()] = append(tg.by[e.ID()], name)
		tg.mu.Unlock()
		return nil
	}}
}

func (tg *tagged) publishers(id string) []string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]string(nil), tg.by[id]...)
}

func (tg *tagged) total() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	n := 0
	for _, by := range tg.by {
		n += len(by)
	}
	return n
}

func advisoryLocks(t *testing.T, db *database.DB) int {
	t.Helper()
	return count(t, db, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
}

func TestTwoRelaysPublishEachEventOnce(t *testing.T) {
	t.Parallel()
	url := pg.NewDatabaseURL(t, producerMigrations(), consumerMigrations())
	db1, db2 := openDB(t, url), openDB(t, url)
	tg := &tagged{by: map[string][]string{}}

	relays := []*events.Relay{relay(db1, tg.publisher("one")), relay(db2, tg.publisher("two"))}
	var stops []func()
	for _, r := range relays {
		r.Poll, r.Batch = 20*time.Millisecond, 7
		stops = append(stops, runRelay(t, r))
	}

	// Producers keep writing while both relays run.
	const aggregates, perAggregate = 10, 20
	var wg sync.WaitGroup
	var recorded sync.Map
	for a := range aggregates {
		wg.Go(func() {
			db := []*database.DB{db1, db2}[a%2]
			for v := int64(1); v <= perAggregate; v++ {
				e := change(t, db, fmt.Sprintf("v-%02d", a), v)
				recorded.Store(e.ID(), true)
			}
		})
	}
	wg.Wait()
	waitFor(t, 20*time.Second, "every event published", func() bool { return pending(t, db1) == 0 })
	for _, stop := range stops {
		stop()
	}

	n := 0
	var wrong []string
	recorded.Range(func(id, _ any) bool {
		n++
		if by := tg.publishers(id.(string)); len(by) != 1 {
			wrong = append(wrong, fmt.Sprintf("%s published by %v", id, by))
		}
		return true
	})
	assert.Equal(t, aggregates*perAggregate, n)
	assert.Empty(t, wrong, "every event published exactly once")
	assert.Equal(t, n, tg.total(), "nothing published twice")
	// A relay stopped mid-query loses its connection, and PostgreSQL frees that session's
	// lock when the backend has exited, a moment after the client closed it: released, not
	// necessarily released by the time stop returns.
	waitFor(t, 5*time.Second, "both relays released the lock", func() bool { return advisoryLocks(t, db1) == 0 })
}

func TestRunReleasesLeadershipWhenItStops(t *testing.T) {
	t.Parallel()
	url := pg.NewDatabaseURL(t, producerMigrations(), consumerMigrations())
	db1, db2 := openDB(t, url), openDB(t, url)
	tg := &tagged{by: map[string][]string{}}
	published := func(e cloudevents.Event) func() bool {
		return func() bool { return len(tg.publishers(e.ID())) > 0 }
	}

	one := relay(db1, tg.publisher("one"))
	one.Poll = 20 * time.Millisecond
	stopOne := runRelay(t, one)
	e1 := change(t, db1, "v-1", 1)
	waitFor(t, 10*time.Second, "the first relay to publish", published(e1))
	assert.Equal(t, 1, advisoryLocks(t, db1), "the leader holds the relay lock")

	two := relay(db2, tg.publisher("two"))
	two.Poll = 20 * time.Millisecond
	runRelay(t, two)
	e2 := change(t, db2, "v-1", 2)
	waitFor(t, 10*time.Second, "the leader to publish", published(e2))
	assert.Equal(t, []string{"one"}, tg.publishers(e2.ID()), "only the leader publishes")
	// Published is not yet marked: stopped in between, the leader leaves e2 to the next one,
	// which publishes it again (at least once, by design). Stop it once it has marked.
	waitFor(t, 10*time.Second, "the leader to mark what it published", func() bool { return pending(t, db1) == 0 })

	stopOne() // returns nil promptly (checked by runRelay)
	e3 := change(t, db1, "v-1", 3)
	waitFor(t, 10*time.Second, "the second relay to take over", published(e3))
	assert.Equal(t, []string{"two"}, tg.publishers(e3.ID()))
	assert.Equal(t, 3, tg.total())
}

// TestNotificationWakesRun: with Poll far away, an event committed while the relay waits
// still goes out promptly, because the commit notifies it.
func TestNotificationWakesRun(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	pub := &recorder{}
	r := relay(db, pub)
	r.Poll = 30 * time.Second
	e1 := change(t, db, "v-1", 1)
	runRelay(t, r)
	// The first pass happens on start; after it the relay waits for a notification.
	waitFor(t, 10*time.Second, "the first pass", func() bool { return len(pub.accepted()) == 1 })
	waitFor(t, 10*time.Second, "the first mark", func() bool { return pending(t, db) == 0 })

	e2 := change(t, db, "v-2", 1)
	waitFor(t, 10*time.Second, "the notified relay to publish (Poll is 30 s)", func() bool { return len(pub.accepted()) == 2 })
	assert.Equal(t, []string{e1.ID(), e2.ID()}, ids(pub.accepted()))
}
