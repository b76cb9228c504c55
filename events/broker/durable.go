package broker

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/orangecarrental/orange/platform/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the broker's own schema, `broker`: its durable queues. `orange dev`
// applies them with the functions' schemas before it starts the broker with Options.DB.
var Migrations = database.Migrations{Schema: "broker", FS: migrationFiles, Dir: "migrations"}

// ErrQueueFull is what Publish returns when a matching Trigger's durable queue held
// Options.MaxQueued rows until ctx ended: nothing was queued, publish again later.
var ErrQueueFull = errors.New("in-process broker: a Trigger's queue is full")

const (
	// insertSQL queues the rows of every publish of a batch: row i is (trigger i, event of
	// publish which[i], hops of publish which[i]), one statement and one commit for them all.
	insertSQL = `INSERT INTO broker.deliveries (trigger, event, hops)
SELECT r.trigger, ($2::bytea[])[r.which], ($3::int[])[r.which] FROM unnest($1::text[], $4::int[]) AS r(trigger, which)`
	claimSQL = `UPDATE broker.deliveries d SET visible_at = now() + $3 * interval '1 millisecond', attempts = d.attempts + 1
FROM (SELECT id FROM broker.deliveries WHERE trigger = $1 AND visible_at <= now()
      ORDER BY visible_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) c
WHERE d.id = c.id
RETURNING d.id, d.event, d.hops, d.attempts`
	ackSQL     = `DELETE FROM broker.deliveries WHERE id = ANY($1)`
	releaseSQL = `UPDATE broker.deliveries SET visible_at = now() + $2 * interval '1 millisecond' WHERE id = $1`
	renewSQL   = `UPDATE broker.deliveries SET visible_at = now() + $2 * interval '1 millisecond' WHERE id = ANY($1)`
	countSQL   = `SELECT trigger, count(*) FROM broker.deliveries GROUP BY trigger`
)

// append is the durable ingress: one INSERT of one row per matching Trigger. It waits
// (polling) while a matching Trigger's queue is at MaxQueued, and returns ErrQueueFull
// when ctx ends first.
func (b *Broker) append(ctx context.Context, e *cloudevents.Event, hops int) error {
	var buf [16]*route
	matched := buf[:0]
	for _, r := range b.routes {
		if r.match.eval(e) != fail {
			matched = append(matched, r)
		}
	}
	if len(matched) == 0 {
		return nil
	}
	b.countOnce(ctx)
	if err := b.waitForRoom(ctx, matched); err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("broker: encode event %s: %w", e.ID(), err)
	}
	names := make([]string, len(matched))
	for i, r := range matched {
		names[i] = r.key
	}
	if err := b.appends.add(ctx, b.db, names, data, hops); err != nil {
		return fmt.Errorf("broker: queue event %s: %w", e.ID(), err)
	}
	for _, r := range matched {
		r.queued.Add(1)
		r.wakeUp()
	}
	return nil
}

// appendBatch is group commit for the durable ingress (issue 19): a publish that finds an
// INSERT in flight waits for it and goes into the next one with every publish that arrived
// meanwhile — one statement and one commit (a WAL flush with fsync on) per batch, not per
// event. Alone, a publish is inserted at once: batching adds no wait, only sharing. The
// relay publishes up to Relay.Parallel aggregates at once, so a pass's events arrive
// together. A failed INSERT fails every publish of its batch (all are retried: the relay
// publishes again what the broker did not accept).
type appendBatch struct {
	mu      sync.Mutex
	queue   []*appendReq
	running bool
}

type appendReq struct {
	names []string
	data  []byte
	hops  int
	done  chan error
}

// add queues one publish's rows and waits until they are committed. A caller whose ctx
// ends first gets its error, though its rows may still be committed: at-least-once, the
// consumers' inboxes drop the copy.
func (a *appendBatch) add(ctx context.Context, db *database.DB, names []string, data []byte, hops int) error {
	req := &appendReq{names: names, data: data, hops: hops, done: make(chan error, 1)}
	a.mu.Lock()
	a.queue = append(a.queue, req)
	if !a.running {
		a.running = true
		go a.flush(db)
	}
	a.mu.Unlock()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// appendTimeout bounds one batch's INSERT.
const appendTimeout = 30 * time.Second

// flush inserts what is queued, batch after batch, until the queue is empty.
func (a *appendBatch) flush(db *database.DB) {
	for {
		a.mu.Lock()
		batch := a.queue
		a.queue = nil
		if len(batch) == 0 {
			a.running = false
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		var (
			names []string
			which []int32
			data  = make([][]byte, len(batch))
			hops  = make([]int32, len(batch))
		)
		for i, req := range batch {
			data[i], hops[i] = req.data, int32(req.hops)
			for _, n := range req.names {
				names = append(names, n)
				which = append(which, int32(i+1))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
		_, err := db.Background().Exec(ctx, insertSQL, names, data, hops, which)
		cancel()
		for _, req := range batch {
			req.done <- err
		}
	}
}

// waitForRoom blocks while one of routes holds MaxQueued rows or more.
func (b *Broker) waitForRoom(ctx context.Context, routes []*route) error {
	for _, r := range routes {
		if r.queued.Load() < int64(b.opts.MaxQueued) {
			continue
		}
		r.blocked.Add(1)
		t := time.NewTicker(20 * time.Millisecond)
		for r.queued.Load() >= int64(b.opts.MaxQueued) {
			select {
			case <-ctx.Done():
				t.Stop()
				r.blocked.Add(-1)
				return fmt.Errorf("%w (trigger %s, %d queued): %w", ErrQueueFull, r.trigger.String(), r.queued.Load(), ctx.Err())
			case <-t.C:
			}
		}
		t.Stop()
		r.blocked.Add(-1)
	}
	return nil
}

func (r *route) wakeUp() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// row is one claimed delivery.
type row struct {
	id       int64
	job      job
	attempts int
}

// runDurable is Run for a broker whose queues live in PostgreSQL: per Trigger, one
// dispatcher claiming rows and Workers goroutines delivering them, and one lease keeper.
func (b *Broker) runDurable(ctx context.Context) error {
	b.countOnce(ctx)
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	keeperDone := make(chan struct{})
	var keeper sync.WaitGroup
	keeper.Go(func() { b.keepLeases(keeperDone) })
	acks := make(chan ack, 1024)
	var acker sync.WaitGroup
	acker.Go(func() { b.ackRows(acks) })
	var dispatchers sync.WaitGroup
	for _, r := range b.routes {
		dispatchers.Go(func() { b.dispatch(ctx, hard, r, acks) })
	}
	<-ctx.Done()
	close(b.stopping)
	stop := time.AfterFunc(b.opts.DrainTimeout, cancelHard)
	dispatchers.Wait()
	stop.Stop()
	close(acks)
	acker.Wait()
	close(keeperDone)
	keeper.Wait()
	return nil
}

// countOnce counts the queues (countQueued) before the first publish is queued or Run
// starts, whichever comes first: a count taken after a publish had added its row would
// overwrite that publish's increment, and a full queue would take one more.
func (b *Broker) countOnce(ctx context.Context) {
	b.counted.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := b.countQueued(ctx); err != nil {
			b.log.WarnContext(ctx, "broker: cannot count queued events", slog.String("error", err.Error()))
		}
	})
}

// countQueued starts the queue depths from the table (rows left by an earlier run).
func (b *Broker) countQueued(ctx context.Context) error {
	rows, err := b.db.Pool.Query(ctx, countSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		counts[name] = n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range b.routes {
		r.queued.Store(counts[r.key])
		delete(counts, r.key)
	}
	for name, n := range counts {
		b.log.WarnContext(ctx, "broker: queued events of a Trigger that no longer exists stay undelivered",
			slog.String("trigger", name), slog.Int64("events", n))
	}
	return nil
}

// dispatch claims r's visible rows while it has idle workers, and hands them over; it
// sleeps until an event is queued for r, a worker finishes or Poll passes. Once ctx ended it
// stops claiming and waits for its workers, which release what they did not start.
func (b *Broker) dispatch(ctx, hard context.Context, r *route, acks chan<- ack) {
	// Up to Workers rows are delivered at once; as many again wait claimed, so a worker
	// that finishes finds its next row without a round trip.
	ahead := 2 * b.opts.Workers
	slots := make(chan struct{}, ahead)
	jobs := make(chan row, ahead)
	var workers sync.WaitGroup
	for range b.opts.Workers {
		workers.Go(func() {
			w := newWorker(hard)
			for rw := range jobs {
				b.deliverRow(ctx, hard, w, r, rw, acks)
				<-slots
				r.wakeUp()
			}
		})
	}
	defer func() {
		close(jobs)
		workers.Wait()
	}()
	poll := time.NewTimer(b.opts.Poll)
	defer poll.Stop()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	fill:
		for n < ahead {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break fill
			}
		}
		claimed, err := b.claim(ctx, r, n)
		if err != nil && ctx.Err() == nil {
			b.log.WarnContext(ctx, "broker: claim failed", slog.String("trigger", r.trigger.String()), slog.String("error", err.Error()))
		}
		for range n - len(claimed) {
			<-slots
		}
		for _, rw := range claimed {
			jobs <- rw
		}
		if len(claimed) == n {
			continue // maybe more
		}
		poll.Reset(b.opts.Poll)
		select {
		case <-r.wake:
		case <-poll.C:
		case <-ctx.Done():
			return
		}
	}
}

// claim leases up to n of r's visible rows to this process.
func (b *Broker) claim(ctx context.Context, r *route, n int) ([]row, error) {
	rows, err := b.db.Pool.Query(ctx, claimSQL, r.key, n, b.opts.Lease.Milliseconds())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var rw row
		var data []byte
		if err := rows.Scan(&rw.id, &data, &rw.job.hops, &rw.attempts); err != nil {
			return out, err
		}
		if err := json.Unmarshal(data, &rw.job.event); err != nil {
			// Cannot happen for rows append wrote; keep it out of the way rather than spin.
			b.log.ErrorContext(ctx, "broker: undecodable queued event", slog.Int64("row", rw.id), slog.String("error", err.Error()))
			continue
		}
		b.leases.add(rw.id)
		out = append(out, rw)
	}
	return out, rows.Err()
}

// deliverRow runs r's delivery spec on one row and settles it: deleted (by ackRows) once
// the spec finished with it (delivered, dead-lettered or dropped), released at once when
// the broker stopped first, and retried later when even the dead-letter sink failed.
func (b *Broker) deliverRow(ctx, hard context.Context, w *worker, r *route, rw row, acks chan<- ack) {
	var err error
	if ctx.Err() != nil {
		err = ErrClosed
	} else {
		r.inFlight.Add(1)
		err = b.process(ctx, w, r, &rw.job)
		r.inFlight.Add(-1)
	}
	if err == nil {
		acks <- ack{id: rw.id, r: r} // its lease is kept until the row is gone
		return
	}
	defer b.leases.remove(rw.id)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(hard), 10*time.Second)
	defer cancel()
	switch {
	case errors.Is(err, ErrClosed):
		_, _ = b.db.Pool.Exec(sctx, releaseSQL, rw.id, 0)
	default:
		wait := min(time.Second<<min(rw.attempts, 10), 5*time.Minute)
		b.log.WarnContext(ctx, "broker: event kept for a later try", slog.String("trigger", r.trigger.String()),
			slog.String("event", rw.job.event.ID()), slog.Duration("retryIn", wait), slog.String("error", err.Error()))
		_, _ = b.db.Pool.Exec(sctx, releaseSQL, rw.id, wait.Milliseconds())
	}
}

// ack is a row whose Trigger finished with it.
type ack struct {
	id int64
	r  *route
}

// ackRows deletes finished rows in batches — what it finds waiting, up to 512 per DELETE —
// until acks is closed and drained. A failed DELETE leaves the rows to be delivered again
// once their leases run out (at least once).
func (b *Broker) ackRows(acks <-chan ack) {
	batch := make([]ack, 0, 512)
	ids := make([]int64, 0, 512)
	for first := range acks {
		batch = append(batch[:0], first)
	more:
		for len(batch) < cap(batch) {
			select {
			case a, ok := <-acks:
				if !ok {
					break more
				}
				batch = append(batch, a)
			default:
				break more
			}
		}
		ids = ids[:0]
		for _, a := range batch {
			ids = append(ids, a.id)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := b.db.Pool.Exec(ctx, ackSQL, ids)
		cancel()
		for _, a := range batch {
			b.leases.remove(a.id)
			if err == nil {
				a.r.queued.Add(-1)
			}
		}
		if err != nil {
			b.log.Warn("broker: ack failed; the events will be delivered again", slog.Int("rows", len(ids)),
				slog.String("error", err.Error()))
		}
	}
}

// keepLeases renews the lease of every row in delivery a third of a lease before it
// runs out, until done is closed.
func (b *Broker) keepLeases(done <-chan struct{}) {
	t := time.NewTicker(b.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		ids := b.leases.list()
		if len(ids) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.Lease/3)
		if _, err := b.db.Pool.Exec(ctx, renewSQL, ids, b.opts.Lease.Milliseconds()); err != nil {
			b.log.Warn("broker: lease renewal failed", slog.String("error", err.Error()))
		}
		cancel()
	}
}

// leaseSet is the rows this process is delivering.
type leaseSet struct {
	mu  sync.Mutex
	ids map[int64]struct{}
}

func (l *leaseSet) add(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil {
		l.ids = map[int64]struct{}{}
	}
	l.ids[id] = struct{}{}
}

func (l *leaseSet) remove(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.ids, id)
}

func (l *leaseSet) list() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int64, 0, len(l.ids))
	for id := range l.ids {
		out = append(out, id)
	}
	return out
}
