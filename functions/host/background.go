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
	// ready, when set, holds each Runner back until it is closed (readyGate) or readyWait
	// has passed: a start's CPU and its pool's connection go to becoming ready, not to a
	// sender's first pass (docs/performance.md, "notification-worker and sync-worker").
	ready <-chan struct{}
}

// readyWait is how long a Runner waits for the first ready answer before it starts anyway
// (a host nobody probes). Knative probes a new pod's /readyz at once and often.
const readyWait = time.Second

// readyGate returns a channel closed by the first call of mark: the last of /readyz's
// checks (mountHealth), so it is closed when the process first answers ready.
func readyGate() (ready <-chan struct{}, mark platform.ReadyFunc) {
	c := make(chan struct{})
	var once sync.Once
	return c, func(context.Context) error { once.Do(func() { close(c) }); return nil }
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
		b.goRunWhenReady(service, func(ctx context.Context) error { return r.Run(metrics.With(ctx, f)) })
	}
}

// goRunWhenReady is goRun once b.ready is closed or readyWait has passed — unless the
// process stops first.
func (b *background) goRunWhenReady(name string, fn func(context.Context) error) {
	b.goRun(name, func(ctx context.Context) error {
		if !b.awaitReady(ctx) {
			return nil
		}
		return fn(ctx)
	})
}

// awaitReady waits for b.ready (at most readyWait) and reports whether to go on: false
// when the process stops first.
func (b *background) awaitReady(ctx context.Context) bool {
	if b.ready != nil {
		t := time.NewTimer(readyWait)
		defer t.Stop()
		select {
		case <-b.ready:
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return ctx.Err() == nil
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
	// Behind the same gate as a Runner: its first pass and its LISTEN connection would
	// compete with the first probe; what committed before it starts, its first pass finds.
	b.goRunWhenReady("relay "+fn.Service, r.Run)
}

// stop ends the background work and waits for it.
func (b *background) stop() {
	b.cancel()
	b.wg.Wait()
}
