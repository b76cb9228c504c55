package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/extensions"
	"github.com/jackc/pgx/v5"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/tracing"
)

// Relay publishes one schema's outbox. Only one relay per schema works at a time (a
// session-level advisory lock, on the process's session connection: docs/events.md), so
// events of one aggregate leave in the order they were recorded; events of different
// aggregates go out concurrently.
type Relay struct {
	DB        *database.DB
	Schema    string
	Publisher Publisher
	Logger    *slog.Logger
	// Batch bounds how many events one pass reads; Poll is the longest wait between passes
	// when no notification arrives; Parallel bounds aggregates published at once.
	Batch    int
	Poll     time.Duration
	Parallel int
	// Backoff is the first retry delay of an event the broker refused; it doubles per
	// attempt up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// PublishTimeout bounds one Publish, so a broker that never answers cannot stall the
	// relay (the event is retried like a refused one).
	PublishTimeout time.Duration
	// Tracer makes a producer span per publish (tracing.Off when nil).
	Tracer trace.TracerProvider

	once sync.Once
}

func (r *Relay) defaults() { r.once.Do(r.setDefaults) }

func (r *Relay) setDefaults() {
	if r.Batch <= 0 {
		r.Batch = 256
	}
	if r.Poll <= 0 {
		r.Poll = time.Second
	}
	if r.Parallel <= 0 {
		r.Parallel = 16
	}
	if r.Backoff <= 0 {
		r.Backoff = 500 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = time.Minute
	}
	if r.PublishTimeout <= 0 {
		r.PublishTimeout = 30 * time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Tracer == nil {
		r.Tracer = tracing.Off
	}
}

// pendingSQL reads events due for publishing, oldest first, leaving out any event whose
// aggregate has an earlier event still waiting for a retry: order per aggregate holds.
const pendingSQL = `SELECT seq, id, type, source, subject, time, data, attempts,
    coalesce(traceparent, ''), coalesce(tracestate, '') FROM %[1]s o
WHERE o.published_at IS NULL
  AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
  AND NOT EXISTS (SELECT 1 FROM %[1]s p
                  WHERE p.published_at IS NULL AND p.subject = o.subject AND p.seq < o.seq
                    AND p.next_attempt_at > now())
ORDER BY o.seq
LIMIT $1`

type pending struct {
	seq      int64
	event    cloudevents.Event
	attempts int
}

// Run publishes until ctx ends: it takes the schema's relay lock (waiting while another
// replica holds it), then drains after every notification and at least every Poll. The lock
// and the LISTEN live on the process's session connection (database.DB.TryLock, Subscribe),
// not on a connection held out of the pool for good.
func (r *Relay) Run(ctx context.Context) error {
	r.defaults()
	// Subscribed before the first pass, so a commit during any pass wakes the next.
	wake := r.DB.Subscribe(Notification, r.Schema)
	defer wake.Close()
	for ctx.Err() == nil {
		err := r.lead(ctx, wake)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.Logger.WarnContext(ctx, "relay: restarting", slog.String("schema", r.Schema), slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.Poll):
		}
	}
	return nil
}

// errLeadershipLost ends a leader's turn whose session connection dropped: its lock went
// with it, and another replica may lead now.
var errLeadershipLost = errors.New("relay lock lost with the session connection")

// lead holds the schema's relay lock and drains while it lasts. The key is the one every
// version of the relay takes, so replicas of old and new builds still exclude each other.
func (r *Relay) lead(ctx context.Context, wake *database.Subscription) error {
	lock, err := r.DB.TryLock(ctx, "orange.relay."+r.Schema)
	if err != nil || lock == nil {
		return err // nil lock: another replica relays; try again after Poll
	}
	defer lock.Release()
	// Leading here, this relay is woken in-process by this process's commits: they need not
	// notify through PostgreSQL (database.DB.Notify).
	wake.Lead(true)
	defer wake.Lead(false)
	// A lost lock stops the pass in flight: what it published unmarked goes out again
	// (at-least-once), rather than two leaders interleaving one aggregate's events.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-lock.Lost():
			cancel(errLeadershipLost)
		case <-ctx.Done():
		}
	}()
	poll := time.NewTimer(r.Poll)
	defer poll.Stop()
	for {
		n, err := r.Drain(ctx)
		if cause := context.Cause(ctx); errors.Is(cause, errLeadershipLost) {
			return cause
		}
		if err != nil {
			return err
		}
		if n == r.Batch {
			continue // more may be waiting
		}
		poll.Reset(r.Poll)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-wake.C:
		case <-poll.C:
		}
	}
}

// Drain makes one pass over the due events and returns how many it read. The events the
// broker accepted are marked published together, in one UPDATE at the end of the pass (one
// commit per pass, not per event); a crash or a failed mark before it means they go out
// again (at-least-once), never that one is lost. The next pass starts only after the mark,
// so an aggregate's events still leave in order.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	r.defaults()
	outbox := pgx.Identifier{r.Schema, "outbox"}.Sanitize()
	rows, err := r.DB.Background().Query(ctx, fmt.Sprintf(pendingSQL, outbox), r.Batch)
	if err != nil {
		return 0, err
	}
	var batch []pending
	for rows.Next() {
		var (
			p                        pending
			id, typ, source, subject string
			at                       time.Time
			data                     []byte
			tr                       extensions.DistributedTracingExtension
		)
		if err := rows.Scan(&p.seq, &id, &typ, &source, &subject, &at, &data, &p.attempts, &tr.TraceParent, &tr.TraceState); err != nil {
			rows.Close()
			return 0, err
		}
		e := cloudevents.NewEvent()
		e.SetID(id)
		e.SetType(typ)
		e.SetSource(source)
		e.SetSubject(subject)
		e.SetTime(at)
		e.SetExtension("partitionkey", subject)
		_ = e.SetData(cloudevents.ApplicationJSON, data)
		tr.AddTracingAttributes(&e)
		p.event = e
		batch = append(batch, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}

	// One sequence per aggregate, in seq order; aggregates in parallel.
	var order []string
	groups := map[string][]pending{}
	for _, p := range batch {
		if _, ok := groups[p.event.Subject()]; !ok {
			order = append(order, p.event.Subject())
		}
		groups[p.event.Subject()] = append(groups[p.event.Subject()], p)
	}
	sem := make(chan struct{}, r.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	published := make([]int64, 0, len(batch))
	for _, subject := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(group []pending) {
			defer func() { <-sem; wg.Done() }()
			seqs := r.publishInOrder(ctx, outbox, group)
			mu.Lock()
			published = append(published, seqs...)
			mu.Unlock()
		}(groups[subject])
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		// Stopped (or no longer leading): what went out unmarked goes out again.
		return len(batch), err
	}
	if len(published) > 0 {
		if _, err := r.DB.Background().Exec(ctx, `UPDATE `+outbox+` SET published_at = now() WHERE seq = ANY($1)`, published); err != nil {
			return len(batch), fmt.Errorf("mark %d published events: %w", len(published), err)
		}
	}
	return len(batch), nil
}

// publishInOrder publishes one aggregate's events, stopping at the first refusal so a later
// event never overtakes an earlier one, and returns the seqs the broker accepted (Drain marks
// them). A refusal is recorded at once: it is rare, and its backoff must hold from now.
func (r *Relay) publishInOrder(ctx context.Context, outbox string, group []pending) (published []int64) {
	for _, p := range group {
		pctx, cancel := context.WithTimeout(ctx, r.PublishTimeout)
		pctx, span := r.startPublish(pctx, &p)
		err := r.Publisher.Publish(pctx, p.event)
		endSpan(span, err, "not published")
		cancel()
		if err == nil {
			published = append(published, p.seq)
			continue
		}
		if ctx.Err() != nil {
			return published
		}
		delay := r.Backoff << min(p.attempts, 16)
		if delay > r.MaxBackoff || delay <= 0 {
			delay = r.MaxBackoff
		}
		r.Logger.WarnContext(ctx, "relay: publish failed; will retry",
			slog.String("schema", r.Schema), slog.String("event", p.event.ID()), slog.String("type", p.event.Type()),
			slog.Int("attempt", p.attempts+1), slog.Duration("retryIn", delay), slog.String("error", err.Error()))
		_, _ = r.DB.Background().Exec(ctx, `UPDATE `+outbox+` SET attempts = attempts + 1, last_error = $2,
			next_attempt_at = now() + $3 * interval '1 millisecond' WHERE seq = $1`, p.seq, err.Error(), delay.Milliseconds())
		return published
	}
	return published
}

// startPublish starts the producer span of one publish attempt, a child of the span that
// recorded the event, and makes it the event's traceparent: what the broker and the
// consumers continue.
func (r *Relay) startPublish(ctx context.Context, p *pending) (context.Context, trace.Span) {
	ctx, span := r.Tracer.Tracer(tracing.Scope).Start(WithEventParent(ctx, p.event), "publish "+p.event.Type(),
		trace.WithSpanKind(trace.SpanKindProducer))
	if span.IsRecording() {
		span.SetAttributes(append(EventAttributes(p.event), semconv.MessagingOperationTypeSend)...)
	}
	SetTrace(ctx, &p.event)
	return ctx, span
}
