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
	"github.com/jackc/pgx/v5"

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
	//
	// A row marked in $5 is inserted already leased to this process (visible_at a lease
	// ahead, attempts 1, as a claim leaves it) and its id is returned with its position, so
	// the dispatcher gets it from memory without claiming it (handOff). The ids are drawn in
	// a CTE read twice, which PostgreSQL evaluates once: each returned id is its row's.
	insertSQL = `WITH input AS (
	SELECT nextval(pg_get_serial_sequence('broker.deliveries', 'id')) AS id, r.trigger, r.which, r.leased, r.pos
	FROM unnest($1::text[], $4::int[], $5::bool[]) WITH ORDINALITY AS r(trigger, which, leased, pos)
), ins AS (
	INSERT INTO broker.deliveries (id, trigger, event, hops, visible_at, attempts) OVERRIDING SYSTEM VALUE
	SELECT i.id, i.trigger, ($2::bytea[])[i.which], ($3::int[])[i.which],
		CASE WHEN i.leased THEN now() + $6 * interval '1 millisecond' ELSE now() END,
		CASE WHEN i.leased THEN 1 ELSE 0 END
	FROM input i
)
SELECT id, pos FROM input WHERE leased`
	//
	// claimSQL picks the rows in a MATERIALIZED CTE: as a subquery in FROM, the planner may
	// rescan it for each row of a nested loop, and with SKIP LOCKED each rescan can pick other
	// rows, so the UPDATE leased more rows than the LIMIT — which stalled a dispatcher for
	// good (it handed out more rows than it had slots; seen under load in orange dev).
	claimSQL = `WITH c AS MATERIALIZED (
	SELECT id FROM broker.deliveries WHERE trigger = $1 AND visible_at <= now()
	ORDER BY visible_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
UPDATE broker.deliveries d SET visible_at = now() + $3 * interval '1 millisecond', attempts = d.attempts + 1
FROM c WHERE d.id = c.id
RETURNING d.id, d.event, d.hops, d.attempts`
	ackSQL     = `DELETE FROM broker.deliveries WHERE id = ANY($1)`
	releaseSQL = `UPDATE broker.deliveries SET visible_at = now() + $2 * interval '1 millisecond' WHERE id = $1`
	renewSQL   = `UPDATE broker.deliveries SET visible_at = now() + $2 * interval '1 millisecond' WHERE id = ANY($1)`
	countSQL   = `SELECT trigger, count(*) FROM broker.deliveries GROUP BY trigger`
)

// planned runs a statement on broker.deliveries with a plan made for the table as it is
// now (pgx sends it as the unnamed statement; only its description is cached). A queue
// table defeats PostgreSQL's cached generic plans: each vacuum cuts the table to no pages
// and records no rows, every connection plans its statements anew, and for an empty table
// a sequential scan is as good as any — so that plan was kept while the heap filled again
// with the dead versions of delivered rows, and every claim read the whole heap, twice
// (orange dev at 50 bookings/s: ~450 pages and ~0.9 ms per claim, most of them finding
// nothing). Planned each time, PostgreSQL sees the heap's size and takes the claim index,
// for tens of µs of planning (TestDurableClaimsDoNotScanTheHeap).
const planned = pgx.QueryExecModeCacheDescribe

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
	routes := make([]*route, len(matched))
	copy(routes, matched)
	own := e.Clone() // the rows handed over carry it after this publish returned
	if err := b.appends.add(ctx, b, routes, &own, data, hops); err != nil {
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
	routes []*route
	event  *cloudevents.Event
	data   []byte
	hops   int
	done   chan error
}

// add queues one publish's rows and waits until they are committed. A caller whose ctx
// ends first gets its error, though its rows may still be committed: at-least-once, the
// consumers' inboxes drop the copy.
func (a *appendBatch) add(ctx context.Context, b *Broker, routes []*route, e *cloudevents.Event, data []byte, hops int) error {
	req := &appendReq{routes: routes, event: e, data: data, hops: hops, done: make(chan error, 1)}
	a.mu.Lock()
	a.queue = append(a.queue, req)
	if !a.running {
		a.running = true
		go a.flush(b)
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

// flush inserts what is queued, batch after batch, until the queue is empty. Only one flush
// runs at a time, so only it adds to the routes' fresh queues, and the room it counts there
// cannot shrink before it hands the rows over.
func (a *appendBatch) flush(b *Broker) {
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
			names  []string
			which  []int32
			leased []bool
			rows   []*route // the route of each row, in order
			data   = make([][]byte, len(batch))
			hops   = make([]int32, len(batch))
			room   = map[*route]int{}
		)
		for i, req := range batch {
			data[i], hops[i] = req.data, int32(req.hops)
			for _, r := range req.routes {
				names = append(names, r.key)
				which = append(which, int32(i+1))
				rows = append(rows, r)
				leased = append(leased, b.mayHandOff(r, room))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
		err := b.insertRows(ctx, batch, names, data, hops, which, leased, rows)
		cancel()
		for _, req := range batch {
			req.done <- err
		}
	}
}

// mayHandOff reports whether a new row for r can skip its claim: Run is delivering, r's
// fresh queue has room for it (room counts what this batch already took) and no row of r
// waits in the table — a row behind others goes to the table too, so that the claim keeps
// their order and nothing waiting there is overtaken for long.
func (b *Broker) mayHandOff(r *route, room map[*route]int) bool {
	if !b.dispatching.Load() || r.backlog.Load() > 0 {
		return false
	}
	if _, ok := room[r]; !ok {
		room[r] = cap(r.fresh) - len(r.fresh)
	}
	if room[r] == 0 {
		return false
	}
	room[r]--
	return true
}

// insertRows runs one batch's INSERT and hands the leased rows to their dispatchers; the
// others are counted as r's backlog, which its dispatcher claims.
func (b *Broker) insertRows(ctx context.Context, batch []*appendReq, names []string, data [][]byte, hops, which []int32, leased []bool, rows []*route) error {
	res, err := b.db.Background().Query(ctx, insertSQL, names, data, hops, which, leased, b.opts.Lease.Milliseconds())
	if err != nil {
		return err
	}
	type handed struct{ id, pos int64 }
	ids, err := pgx.CollectRows(res, func(row pgx.CollectableRow) (h handed, err error) {
		return h, row.Scan(&h.id, &h.pos)
	})
	if err != nil {
		return err
	}
	for i, r := range rows {
		if !leased[i] {
			r.backlog.Add(1)
		}
	}
	for _, h := range ids {
		i := int(h.pos) - 1
		r, req := rows[i], batch[which[i]-1]
		b.leases.add(h.id)
		r.fresh <- row{id: h.id, job: job{event: *req.event, hops: req.hops}, attempts: 1}
	}
	return nil
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
	b.dispatching.Store(true)
	<-ctx.Done()
	b.dispatching.Store(false)
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

// dispatch hands r's rows to its workers while it has idle ones: the rows its process just
// inserted come from memory (r.fresh, leased at insertion), first; the table is claimed from when
// rows of r wait there (r.backlog: rows inserted while the fresh queue was full or others
// waited, or by an earlier run) and at least once per Poll (retries coming due, leases run
// out, rows of other processes). It sleeps until an event is queued for r, a worker
// finishes or Poll passes. Once ctx ended it stops, waits for its workers, which release
// what they did not start, and releases the fresh rows nobody took.
//
// Before the hand-off every delivery cost a claim — an UPDATE of its row, which left a dead
// version in the claim index's visible range for every later claim to step over: in
// `orange dev` at 100 bookings/s the claims took ~1.7 ms each, two thirds of PostgreSQL's
// time (docs/performance.md).
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
		b.releaseFresh(hard, r)
	}()
	poll := time.NewTimer(b.opts.Poll)
	defer poll.Stop()
	var lastClaim time.Time // none yet: rows of an earlier run are claimed first
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
		// Fresh rows first: they are older than any row counted in the backlog, since an
		// insert puts rows in the table only while the fresh queue is full or a backlog
		// waits. Then the table, for the rest of the slots.
		var got []row
	fresh:
		for len(got) < n {
			select {
			case rw := <-r.fresh:
				got = append(got, rw)
			default:
				break fresh
			}
		}
		if seen := r.backlog.Load(); len(got) < n && (seen > 0 || time.Since(lastClaim) >= b.opts.Poll) {
			claimed, err := b.claim(ctx, r, n-len(got))
			if err != nil && ctx.Err() == nil {
				b.log.WarnContext(ctx, "broker: claim failed", slog.String("trigger", r.trigger.String()), slog.String("error", err.Error()))
			}
			lastClaim = time.Now()
			if err == nil && len(claimed) < n-len(got) {
				// The table held no more visible rows of r when the claim ran; rows counted
				// since then keep the backlog up.
				r.backlog.CompareAndSwap(seen, 0)
			}
			got = append(got, claimed...)
		}
		for range n - len(got) {
			<-slots
		}
		for _, rw := range got {
			jobs <- rw
		}
		if len(got) == n {
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

// releaseFresh makes the rows left in r's fresh queue visible again for the next run (or
// another process) instead of waiting out their leases. A row an insert hands over after
// this stays leased until its lease runs out: delivered later, not lost.
func (b *Broker) releaseFresh(hard context.Context, r *route) {
	var ids []int64
drain:
	for {
		select {
		case rw := <-r.fresh:
			ids = append(ids, rw.id)
		default:
			break drain
		}
	}
	b.releaseNow(hard, ids)
	for _, id := range ids {
		b.leases.remove(id)
	}
}

// releaseNow makes rows this process leased visible at once (best effort: a row it misses
// comes back when its lease runs out).
func (b *Broker) releaseNow(ctx context.Context, ids []int64) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, _ = b.db.Pool.Exec(ctx, renewSQL, planned, ids, 0)
}

// claim leases up to n of r's visible rows to this process.
func (b *Broker) claim(ctx context.Context, r *route, n int) ([]row, error) {
	rows, err := b.db.Pool.Query(ctx, claimSQL, planned, r.key, n, b.opts.Lease.Milliseconds())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []row
	var extra []int64
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
		if len(out) == n {
			// More rows than asked for must never reach the dispatcher, which has a slot
			// for n (claimSQL): give any extra back at once.
			extra = append(extra, rw.id)
			continue
		}
		b.leases.add(rw.id)
		r.claimed.Add(1)
		out = append(out, rw)
	}
	err = rows.Err()
	if len(extra) > 0 {
		b.log.ErrorContext(ctx, "broker: a claim returned more rows than asked; released the extra",
			slog.String("trigger", r.trigger.String()), slog.Int("asked", n), slog.Int("extra", len(extra)))
		b.releaseNow(ctx, extra)
	}
	return out, err
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
		_, _ = b.db.Pool.Exec(sctx, releaseSQL, planned, rw.id, 0)
	default:
		wait := min(time.Second<<min(rw.attempts, 10), 5*time.Minute)
		b.log.WarnContext(ctx, "broker: event kept for a later try", slog.String("trigger", r.trigger.String()),
			slog.String("event", rw.job.event.ID()), slog.Duration("retryIn", wait), slog.String("error", err.Error()))
		_, _ = b.db.Pool.Exec(sctx, releaseSQL, planned, rw.id, wait.Milliseconds())
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
		_, err := b.db.Pool.Exec(ctx, ackSQL, planned, ids)
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
		if _, err := b.db.Pool.Exec(ctx, renewSQL, planned, ids, b.opts.Lease.Milliseconds()); err != nil {
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
