package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// ErrClosed is returned by Publish for events the broker did not finish delivering
// because it stopped (or had not started and was stopped): the relay publishes them again.
var ErrClosed = errors.New("in-process broker stopped")

// maxHops bounds reply chains like the broker ingress's default knativebrokerttl (255).
const maxHops = 255

// Options tune a Broker; zero values take the defaults.
type Options struct {
	// QueueSize bounds each Trigger's in-memory queue (default 256). A full queue blocks
	// Publish.
	QueueSize int
	// DB, when set, makes the queues durable: one table in the broker's own schema
	// (Migrations, applied beforehand), Publish returns once the event is inserted, and each
	// Trigger's workers claim its rows (durable.go). nil: in-memory queues, and Publish
	// waits for the deliveries.
	DB *database.DB
	// MaxQueued bounds each Trigger's durable queue (default 10000 rows): Publish waits
	// while a matching Trigger holds that many, and fails with ErrQueueFull when its
	// context ends first.
	MaxQueued int
	// Lease is how long a claimed row stays invisible to other workers (default 30 s); it
	// is renewed while its delivery runs, so it bounds only how soon the rows of a killed
	// process are delivered again.
	Lease time.Duration
	// Poll is how often an idle Trigger looks for rows it was not told about — leases
	// that ran out, rows left by an earlier run or queued by another process (default 1 s).
	// Publish in this process wakes the Trigger at once.
	Poll time.Duration
	// Workers is how many deliveries of one Trigger run at once (default 16); like a
	// Knative Broker, the broker keeps no order. With durable queues each Trigger keeps
	// as many rows again claimed ahead, so a finishing worker needs no round trip.
	Workers int
	// DrainTimeout bounds how long Run waits, once its context ended, for attempts in
	// flight (default 30 s); they are cancelled after it.
	DrainTimeout time.Duration
	// Logger gets dead letters, drops and shutdown notes (slog.Default when nil).
	Logger *slog.Logger
	// Policies are the EventPolicies of the Broker (NewPolicies), enforced by PublishAs
	// and on replies. nil: no authorization at all, as a cluster without Eventing's
	// authentication-oidc feature.
	Policies *Policies
	// Tracer makes a span per delivery attempt, a child of the event's traceparent
	// (tracing.Off when nil).
	Tracer trace.TracerProvider
}

// Broker is the in-process Broker: one bounded queue and one worker pool per Trigger.
type Broker struct {
	routes  []*route
	deliver Deliverer
	opts    Options
	log     *slog.Logger

	mu       sync.RWMutex // held for reading while enqueuing; Run takes it to close
	closed   bool
	stopping chan struct{} // closed when Run's context ended
	running  atomic.Bool
	replies  sync.WaitGroup
	db       *database.DB
	leases   leaseSet
	appends  appendBatch // concurrent publishes' rows, inserted together (durable.go)
	// dispatching is true while runDurable's dispatchers take rows: only then are new rows
	// handed to them leased.
	dispatching atomic.Bool
	counted     sync.Once // the queues' depths read from the table (durable.go)

	recent recentFailures
}

var _ events.Publisher = (*Broker)(nil)

// route is a Trigger at run time.
type route struct {
	trigger Trigger
	match   matcher
	queue   chan *job
	// toSubscriber and toDeadLetter tell the Deliverer who sends (the Trigger, for both,
	// as Knative's broker filter does) and whether to ask for a reply.
	toSubscriber, toDeadLetter *sendInfo
	// subject is the Trigger's OIDC subject, the identity its replies enter the Broker
	// with.
	subject string
	// key names the Trigger's rows in the durable queue (namespace/name); wake tells its
	// dispatcher that rows were queued or a worker finished; queued counts its rows.
	key    string
	wake   chan struct{}
	queued atomic.Int64
	// fresh holds rows this process inserted already leased, for the dispatcher to take
	// without a claim; backlog counts rows inserted visible since a claim last found none
	// (durable.go).
	fresh   chan row
	backlog atomic.Int64
	counters
}

// job is one event for one Trigger; done gets the outcome (nil: acked, dead-lettered or
// dropped as the spec says; else the event was not finished).
type job struct {
	event cloudevents.Event
	hops  int
	done  chan error
}

// New returns a broker for triggers that delivers through deliver. Call Run to start it.
func New(triggers []Trigger, deliver Deliverer, opts Options) *Broker {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 256
	}
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = 10000
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	b := &Broker{deliver: deliver, opts: opts, log: opts.Logger, stopping: make(chan struct{}), db: opts.DB}
	for i := range triggers {
		t := triggers[i]
		sender := platform.Trigger(t.Name)
		b.routes = append(b.routes, &route{
			trigger: t, match: triggerMatcher(&t), queue: make(chan *job, opts.QueueSize),
			toSubscriber: &sendInfo{sender: sender, namespace: t.Namespace},
			toDeadLetter: &sendInfo{sender: sender, namespace: t.Namespace, noReply: true},
			subject:      SenderSubject(sender, t.Namespace),
			key:          t.String(), wake: make(chan struct{}, 1),
			fresh: make(chan row, 4*opts.Workers),
		})
	}
	return b
}

// Run delivers until ctx ends, then stops taking events, lets the attempts in flight finish
// (up to DrainTimeout) and fails what is still queued with ErrClosed. It returns nil then.
func (b *Broker) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("broker: Run called twice")
	}
	if b.db != nil {
		return b.runDurable(ctx)
	}
	// Attempts in flight outlive ctx by up to DrainTimeout.
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	var workers sync.WaitGroup
	for _, r := range b.routes {
		for range b.opts.Workers {
			workers.Go(func() { b.work(ctx, newWorker(hard), r) })
		}
	}
	<-ctx.Done()
	close(b.stopping)
	b.mu.Lock() // publishers blocked on a full queue have seen stopping and left
	b.closed = true
	b.mu.Unlock()
	// Nobody sends any more: closing the queues wakes idle workers, and the others fail
	// what is still queued with ErrClosed after their attempt in flight.
	for _, r := range b.routes {
		close(r.queue)
	}
	stop := time.AfterFunc(b.opts.DrainTimeout, cancelHard)
	workers.Wait()
	stop.Stop()
	b.replies.Wait()
	return nil
}

// Publish implements events.Publisher: it hands e to every Trigger whose filter it passes
// — waiting while a Trigger's queue is full — and returns once every one of them finished
// (acked, or dead-lettered or dropped after its retries as its delivery spec says). No
// matching Trigger: nil at once. An error means some Trigger did not finish (ctx ended, the
// broker stopped, the dead-letter sink failed too); publishing again is safe, as consumers
// are idempotent. e's data and extensions are shared with the deliveries, possibly past an
// early return: don't modify them.
//
// With Options.DB the queues are durable and Publish returns once e is queued for every
// matching Trigger, in one INSERT shared with the publishes arriving meanwhile (see
// durable.go): it then survives a crash. An error means it may not be queued: publish again
// (a ctx that ended while the INSERT ran may leave a copy queued, which the consumers'
// inboxes drop).
func (b *Broker) Publish(ctx context.Context, e cloudevents.Event) error {
	if b.db != nil {
		return b.append(ctx, &e, maxHops)
	}
	done, n, err := b.enqueue(ctx, e, maxHops)
	if n == 0 || err != nil {
		return err
	}
	var errs []error
	for range n {
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			return ctx.Err() // done stays with the workers
		}
	}
	putDone(done)
	return errors.Join(errs...)
}

// PublishAs is Publish for an event sent with the OIDC identity subject (a token's `sub`,
// system:serviceaccount:<namespace>:<name>), as a cluster's broker ingress receives it: when
// the Broker's EventPolicies (Options.Policies) do not let subject send e, it returns a
// *PolicyError and delivers nothing; otherwise it publishes e like Publish.
func (b *Broker) PublishAs(ctx context.Context, subject string, e cloudevents.Event) error {
	if err := b.opts.Policies.check(subject, &e); err != nil {
		return err
	}
	return b.Publish(ctx, e)
}

// As returns a Publisher that publishes with b.PublishAs as subject: what an in-process
// outbox relay of a function publishes through, under the function's own identity.
func (b *Broker) As(subject string) events.Publisher {
	return publisherAs{b: b, subject: subject}
}

type publisherAs struct {
	b       *Broker
	subject string
}

func (p publisherAs) Publish(ctx context.Context, e cloudevents.Event) error {
	return p.b.PublishAs(ctx, p.subject, e)
}

// enqueue puts e on the queue of every matching Trigger and returns the channel their
// outcomes arrive on and how many there will be.
func (b *Broker) enqueue(ctx context.Context, e cloudevents.Event, hops int) (chan error, int, error) {
	j := &job{event: e, hops: hops}
	var buf [16]*route
	matched := buf[:0]
	for _, r := range b.routes {
		if r.match.eval(&j.event) != fail {
			matched = append(matched, r)
		}
	}
	if len(matched) == 0 {
		return nil, 0, nil
	}
	j.done = getDone(len(matched))
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, 0, ErrClosed
	}
	for _, r := range matched {
		select {
		case r.queue <- j:
			continue
		default:
		}
		r.blocked.Add(1)
		select {
		case r.queue <- j:
			r.blocked.Add(-1)
		case <-ctx.Done():
			r.blocked.Add(-1)
			return nil, 0, ctx.Err()
		case <-b.stopping:
			r.blocked.Add(-1)
			return nil, 0, ErrClosed
		}
	}
	return j.done, len(matched), nil
}

// donePools recycle the outcome channels of Publish calls that read every outcome (so no
// worker holds them any more), by capacity.
var donePools [8]sync.Pool

func getDone(n int) chan error {
	if n <= len(donePools) {
		if c, ok := donePools[n-1].Get().(chan error); ok {
			return c
		}
	}
	return make(chan error, n)
}

func putDone(c chan error) {
	if n := cap(c); n <= len(donePools) {
		donePools[n-1].Put(c)
	}
}

// work runs one worker of r until its queue is closed; once ctx ended it fails the jobs it
// still finds with ErrClosed instead of delivering them.
func (b *Broker) work(ctx context.Context, w *worker, r *route) {
	for j := range r.queue {
		if ctx.Err() != nil {
			j.done <- ErrClosed
			continue
		}
		r.inFlight.Add(1)
		j.done <- b.process(ctx, w, r, j)
		r.inFlight.Add(-1)
	}
}

// publishReply sends a subscriber's reply back into the broker without waiting for its
// deliveries, as a Knative Broker's ingress accepts it. With durable queues the reply is
// queued before the original event is settled (an error: it was not, and the original is
// delivered again).
func (b *Broker) publishReply(ctx context.Context, from *route, reply *cloudevents.Event, hops int) error {
	if hops <= 0 {
		from.dropped.Add(1)
		b.log.WarnContext(ctx, "broker: reply dropped: hop limit reached (a reply loop?)",
			slog.String("trigger", from.trigger.String()), slog.String("event", reply.ID()), slog.String("type", reply.Type()))
		return nil
	}
	if b.db != nil {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return b.append(rctx, reply, hops)
	}
	b.replies.Go(func() {
		if _, _, err := b.enqueue(ctx, *reply, hops); err != nil {
			b.log.WarnContext(ctx, "broker: reply not published", slog.String("trigger", from.trigger.String()),
				slog.String("event", reply.ID()), slog.String("type", reply.Type()), slog.String("error", err.Error()))
		}
	})
	return nil
}

// MaxDelivery is the longest an in-memory Publish can take once its event is queued (a
// durable one returns once the event is inserted): the largest
// Delivery.MaxDuration of the Triggers (0 when one of them is unbounded). A caller that
// bounds Publish — the relay's PublishTimeout — should allow at least this, or an event
// whose delivery is still retrying is published again.
func (b *Broker) MaxDelivery() time.Duration {
	var longest time.Duration
	for _, r := range b.routes {
		d := r.trigger.Delivery.MaxDuration()
		if d == 0 {
			return 0
		}
		longest = max(longest, d)
	}
	return longest
}

// String names the broker's Triggers, for logs.
func (b *Broker) String() string {
	return fmt.Sprintf("in-process broker (%d triggers)", len(b.routes))
}
