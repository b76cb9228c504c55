package broker_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

// postgres is started by the first test or benchmark that needs it, so the others — and
// fuzz workers — run without it.
var postgres struct {
	once sync.Once
	inst *pgtest.Instance
	err  error
}

// pgInstance returns the package's PostgreSQL, starting it on first use.
func pgInstance(tb testing.TB) *pgtest.Instance {
	tb.Helper()
	postgres.once.Do(func() { postgres.inst, postgres.err = pgtest.Start(context.Background()) })
	if postgres.err != nil {
		tb.Fatalf("pgtest: %v", postgres.err)
	}
	return postgres.inst
}

// TestMain runs the tests and stops PostgreSQL if one of them started it — unless this
// process is the child of TestDurableQueueSurvivesKill.
func TestMain(m *testing.M) {
	if phase := os.Getenv(childPhaseEnv); phase != "" {
		os.Exit(runChild(phase))
	}
	code := m.Run()
	if postgres.inst != nil {
		if err := postgres.inst.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	os.Exit(code)
}

// startDurable is start with the queues in a fresh database.
func startDurable(t *testing.T, triggers []broker.Trigger, opts broker.Options, handlers map[string]http.Handler) (*broker.Broker, *database.DB) {
	t.Helper()
	db := pgInstance(t).NewDB(t, broker.Migrations)
	opts.DB = db
	return start(t, triggers, opts, handlers), db
}

// finished waits until every Trigger named finished n events (delivered, dead-lettered or
// dropped) and their rows are gone.
func finished(t *testing.T, b *broker.Broker, db *database.DB, n int64, names ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, name := range names {
			st := statsOf(b, name)
			if st.Delivered+st.DeadLettered+st.Dropped != n {
				return false
			}
		}
		var left int
		require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM broker.deliveries`).Scan(&left))
		return left == 0
	}, 20*time.Second, 5*time.Millisecond)
}

// The delivery spec runs unchanged on durable queues: retries, dead letters with Knative's
// extensions, filters, replies.
func TestDurableDeliverySemantics(t *testing.T) {
	t.Parallel()
	const retry = 2
	cases := []struct {
		name     string
		respond  func(n int, w http.ResponseWriter, r *http.Request)
		attempts int
		dead     string // the dead letter's knativeerrorcode; "" none
	}{
		{name: "202 is done", attempts: 1},
		{name: "fails twice then succeeds", respond: func(n int, w http.ResponseWriter, _ *http.Request) {
			if n <= 2 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}, attempts: 3},
		{name: "503 is retried then dead-lettered", respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}, attempts: 1 + retry, dead: "503"},
		{name: "400 is dead-lettered without retry", respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
		}, attempts: 1, dead: "400"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sub, dlq, other := &recorder{respond: tc.respond}, &recorder{}, &recorder{}
			b, db := startDurable(t, []broker.Trigger{
				trigger("t", events.CustomerRegistered, "worker", retry, "dead-letter"),
				trigger("other", events.ReservationCreated, "other", retry, ""),
			}, broker.Options{}, map[string]http.Handler{"worker": sub, "dead-letter": dlq, "other": other})
			e := event(events.CustomerRegistered)
			require.NoError(t, b.Publish(ctxTimeout(t, 10*time.Second), e))
			finished(t, b, db, 1, "t")

			assert.Equal(t, tc.attempts, int(sub.attempts.Load()), "attempts")
			assert.Empty(t, other.got(), "filtered out")
			st := statsOf(b, "t")
			assert.Equal(t, int64(tc.attempts-1), st.Retried, "retried")
			if tc.dead == "" {
				assert.Empty(t, dlq.got())
				assert.Equal(t, e.ID(), sub.got()[0].ID())
				assert.JSONEq(t, string(e.Data()), string(sub.got()[0].Data()))
				return
			}
			require.Len(t, dlq.got(), 1)
			assert.Equal(t, e.ID(), dlq.got()[0].ID())
			assert.Equal(t, tc.dead, extension(t, dlq.got()[0], broker.ExtErrorCode))
			assert.Equal(t, int64(1), st.DeadLettered)
		})
	}
}

func TestDurableReplyIsQueuedBackIntoTheBroker(t *testing.T) {
	t.Parallel()
	replier := &recorder{respond: func(_ int, w http.ResponseWriter, r *http.Request) {
		reply := cloudevents.NewEvent()
		reply.SetID("reply-1")
		reply.SetType(events.PaymentAuthorized)
		reply.SetSource("payments-api")
		_ = reply.SetData(cloudevents.ApplicationJSON, map[string]any{"paymentId": "p-1"})
		_ = cehttp.WriteResponseWriter(r.Context(), binding.ToMessage(&reply), http.StatusOK, w)
	}}
	downstream := &recorder{}
	b, db := startDurable(t, []broker.Trigger{
		trigger("replier", events.ReservationCreated, "payments-api", 0, ""),
		trigger("downstream", events.PaymentAuthorized, "reservations-api", 0, ""),
	}, broker.Options{}, map[string]http.Handler{"payments-api": replier, "reservations-api": downstream})
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.ReservationCreated)))
	finished(t, b, db, 1, "replier", "downstream")
	assert.Equal(t, "reply-1", downstream.got()[0].ID())
}

// A subscriber that sleeps past its Trigger's timeout on every delivery delays only its
// own Trigger: every event reaches the other Trigger's subscriber while the slow one is
// still retrying its first attempts (each of its events takes ≥ 20 timeouts of 200 ms).
func TestDurableSlowTriggerDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	const n = 40
	slowSub := &recorder{respond: func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		w.WriteHeader(http.StatusAccepted)
	}}
	fastSub := &recorder{}
	slow := trigger("slow", events.ReservationCreated, "slow", 20, "")
	slow.Delivery.Timeout = 200 * time.Millisecond
	fast := trigger("fast", events.ReservationCreated, "fast", 3, "")
	b, _ := startDurable(t, []broker.Trigger{slow, fast}, broker.Options{Workers: 4, DrainTimeout: time.Second},
		map[string]http.Handler{"slow": slowSub, "fast": fastSub})

	sent := map[string]int{}
	for range n {
		e := event(events.ReservationCreated)
		sent[e.ID()] = 1
		require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), e), "the ingress does not wait for any subscriber")
	}
	require.Eventually(t, func() bool { return len(fastSub.got()) >= n }, 20*time.Second, 5*time.Millisecond)
	st := statsOf(b, "slow")
	assert.Zero(t, st.Delivered+st.Dropped+st.DeadLettered, "the slow Trigger is still retrying its first events")
	assert.Equal(t, sent, fastSub.ids(), "the fast Trigger got every event once")
	require.Eventually(t, func() bool { return slowSub.attempts.Load() > 4 }, 20*time.Second, 5*time.Millisecond,
		"the slow Trigger is retrying meanwhile")
	st = statsOf(b, "slow")
	assert.Zero(t, st.Delivered+st.Dropped+st.DeadLettered, "the slow Trigger is still retrying its first events")
}

// Backpressure: a Trigger holding MaxQueued rows makes Publish wait, and give up with
// ErrQueueFull when its context ends; nothing is queued then, nothing is dropped.
func TestDurableFullQueueBlocksPublish(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	sub := &recorder{respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-release
		w.WriteHeader(http.StatusAccepted)
	}}
	b, db := startDurable(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 0, "")},
		broker.Options{MaxQueued: 3, Workers: 1}, map[string]http.Handler{"worker": sub})
	for range 3 {
		require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.CustomerRegistered)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.Publish(ctx, event(events.CustomerRegistered)), broker.ErrQueueFull)

	done := make(chan error, 1)
	go func() { done <- b.Publish(ctxTimeout(t, 20*time.Second), event(events.CustomerRegistered)) }()
	close(release)
	require.NoError(t, <-done, "room again once the subscriber caught up")
	finished(t, b, db, 4, "t")
	assert.Len(t, sub.ids(), 4)
}

// The rows a running broker queues reach its workers from memory, leased at insertion,
// without a claim (an UPDATE per row, the durable queue's largest cost): Claimed stays at
// what a warm-up may have needed.
func TestDurableHandsNewRowsOver(t *testing.T) {
	t.Parallel()
	sub := &recorder{}
	b, db := startDurable(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 0, "")},
		broker.Options{}, map[string]http.Handler{"worker": sub})
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.CustomerRegistered)))
	finished(t, b, db, 1, "t") // Run has started its dispatchers
	warm := statsOf(b, "t").Claimed
	const n = 30
	for range n {
		require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.CustomerRegistered)))
	}
	finished(t, b, db, n+1, "t")
	assert.Len(t, sub.ids(), n+1)
	assert.Equal(t, warm, statsOf(b, "t").Claimed, "no row of a keeping-up Trigger is claimed")
}

// Rows queued while a Trigger is behind wait in the table, and the rows handed over before
// them still go first: one worker gets the events in the order they were published.
func TestDurableKeepsOrderPastTheHandOff(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var order []string
	var mu sync.Mutex
	sub := &recorder{respond: func(_ int, w http.ResponseWriter, r *http.Request) {
		<-release
		mu.Lock()
		order = append(order, r.Header.Get("Ce-Id"))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}}
	b, db := startDurable(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 0, "")},
		broker.Options{Workers: 1}, map[string]http.Handler{"worker": sub})
	warm := event(events.CustomerRegistered)
	close(release) // a first event, so that Run's dispatcher is up
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), warm))
	finished(t, b, db, 1, "t")
	release = make(chan struct{})

	const n = 24 // the fresh queue holds 4 × Workers: most of these wait in the table
	sent := []string{warm.ID()}
	for range n {
		e := event(events.CustomerRegistered)
		sent = append(sent, e.ID())
		require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), e))
	}
	close(release)
	finished(t, b, db, n+1, "t")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, sent, order)
	assert.Positive(t, statsOf(b, "t").Claimed, "the rows behind were claimed")
}

// A broker that stops with rows handed over but not started releases them, and the row
// whose attempt its drain timeout cut short: the next run delivers them all at once, not a
// lease later, and drops none.
func TestDurableStopReleasesHandedOverRows(t *testing.T) {
	t.Parallel()
	db := pgInstance(t).NewDB(t, broker.Migrations)
	// No retries and no dead-letter sink: the attempt the stop cuts short is not the
	// subscriber's failure, so its event is not dropped either.
	triggers := []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 0, "")}
	stuck := &recorder{respond: func(_ int, w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		w.WriteHeader(http.StatusServiceUnavailable)
	}}
	first, stop := startManual(t, triggers, broker.Options{DB: db, Workers: 1, DrainTimeout: 100 * time.Millisecond, Lease: time.Hour},
		map[string]http.Handler{"worker": stuck})
	const n = 6
	sent := map[string]int{}
	for i := range n {
		e := event(events.CustomerRegistered)
		sent[e.ID()] = 1
		require.NoError(t, first.Publish(ctxTimeout(t, 5*time.Second), e))
		if i == 0 {
			require.Eventually(t, func() bool { return stuck.attempts.Load() == 1 }, 10*time.Second, time.Millisecond)
		}
	}
	require.NoError(t, <-stop())

	sub := &recorder{}
	second := start(t, triggers, broker.Options{DB: db, Lease: time.Hour}, map[string]http.Handler{"worker": sub})
	finished(t, second, db, n, "t")
	assert.Equal(t, sent, sub.ids(), "every event, none waiting out its lease of an hour")
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// A queue table is empty whenever a vacuum has just run (it cuts the empty heap to no pages
// and records no rows), and every connection plans its claims anew then; a plan kept from
// that moment (PostgreSQL's cached generic plan: a sequential scan, as good as any on an
// empty table) read the whole heap at every claim once the dead versions of delivered rows
// filled it again before the next vacuum (orange dev at 50 bookings/s: ~450 pages and
// ~0.9 ms per claim). However a claim was planned before, on a heap full of dead rows it
// takes the index: the table's sequential-scan counter stands still while the idle
// Trigger keeps polling.
func TestDurableClaimsDoNotScanTheHeap(t *testing.T) {
	t.Parallel()
	b, db := startDurable(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 0, "")},
		broker.Options{Poll: 5 * time.Millisecond}, map[string]http.Handler{"worker": &recorder{}})
	ctx := ctxTimeout(t, 30*time.Second)
	require.NoError(t, b.Publish(ctx, event(events.CustomerRegistered)))
	finished(t, b, db, 1, "t")
	// No autovacuum in between: one emptying the heap during the measurement would make an
	// honest sequential scan of an empty table (what a fresh plan rightly does) count too.
	_, err := db.Pool.Exec(ctx, `ALTER TABLE broker.deliveries SET (autovacuum_enabled = false)`)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `VACUUM broker.deliveries`)
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond) // dozens of claims on the vacuumed, empty table
	_, err = db.Pool.Exec(ctx, `INSERT INTO broker.deliveries (trigger, event, hops)
		SELECT 'elsewhere', convert_to(repeat('x', 1000), 'UTF8'), 0 FROM generate_series(1, 3000)`)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `DELETE FROM broker.deliveries WHERE trigger = 'elsewhere'`)
	require.NoError(t, err)
	scans := func() (seq, idx int64) {
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables
			WHERE relid = 'broker.deliveries'::regclass`).Scan(&seq, &idx))
		return seq, idx
	}
	// A backend reports its counters at most once a second, and later when the shared
	// statistics are busy (a loaded box: CI once counted 45 after two seconds). So what ran
	// before the bloat — the setup, the claims on the empty table, all sequential — may
	// still come in during the measurement, which is therefore not a span of time but a
	// number of claims: until the table has been read 400 times more through its index
	// (the idle Trigger's claims at a 5 ms poll). Against those, the few dozen late scans
	// from before stay below a quarter; a claim plan that scans would be every one of them.
	time.Sleep(2 * time.Second)
	seq0, idx0 := scans()
	require.Eventually(t, func() bool {
		_, idx := scans()
		return idx-idx0 >= 400
	}, 30*time.Second, 100*time.Millisecond, "the claims do not use the table's index")
	seq, idx := scans()
	assert.Less(t, (seq-seq0)*4, idx-idx0, "claims scanned the whole table: %d sequential scans, %d index scans", seq-seq0, idx-idx0)
}
