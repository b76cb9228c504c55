package broker_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"
	duckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/eventing/pkg/eventingtls"
	"knative.dev/eventing/pkg/kncloudevents"
	"knative.dev/pkg/apis"
	pkgduckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
)

// loopbackSubscriber answers every request with status and body and counts them.
type loopbackSubscriber struct {
	*httptest.Server
	attempts atomic.Int32
}

func newSubscriber(t *testing.T, status int, body string) *loopbackSubscriber {
	s := &loopbackSubscriber{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.attempts.Add(1)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

// deadLetterSink records the CloudEvents it gets.
func newDeadLetterSink(t *testing.T) (*httptest.Server, *recorder) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return srv, rec
}

func hostOf(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

// TestDeadLetterExtensionsMatchKnativeDispatcher sends the same event to the same failing
// subscriber through Knative's own dispatcher (kncloudevents, with the retry config built
// from the same delivery spec and a dead-letter sink) and through the broker with
// HTTPDeliverer, and compares what each dead-letter sink got and how often the subscriber
// was tried.
func TestDeadLetterExtensionsMatchKnativeDispatcher(t *testing.T) {
	t.Parallel()
	// A port nobody listens on: a transport error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedHost := ln.Addr().String()
	require.NoError(t, ln.Close())

	cases := []struct {
		name   string
		status int
		body   string
		closed bool
	}{
		{name: "500 with a problem body", status: 500, body: `{"type":"about:blank","title":"boom","status":500}`},
		{name: "400 without retry", status: 400, body: "the event can never be processed"},
		{name: "404 retried", status: 404, body: ""},
		{name: "503 with a 700-byte body", status: 503, body: strings.Repeat("x", 700)},
		{name: "302 is a failure without retry", status: 302, body: ""},
		{name: "no listener", closed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const retry = 2
			policy, delay := duckv1.BackoffPolicyExponential, "PT0.01S"
			spec := duckv1.DeliverySpec{Retry: ptr(int32(retry)), BackoffPolicy: &policy, BackoffDelay: &delay}
			e := event(events.CustomerRegistered)

			// Knative.
			kSub := newSubscriber(t, tc.status, tc.body)
			kHost := hostOf(kSub.Server)
			if tc.closed {
				kHost = closedHost
			}
			kDLS, kDead := newDeadLetterSink(t)
			cfg, err := kncloudevents.RetryConfigFromDeliverySpec(spec)
			require.NoError(t, err)
			d := kncloudevents.NewDispatcher(eventingtls.ClientConfig{}, nil)
			_, err = d.SendEvent(context.Background(), e,
				pkgduckv1.Addressable{URL: apis.HTTP(kHost)},
				kncloudevents.WithRetryConfig(&cfg),
				kncloudevents.WithDeadLetterSink(&pkgduckv1.Addressable{URL: apis.HTTP(hostOf(kDLS))}))
			require.NoError(t, err)
			require.Len(t, kDead.got(), 1)
			want := kDead.got()[0]

			// Ours, over the same kind of loopback subscriber.
			oSub := newSubscriber(t, tc.status, tc.body)
			oHost := hostOf(oSub.Server)
			if tc.closed {
				oHost = closedHost
			}
			oDLS, oDead := newDeadLetterSink(t)
			dlsDest := broker.Destination{Service: hostOf(oDLS)}
			tg := broker.Trigger{Name: "t", Namespace: ns, Broker: "default",
				Subscriber: broker.Destination{Service: oHost},
				Delivery:   broker.Delivery{Retry: retry, BackoffPolicy: broker.BackoffExponential, BackoffDelay: 10e6, DeadLetterSink: &dlsDest}}
			b := broker.New([]broker.Trigger{tg}, broker.HTTPDeliverer(http.DefaultTransport, nil), broker.Options{Logger: slog.New(slog.DiscardHandler)})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = b.Run(ctx) }()
			require.NoError(t, b.Publish(ctxTimeout(t, 10e9), e))
			require.Len(t, oDead.got(), 1)
			got := oDead.got()[0]

			require.Equal(t, kSub.attempts.Load(), oSub.attempts.Load(), "attempts")
			wantDest := strings.Replace(extension(t, want, broker.ExtErrorDest), kHost, oHost, 1)
			require.Equal(t, wantDest, extension(t, got, broker.ExtErrorDest))
			require.Equal(t, extension(t, want, broker.ExtErrorCode), extension(t, got, broker.ExtErrorCode))
			if tc.closed {
				// "dispatch error: Post "<url>": dial tcp …: connection refused" — the URL differs.
				require.Equal(t, decode64(t, extension(t, want, broker.ExtErrorData)),
					strings.ReplaceAll(decode64(t, extension(t, got, broker.ExtErrorData)), oHost, kHost))
			} else {
				require.Equal(t, extension(t, want, broker.ExtErrorData), extension(t, got, broker.ExtErrorData))
			}
			requireSameEvent(t, e, got)
			requireSameEvent(t, e, want)
		})
	}
}

func requireSameEvent(t *testing.T, want, got cloudevents.Event) {
	t.Helper()
	require.Equal(t, want.ID(), got.ID())
	require.Equal(t, want.Type(), got.Type())
	require.Equal(t, want.Source(), got.Source())
	require.Equal(t, want.Subject(), got.Subject())
	require.JSONEq(t, string(want.Data()), string(got.Data()))
}

// TestLongErrorBodyIsCutTo1024Base64Characters: Knative means to cut knativeerrordata to
// 1024 characters, but its dispatcher (v0.50, dispatchExecutionInfoTransformers) encodes
// into a buffer of that size and panics for bodies over 768 bytes; the broker cuts.
func TestLongErrorBodyIsCutTo1024Base64Characters(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("0123456789", 200)
	dead := &recorder{}
	sub := &recorder{respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(body))
	}}
	b := start(t, []broker.Trigger{trigger("t", events.CustomerRegistered, "worker", 0, "dead-letter")}, broker.Options{},
		map[string]http.Handler{"worker": sub, "dead-letter": dead})
	require.NoError(t, b.Publish(ctxTimeout(t, 5e9), event(events.CustomerRegistered)))
	require.Len(t, dead.got(), 1)
	data := extension(t, dead.got()[0], broker.ExtErrorData)
	require.Len(t, data, 1024)
	require.True(t, strings.HasPrefix(body, decode64(t, data[:1020])))
}
