package broker_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform"
)

const ns = "orange"

// recorder is a subscriber mounted on the in-process transport: it records every event it
// gets and answers with respond (202 when nil); n counts attempts from 1.
type recorder struct {
	mu       sync.Mutex
	events   []cloudevents.Event
	attempts atomic.Int32
	respond  func(n int, w http.ResponseWriter, r *http.Request)
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, err := cloudevents.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := int(rc.attempts.Add(1))
	rc.mu.Lock()
	rc.events = append(rc.events, *e)
	rc.mu.Unlock()
	if rc.respond == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	rc.respond(n, w, r)
}

func (rc *recorder) got() []cloudevents.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]cloudevents.Event(nil), rc.events...)
}

// ids counts deliveries per event id.
func (rc *recorder) ids() map[string]int {
	out := map[string]int{}
	for _, e := range rc.got() {
		out[e.ID()]++
	}
	return out
}

func service(name string) broker.Destination {
	return broker.Destination{Namespace: ns, Service: name, Path: events.ReceivePath}
}

// trigger is a Trigger on type typ to subscriber with a tiny exponential backoff.
func trigger(name, typ, subscriber string, retry int, dls string) broker.Trigger {
	t := broker.Trigger{
		Name: name, Namespace: ns, Broker: "default",
		Filter:     map[string]string{"type": typ},
		Subscriber: service(subscriber),
		Delivery:   broker.Delivery{Retry: retry, BackoffPolicy: broker.BackoffExponential, BackoffDelay: 5 * time.Millisecond, Timeout: 2 * time.Second},
	}
	if dls != "" {
		d := service(dls)
		t.Delivery.DeadLetterSink = &d
	}
	return t
}

// startManual runs a broker whose stop the test calls: stop cancels Run's context and
// returns the channel Run's result arrives on.
func startManual(t *testing.T, triggers []broker.Trigger, opts broker.Options, handlers map[string]http.Handler) (*broker.Broker, func() <-chan error) {
	t.Helper()
	tr := platform.NewTransport(nil, nil)
	for name, h := range handlers {
		tr.Mount(name, h)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := broker.New(triggers, broker.HTTPDeliverer(tr, nil), opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(cancel)
	return b, func() <-chan error { cancel(); return done }
}

// start runs a broker over the in-process transport with handlers mounted by service
// name; it stops when the test ends.
func start(t *testing.T, triggers []broker.Trigger, opts broker.Options, handlers map[string]http.Handler) *broker.Broker {
	t.Helper()
	return startSigned(t, triggers, opts, handlers, nil)
}

// startSigned is start with deliveries signed by sign.
func startSigned(t *testing.T, triggers []broker.Trigger, opts broker.Options, handlers map[string]http.Handler, sign broker.TokenFunc) *broker.Broker {
	t.Helper()
	tr := platform.NewTransport(nil, nil)
	for name, h := range handlers {
		tr.Mount(name, h)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := broker.New(triggers, broker.HTTPDeliverer(tr, sign), opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("broker did not stop")
		}
	})
	return b
}

var eventSeq atomic.Int64

func event(typ string) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID(fmt.Sprintf("evt-%d", eventSeq.Add(1)))
	e.SetType(typ)
	e.SetSource("customers-api")
	e.SetSubject("c-1")
	_ = e.SetData(cloudevents.ApplicationJSON, map[string]any{"customerId": "c-1", "version": 1})
	return e
}

func statsOf(b *broker.Broker, name string) broker.TriggerStats {
	for _, s := range b.Stats() {
		if s.Trigger == ns+"/"+name {
			return s
		}
	}
	return broker.TriggerStats{}
}

func extension(t *testing.T, e cloudevents.Event, name string) string {
	t.Helper()
	v, ok := e.Extensions()[name]
	require.True(t, ok, "extension %s missing in %v", name, e.Extensions())
	return fmt.Sprint(v)
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func decode64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return string(b)
}
