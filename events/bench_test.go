package events_test

import (
	"context"
	"fmt"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
)

// noopPublisher accepts everything at once: the benchmark measures the relay's own work
// against PostgreSQL (read the due events, group, mark published), not a broker.
type noopPublisher struct{}

func (noopPublisher) Publish(context.Context, cloudevents.Event) error { return nil }

// BenchmarkRelay reports how many outbox events per second one relay publishes and marks,
// for events spread over many aggregates (parallel) and all on one aggregate (in order).
// Recording the events is outside the timer.
func BenchmarkRelay(b *testing.B) {
	for _, tc := range []struct {
		name       string
		aggregates int
	}{{"256-aggregates", 256}, {"1-aggregate", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			db := pg.NewDB(b, producerMigrations())
			ctx := context.Background()
			const batch = 1000
			relay := &events.Relay{DB: db, Schema: producer, Publisher: noopPublisher{}, Logger: quiet(), Batch: batch}
			b.ResetTimer()
			published := 0
			for published < b.N {
				b.StopTimer()
				n := min(batch, b.N-published)
				err := db.InTx(ctx, func(tx pgx.Tx) error {
					for i := range n {
						subject := fmt.Sprintf("agg-%d", (published+i)%tc.aggregates)
						if err := events.Emit(ctx, tx, producer, source, events.VehicleUpdated, subject, events.Vehicle{VehicleID: subject, Version: int64(i)}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				got, err := relay.Drain(ctx)
				if err != nil {
					b.Fatal(err)
				}
				published += got
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
