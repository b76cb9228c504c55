package broker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Deliverer is the seam to subscribers: it sends e to one destination once and reports the
// subscriber's answer — a reply event when the 2xx response carried one, the HTTP status
// (0 when there was no response), and an error for a transport failure or a non-2xx answer
// (a *ResponseError then, when the body was read). It must not modify e; the broker
// retries.
type Deliverer func(ctx context.Context, to Destination, e cloudevents.Event) (reply *cloudevents.Event, status int, err error)

// ResponseError is a non-2xx answer; its body goes into the dead-letter event's
// knativeerrordata.
type ResponseError struct {
	Status int
	Body   []byte
}

// Error says which status came back, in the words of Knative's dispatcher.
func (e *ResponseError) Error() string {
	return fmt.Sprintf("unexpected HTTP response, expected 2xx, got %d", e.Status)
}

// The extensions Knative adds to a dead-lettered event (pkg/kncloudevents/attributes).
const (
	ExtErrorDest = "knativeerrordest"
	ExtErrorCode = "knativeerrorcode"
	ExtErrorData = "knativeerrordata"
	// errorDataMax is the longest knativeerrordata (base64 characters).
	errorDataMax = 1024
)

// attempt is the last failure of a delivery.
type attempt struct {
	status int
	body   []byte
	err    error
}

// process delivers j to r's subscriber with r's delivery spec, then to its dead-letter sink
// when that failed. Backoff waits end with ctx (the job is then not finished: ErrClosed);
// attempts run on the worker's context, which outlives ctx by the drain timeout.
func (b *Broker) process(ctx context.Context, w *worker, r *route, j *job) error {
	spec := r.trigger.Delivery
	last, reply, err := b.try(ctx, w, r, r.trigger.Subscriber, r.toSubscriber, j.event)
	if err != nil {
		return err
	}
	failedAt := r.trigger.Subscriber
	if last == nil && reply != nil {
		// The reply enters the Broker with the Trigger's identity (Knative's broker filter
		// forwards it to the ingress with the Trigger's OIDC token); refused, the delivery
		// failed as a reply the ingress answered 403 to.
		if refused := b.opts.Policies.check(r.subject, reply); refused != nil {
			last = &attempt{status: http.StatusForbidden, body: []byte(refused.Error()), err: refused}
			failedAt = Destination{Namespace: r.trigger.Namespace, Broker: r.trigger.Broker}
		}
	}
	if last == nil {
		r.delivered.Add(1)
		r.lag.observe(j.event.Time()) // metrics.go
		if reply != nil {
			return b.publishReply(ctx, r, reply, j.hops-1)
		}
		return nil
	}
	if spec.DeadLetterSink == nil {
		r.dropped.Add(1)
		b.failed(ctx, r, &j.event, last, "dropped: no dead-letter sink")
		return nil
	}
	dead := deadLetter(j.event, failedAt, last)
	// Knative sends Prefer: reply to subscribers only, not to the dead-letter sink.
	dlsFail, _, err := b.try(ctx, w, r, *spec.DeadLetterSink, r.toDeadLetter, dead)
	if err != nil {
		return err
	}
	if dlsFail != nil {
		r.dropped.Add(1)
		b.failed(ctx, r, &j.event, dlsFail, "dead-letter sink "+spec.DeadLetterSink.String()+" failed too")
		return fmt.Errorf("trigger %s: event %s undeliverable and dead-letter sink %s failed: %w",
			r.trigger.String(), j.event.ID(), spec.DeadLetterSink.String(), dlsFail.error())
	}
	r.deadLettered.Add(1)
	b.failed(ctx, r, &j.event, last, "dead-lettered to "+spec.DeadLetterSink.String())
	return nil
}

// try sends e to `to` with up to 1+Retry attempts, each attempt's context carrying info
// (its sender, whether to ask for a reply). It returns the last failure (nil when
// delivered) and the reply, or ErrClosed when ctx ended before a retry.
func (b *Broker) try(ctx context.Context, w *worker, r *route, to Destination, info *sendInfo, e cloudevents.Event) (*attempt, *cloudevents.Event, error) {
	spec := r.trigger.Delivery
	for n := 0; ; n++ {
		if n > 0 {
			if ctx.Err() != nil {
				return nil, nil, ErrClosed
			}
			r.retried.Add(1)
			if wait := spec.Backoff(n); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil, nil, ErrClosed
				case <-t.C:
				}
			}
		}
		actx, end := w.attempt(spec.Timeout)
		tctx, span := b.startDelivery(actx, r, to, e, n)
		reply, status, err := b.deliver(withSendInfo(tctx, info), to, e)
		endDelivery(span, status, err)
		end()
		if err == nil && status >= 200 && status < 300 {
			return nil, reply, nil
		}
		if err != nil && w.hard.Err() != nil {
			// The broker's drain timeout cut this attempt short: not the subscriber's
			// failure, so neither dropped nor dead-lettered — the job is not finished (a
			// durable row is released for the next run, as Knative's dispatchers leave an
			// unacknowledged event to the next pod).
			return nil, nil, ErrClosed
		}
		last := &attempt{status: status, err: err}
		var re *ResponseError
		if errors.As(err, &re) {
			last.body = re.Body
		} else if status >= 200 && status < 300 {
			// A 2xx whose reply could not be read: Knative's broker filter answers 502.
			last.status = 502
		}
		if n >= spec.Retry || !retryable(last.status) {
			return last, nil, nil
		}
	}
}

// code and data are what Knative's dispatcher records: the status, or 500 and
// "dispatch error: …" when there was no response.
func (a *attempt) code() int {
	if a.status <= 0 {
		return 500
	}
	return a.status
}

func (a *attempt) data() []byte {
	switch {
	case a.status <= 0:
		msg := "dispatch error"
		if a.err != nil {
			msg += ": " + a.err.Error()
		}
		return []byte(msg)
	case a.body != nil:
		return a.body
	case a.err != nil && !isResponseError(a.err):
		return []byte(a.err.Error())
	}
	return nil
}

func (a *attempt) error() error {
	if a.err != nil {
		return a.err
	}
	return fmt.Errorf("status %d", a.status)
}

func isResponseError(err error) bool {
	var re *ResponseError
	return errors.As(err, &re)
}

// deadLetter is e plus Knative's error extensions (kncloudevents
// dispatchExecutionInfoTransformers): the subscriber's URL, the status, and the base64 of
// the response body cut to 1024 characters.
func deadLetter(e cloudevents.Event, subscriber Destination, last *attempt) cloudevents.Event {
	out := e.Clone()
	if u, err := url.Parse(subscriber.URL()); err == nil {
		out.SetExtension(ExtErrorDest, types.URI{URL: *u})
	}
	out.SetExtension(ExtErrorCode, last.code())
	data := base64.StdEncoding.EncodeToString(last.data())
	if len(data) > errorDataMax {
		data = data[:errorDataMax]
	}
	out.SetExtension(ExtErrorData, data)
	return out
}

// failed logs an undeliverable event and remembers it for the dev endpoint.
func (b *Broker) failed(ctx context.Context, r *route, e *cloudevents.Event, last *attempt, outcome string) {
	b.log.WarnContext(ctx, "broker: event not delivered: "+outcome,
		slog.String("trigger", r.trigger.String()), slog.String("subscriber", r.trigger.Subscriber.String()),
		slog.String("event", e.ID()), slog.String("type", e.Type()), slog.String("source", e.Source()),
		slog.Int("status", last.code()), slog.String("error", last.error().Error()))
	b.recent.add(Failure{
		Time: time.Now().UTC(), Trigger: r.trigger.String(), Event: e.ID(), Type: e.Type(), Source: e.Source(),
		Status: last.code(), Error: last.error().Error(), Outcome: outcome,
	})
}
