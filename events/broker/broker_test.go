package broker_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
)

func TestDeliverySemantics(t *testing.T) {
	t.Parallel()
	const retry = 3
	status := func(code int, body string) func(int, http.ResponseWriter, *http.Request) {
		return func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}
	}
	cases := []struct {
		name     string
		respond  func(n int, w http.ResponseWriter, r *http.Request)
		attempts int
		// dead: the dead-letter sink gets the event with this code and data (base64 of it).
		dead     bool
		code     string
		data     string
		dataPart string // for transport errors: a part of the decoded data
	}{
		{name: "202 is done", respond: nil, attempts: 1},
		{name: "200 with empty body is done", respond: status(200, ""), attempts: 1},
		{name: "500 is retried then dead-lettered", respond: status(500, `{"title":"boom"}`), attempts: 1 + retry, dead: true, code: "500", data: `{"title":"boom"}`},
		{name: "503 is retried then dead-lettered", respond: status(503, "busy"), attempts: 1 + retry, dead: true, code: "503", data: "busy"},
		{name: "400 is dead-lettered without retry", respond: status(400, "bad event"), attempts: 1, dead: true, code: "400", data: "bad event"},
		{name: "422 is dead-lettered without retry", respond: status(422, ""), attempts: 1, dead: true, code: "422", data: ""},
		{name: "404 is retried, as Knative does", respond: status(404, "not ready"), attempts: 1 + retry, dead: true, code: "404", data: "not ready"},
		{name: "429 is retried, as Knative does", respond: status(429, ""), attempts: 1 + retry, dead: true, code: "429", data: ""},
		{name: "fails twice then succeeds: delivered once", respond: func(n int, w http.ResponseWriter, _ *http.Request) {
			if n <= 2 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}, attempts: 3},
		{name: "no response is retried, dead letter says 500", respond: func(int, http.ResponseWriter, *http.Request) {
			panic("consumer crashed")
		}, attempts: 1 + retry, dead: true, code: "500", dataPart: "dispatch error: "},
		{name: "a 200 with a body that is no CloudEvent fails as in Knative's filter", respond: status(200, "OK"), attempts: 1 + retry, dead: true, code: "502", dataPart: "not recognized as CloudEvent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sub := &recorder{respond: tc.respond}
			dlq := &recorder{}
			b := start(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", retry, "dead-letter")}, broker.Options{},
				map[string]http.Handler{"worker": sub, "dead-letter": dlq})
			e := event(events.CustomerRegistered)
			require.NoError(t, b.Publish(ctxTimeout(t, 10*time.Second), e))

			assert.Equal(t, tc.attempts, int(sub.attempts.Load()), "attempts")
			for _, got := range sub.got() {
				assert.Equal(t, e.ID(), got.ID())
			}
			st := statsOf(b, "t")
			assert.Equal(t, int64(tc.attempts-1), st.Retried, "retried")
			if !tc.dead {
				assert.Empty(t, dlq.got())
				assert.Equal(t, int64(1), st.Delivered)
				assert.Zero(t, st.DeadLettered)
				return
			}
			require.Len(t, dlq.got(), 1)
			dead := dlq.got()[0]
			assert.Equal(t, e.ID(), dead.ID())
			assert.Equal(t, e.Type(), dead.Type())
			assert.JSONEq(t, string(e.Data()), string(dead.Data()))
			assert.Equal(t, "http://worker.orange.svc.cluster.local/cloudevents", extension(t, dead, broker.ExtErrorDest))
			assert.Equal(t, tc.code, extension(t, dead, broker.ExtErrorCode))
			raw, err := base64.StdEncoding.DecodeString(extension(t, dead, broker.ExtErrorData))
			require.NoError(t, err)
			if tc.dataPart != "" {
				assert.Contains(t, string(raw), tc.dataPart)
			} else {
				assert.Equal(t, tc.data, string(raw))
			}
			assert.Equal(t, int64(1), st.DeadLettered)
			assert.Zero(t, st.Delivered)
		})
	}
}

func TestTimeoutIsRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	sub := &recorder{respond: func(_ int, w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers in time
	}}
	dlq := &recorder{}
	tg := trigger("slow", events.CustomerRegistered, "worker", 1, "dead-letter")
	tg.Delivery.Timeout = 50 * time.Millisecond
	b := start(t, []broker.Trigger{tg}, broker.Options{}, map[string]http.Handler{"worker": sub, "dead-letter": dlq})
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.CustomerRegistered)))
	assert.Equal(t, int32(2), sub.attempts.Load())
	require.Len(t, dlq.got(), 1)
	assert.Equal(t, "500", extension(t, dlq.got()[0], broker.ExtErrorCode))
}

func TestNoDeadLetterSinkDropsAndCounts(t *testing.T) {
	t.Parallel()
	sub := &recorder{respond: func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) }}
	b := start(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 2, "")}, broker.Options{},
		map[string]http.Handler{"worker": sub})
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.CustomerRegistered)), "dropped as the spec says: finished")
	st := statsOf(b, "t")
	assert.Equal(t, int64(1), st.Dropped)
	assert.Zero(t, st.Delivered)
}

func TestFailingDeadLetterSinkFailsPublish(t *testing.T) {
	t.Parallel()
	fail := func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }
	sub, dlq := &recorder{respond: fail}, &recorder{respond: fail}
	b := start(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 1, "dead-letter")}, broker.Options{},
		map[string]http.Handler{"worker": sub, "dead-letter": dlq})
	err := b.Publish(ctxTimeout(t, 5*time.Second), event(events.CustomerRegistered))
	require.Error(t, err, "the relay must publish it again")
	assert.Equal(t, int32(2), dlq.attempts.Load(), "the sink gets the same retries")
	assert.Equal(t, int64(1), statsOf(b, "t").Dropped)
}

func TestPublishReturnsAfterDeliveryFinished(t *testing.T) {
	t.Parallel()
	var finished atomic.Int32
	slow := &recorder{respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
		time.Sleep(30 * time.Millisecond)
		finished.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}}
	failing := &recorder{respond: func(n int, w http.ResponseWriter, _ *http.Request) {
		time.Sleep(10 * time.Millisecond)
		w.WriteHeader(http.StatusInternalServerError)
	}}
	dlq := &recorder{}
	b := start(t, []broker.Trigger{
		trigger("slow", events.CustomerRegistered, "slow", 0, ""),
		trigger("failing", events.CustomerRegistered, "failing", 2, "dead-letter"),
		trigger("other", events.ReservationCreated, "other", 0, ""),
	}, broker.Options{}, map[string]http.Handler{"slow": slow, "failing": failing, "dead-letter": dlq, "other": &recorder{}})

	for range 5 {
		require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.CustomerRegistered)))
		// Both matching Triggers finished: the slow one acked, the failing one dead-lettered.
		assert.Equal(t, slow.attempts.Load(), finished.Load())
	}
	assert.Equal(t, int32(5), finished.Load())
	assert.Len(t, dlq.got(), 5)
	assert.Equal(t, int32(15), failing.attempts.Load())
	assert.Zero(t, statsOf(b, "other").Delivered, "filters keep other types away")
}

func TestPublishWithoutMatchingTriggerReturnsAtOnce(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	defer close(gate)
	gated := &recorder{respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-gate
		w.WriteHeader(http.StatusAccepted)
	}}
	b := start(t, []broker.Trigger{trigger("gated", events.CustomerRegistered, "gated", 0, "")}, broker.Options{QueueSize: 1, Workers: 1},
		map[string]http.Handler{"gated": gated})
	// Fill the gated Trigger: one in flight, one queued.
	for range 2 {
		go func() { _ = b.Publish(context.Background(), event(events.CustomerRegistered)) }()
	}
	require.Eventually(t, func() bool { s := statsOf(b, "gated"); return s.InFlight == 1 && s.Queued == 1 }, 5*time.Second, time.Millisecond)

	start := time.Now()
	require.NoError(t, b.Publish(ctxTimeout(t, time.Second), event(events.PaymentCaptured)))
	assert.Less(t, time.Since(start), 50*time.Millisecond)
}

func TestFullQueueBlocksProducersAndLosesNothing(t *testing.T) {
	t.Parallel()
	const producers, perProducer = 4, 10
	gate := make(chan struct{})
	sub := &recorder{respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-gate
		w.WriteHeader(http.StatusAccepted)
	}}
	b := start(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 0, "")}, broker.Options{QueueSize: 2, Workers: 1},
		map[string]http.Handler{"worker": sub})

	var returned atomic.Int32
	var wg sync.WaitGroup
	published := make(chan string, producers*perProducer)
	errs := make(chan error, producers*perProducer)
	for range producers {
		wg.Go(func() {
			for range perProducer {
				e := event(events.CustomerRegistered)
				published <- e.ID()
				errs <- b.Publish(context.Background(), e)
				returned.Add(1)
			}
		})
	}
	// One delivery in flight, two queued, every producer blocked: on the full queue, or
	// waiting for its event's delivery.
	require.Eventually(t, func() bool {
		s := statsOf(b, "t")
		return s.InFlight == 1 && s.Queued == 2 && s.Blocked == producers-3
	}, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	assert.Zero(t, returned.Load(), "no producer got past a full queue")
	assert.Equal(t, 2, statsOf(b, "t").Queued, "the bound holds")

	close(gate)
	wg.Wait()
	close(errs)
	close(published)
	for err := range errs {
		require.NoError(t, err)
	}
	got := sub.ids()
	require.Len(t, got, producers*perProducer)
	for id := range published {
		assert.Equal(t, 1, got[id], "event %s delivered exactly once", id)
	}
	assert.Equal(t, int64(producers*perProducer), statsOf(b, "t").Delivered)
}

func TestPublishGivesUpWithItsContextOnAFullQueue(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	defer close(gate)
	sub := &recorder{respond: func(_ int, w http.ResponseWriter, _ *http.Request) { <-gate }}
	b := start(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 0, "")}, broker.Options{QueueSize: 1, Workers: 1},
		map[string]http.Handler{"worker": sub})
	for range 2 {
		go func() { _ = b.Publish(context.Background(), event(events.CustomerRegistered)) }()
	}
	require.Eventually(t, func() bool { s := statsOf(b, "t"); return s.InFlight == 1 && s.Queued == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := b.Publish(ctx, event(events.CustomerRegistered))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestReplyIsPublishedBackIntoTheBroker(t *testing.T) {
	t.Parallel()
	replier := &recorder{respond: func(_ int, w http.ResponseWriter, r *http.Request) {
		reply := cloudevents.NewEvent()
		reply.SetID("reply-1")
		reply.SetType(events.PaymentAuthorized)
		reply.SetSource("payments-api")
		_ = reply.SetData(cloudevents.ApplicationJSON, map[string]any{"paymentId": "p-1"})
		_ = cehttp.WriteResponseWriter(r.Context(), binding.ToMessage(&reply), http.StatusOK, w)
	}}
	downstream := &recorder{}
	b := start(t, []broker.Trigger{
		trigger("replier", events.ReservationCreated, "payments-api", 0, ""),
		trigger("downstream", events.PaymentAuthorized, "reservations-api", 0, ""),
	}, broker.Options{}, map[string]http.Handler{"payments-api": replier, "reservations-api": downstream})
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.ReservationCreated)))
	require.Eventually(t, func() bool { return len(downstream.got()) == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, "reply-1", downstream.got()[0].ID())
}

func TestReplyLoopsEndAtTheHopLimit(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	echo := &recorder{respond: func(_ int, w http.ResponseWriter, r *http.Request) {
		e, _ := cloudevents.NewEventFromHTTPRequest(r)
		reply := e.Clone()
		reply.SetID(e.ID() + "+")
		n.Add(1)
		_ = cehttp.WriteResponseWriter(r.Context(), binding.ToMessage(&reply), http.StatusOK, w)
	}}
	b := start(t, []broker.Trigger{trigger("echo", events.ReservationCreated, "echo", 0, "")}, broker.Options{},
		map[string]http.Handler{"echo": echo})
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.ReservationCreated)))
	require.Eventually(t, func() bool { return statsOf(b, "echo").Dropped == 1 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, int32(255), n.Load(), "the original plus 254 replies, like knativebrokerttl 255")
}

func TestShutdownFinishesInFlightAndFailsQueued(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var finished atomic.Int32
	sub := &recorder{respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-release
		finished.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}}
	tr := []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 0, "")}
	b, stop := startManual(t, tr, broker.Options{QueueSize: 4, Workers: 1}, map[string]http.Handler{"worker": sub})

	first := make(chan error, 1)
	go func() { first <- b.Publish(context.Background(), event(events.CustomerRegistered)) }()
	<-entered
	queued := make(chan error, 1)
	go func() { queued <- b.Publish(context.Background(), event(events.CustomerRegistered)) }()
	require.Eventually(t, func() bool { return statsOf(b, "t").Queued == 1 }, 5*time.Second, time.Millisecond)

	stopped := stop()
	time.Sleep(20 * time.Millisecond)
	close(release) // the attempt in flight may finish after ctx ended
	require.NoError(t, <-first)
	require.ErrorIs(t, <-queued, broker.ErrClosed)
	require.NoError(t, <-stopped)
	assert.Equal(t, int32(1), finished.Load())
	require.ErrorIs(t, b.Publish(context.Background(), event(events.CustomerRegistered)), broker.ErrClosed)
}

var errSentinel = errors.New("sentinel")

func TestDeliverersSeam(t *testing.T) {
	t.Parallel()
	// Any Deliverer works: here one that fails in Go, no HTTP at all.
	var calls atomic.Int32
	dls := broker.Destination{Namespace: ns, Service: "dead-letter", Path: "/"}
	var dead atomic.Pointer[cloudevents.Event]
	deliver := func(_ context.Context, to broker.Destination, e cloudevents.Event) (*cloudevents.Event, int, error) {
		if to == dls {
			dead.Store(&e)
			return nil, http.StatusAccepted, nil
		}
		calls.Add(1)
		return nil, 0, errSentinel
	}
	tg := trigger("t", events.CustomerRegistered, "worker", 2, "")
	tg.Delivery.DeadLetterSink = &dls
	b := broker.New([]broker.Trigger{tg}, deliver, broker.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = b.Run(ctx) }()
	require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.CustomerRegistered)))
	assert.Equal(t, int32(3), calls.Load())
	require.NotNil(t, dead.Load())
	raw, _ := base64.StdEncoding.DecodeString(extension(t, *dead.Load(), broker.ExtErrorData))
	assert.Equal(t, "dispatch error: sentinel", string(raw))
}
