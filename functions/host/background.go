package host

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/metrics"
	"github.com/orangecarrental/orange/platform/tracing"
)

// background runs what a process does besides serving: each API's Runner and each outbox
// relay. They start with the server and stop after it has drained, so requests in flight
// can still record events and the relay's last pass sees them.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	logger *slog.Logger
	// tracing gives each relay its function's TracerProvider (off when nil).
	tracing *tracing.Tracing
	// metrics puts each function's series into its Runner's context (none when nil).
	metrics *metrics.Registry
}

func newBackground(ctx context.Context, logger *slog.Logger) *background {
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &background{ctx: bg, cancel: cancel, logger: logger}
}

// goRun runs fn until stop, logging an error it ends with.
func (b *background) goRun(name string, fn func(context.Context) error) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := fn(b.ctx); err != nil && b.ctx.Err() == nil {
			b.logger.Error("background work stopped", slog.String("work", name), slog.String("error", err.Error()))
		}
	}()
}

// runner starts api's background work, if it has any.
func (b *background) runner(service string, api platform.API) {
	if r, ok := api.(platform.Runner); ok {
		f := b.metrics.Function(service)
		b.goRun(service, func(ctx context.Context) error { return r.Run(metrics.With(ctx, f)) })
	}
}

// relay starts publishing fn's outbox through pub, if fn has one. publishTimeout bounds one
// Publish (0: the relay's default). The in-process broker's Publish returns once the event
// is queued durably, so it bounds only a wait for room in a full queue.
func (b *background) relay(fn platform.Function, db *database.DB, pub events.Publisher, poll, publishTimeout time.Duration) {
	if db == nil || pub == nil || !events.HasOutbox(fn.Migrations) {
		return
	}
	r := &events.Relay{DB: db, Schema: fn.Migrations.Schema, Publisher: pub, Logger: b.logger.With(slog.String("relay", fn.Service)),
		Poll: poll, PublishTimeout: publishTimeout, Tracer: b.tracing.Provider(fn.Service)}
	b.goRun("relay "+fn.Service, r.Run)
}

// stop ends the background work and waits for it.
func (b *background) stop() {
	b.cancel()
	b.wg.Wait()
}
