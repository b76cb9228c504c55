package broker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform/auth/authtest"
)

// benchTwoTriggers are what the durable benchmarks route through: two Triggers on the same
// type, as reservation.created has several subscribers.
func benchTwoTriggers() []broker.Trigger {
	var out []broker.Trigger
	for _, name := range []string{"bench-a", "bench-b"} {
		tg := trigger(name, events.CustomerRegistered, "worker", 0, "")
		tg.Namespace = authtest.Namespace
		out = append(out, tg)
	}
	return out
}

// benchInsertBaseline is the same-run baseline of the durable ingress: one INSERT of the
// encoded event per operation into a plain table, with the ingress's parallelism and pool
// (design.md §8's handler + 1 INSERT transaction, without the HTTP).
func benchInsertBaseline(b *testing.B) {
	db := pgInstance(b).NewDB(b)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE public.bench (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event bytea NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	e := event(events.CustomerRegistered)
	data, _ := json.Marshal(e)
	var failed atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.Pool.Exec(ctx, `INSERT INTO public.bench (event) VALUES ($1)`, data); err != nil {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d inserts failed", failed.Load())
	}
}

// benchDurableIngress measures Publish alone on durable queues: the broker is not running,
// so every event stays queued for both Triggers.
func benchDurableIngress(b *testing.B) {
	db := pgInstance(b).NewDB(b, broker.Migrations)
	br := broker.New(benchTwoTriggers(), noopDeliver, broker.Options{DB: db, MaxQueued: 1 << 30, Logger: slog.New(slog.DiscardHandler)})
	publishParallel(b, br)
}

// benchDurableEndToEnd measures events from Publish to both Triggers' no-op subscribers on
// durable queues: the timer stops when the last delivery of the last event finished.
func benchDurableEndToEnd(b *testing.B) {
	db := pgInstance(b).NewDB(b, broker.Migrations)
	var delivered atomic.Int64
	all := make(chan struct{})
	want := int64(2 * b.N)
	deliver := func(context.Context, broker.Destination, cloudevents.Event) (*cloudevents.Event, int, error) {
		if delivered.Add(1) == want {
			close(all)
		}
		return nil, 202, nil
	}
	br := broker.New(benchTwoTriggers(), deliver, broker.Options{DB: db, MaxQueued: 1 << 30, Workers: 16, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = br.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	publishParallel(b, br)
	b.StartTimer()
	<-all
	b.StopTimer()
	if n := delivered.Load(); n != want {
		b.Fatalf("%d deliveries, want %d", n, want)
	}
}

func noopDeliver(context.Context, broker.Destination, cloudevents.Event) (*cloudevents.Event, int, error) {
	return nil, 202, nil
}

// publishParallel publishes b.N events from 64 goroutines per CPU, as the relays' aggregates
// and the ingress's senders do; the timer is stopped on return.
func publishParallel(b *testing.B, br *broker.Broker) {
	var failed atomic.Int64
	b.SetParallelism(64)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		e := event(events.CustomerRegistered)
		for pb.Next() {
			if err := br.Publish(context.Background(), e); err != nil {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d publishes failed", failed.Load())
	}
}

// benchDurableBesideFailing is benchDurableEndToEnd with the second Trigger's subscriber
// failing every delivery (500, retried with its backoff): the timer stops when the healthy
// Trigger has every event. Issue 12's figure: a failing subscriber delays only its own
// Trigger, so this rate stays close to the all-healthy one. The per-event lag (publish to
// the healthy delivery) is reported as p50 and p99.
func benchDurableBesideFailing(b *testing.B) {
	db := pgInstance(b).NewDB(b, broker.Migrations)
	triggers := benchTwoTriggers()
	triggers[1].Delivery.Retry = 1_000 // never dead-letters during the run: it keeps failing
	var delivered atomic.Int64
	all := make(chan struct{})
	want := int64(b.N)
	var mu sync.Mutex
	var lags []time.Duration
	deliver := func(_ context.Context, d broker.Destination, e cloudevents.Event) (*cloudevents.Event, int, error) {
		if d.Path == failingPath {
			return nil, http.StatusInternalServerError, nil
		}
		lag := time.Since(e.Time())
		mu.Lock()
		lags = append(lags, lag)
		mu.Unlock()
		if delivered.Add(1) == want {
			close(all)
		}
		return nil, http.StatusAccepted, nil
	}
	triggers[1].Subscriber.Path = failingPath
	br := broker.New(triggers, deliver, broker.Options{DB: db, MaxQueued: 1 << 30, Workers: 16, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = br.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	publishParallelTimed(b, br)
	b.StartTimer()
	<-all
	b.StopTimer()
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-lag-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-lag-ms")
}

// failingPath marks the failing Trigger's subscriber in benchDurableBesideFailing.
const failingPath = "/failing"

// publishParallelTimed is publishParallel with each event stamped with its publish time, so
// a delivery can tell its lag.
func publishParallelTimed(b *testing.B, br *broker.Broker) {
	var failed atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := event(events.CustomerRegistered)
			e.SetTime(time.Now())
			if err := br.Publish(context.Background(), e); err != nil {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d publishes failed", failed.Load())
	}
}
