package broker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

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
