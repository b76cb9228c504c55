package broker_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/eventing/pkg/auth"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform"
)

// Audiences in Eventing's format, as the manifests name them.
const (
	audWorker = "serving.knative.dev/service/orange/worker"
	audDLS    = "serving.knative.dev/service/orange/dead-letter"
	audTDLS   = "serving.knative.dev/service/orange/trigger-dead-letter"
	audCron   = "serving.knative.dev/service/orange/cron-worker"
)

const audienceBrokerYAML = `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: orange}
spec:
  delivery:
    retry: 2
    deadLetterSink:
      ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letter}
      uri: /cloudevents
      audience: ` + audDLS + `
`

const audienceTriggersYAML = `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: own-dls, namespace: orange}
spec:
  broker: default
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: worker}
    uri: /cloudevents
    audience: ` + audWorker + `
  delivery:
    retry: 1
    deadLetterSink:
      ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: trigger-dead-letter}
      audience: ` + audTDLS + `
---
# its own delivery without a sink: the Broker's sink, audience and all
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: broker-dls, namespace: orange}
spec:
  broker: default
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: worker}
    audience: ` + audWorker + `
  delivery:
    retry: 1
---
# no delivery: the Broker's
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: no-audience, namespace: orange}
spec:
  broker: default
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: worker}
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: tick, namespace: orange}
spec:
  schedule: "*/5 * * * *"
  sink:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: cron-worker}
    uri: /cloudevents
    audience: ` + audCron + `
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: to-broker, namespace: orange}
spec:
  sink:
    ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
`

func TestLoadAudiences(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"m/broker.yaml": {Data: []byte(audienceBrokerYAML)}, "m/t.yaml": {Data: []byte(audienceTriggersYAML)}}
	triggers, err := broker.LoadTriggers(fsys, "m")
	require.NoError(t, err)
	byName := map[string]broker.Trigger{}
	for _, tg := range triggers {
		byName[tg.Name] = tg
	}
	cases := []struct {
		trigger, subscriber, deadLetter string
	}{
		{"own-dls", audWorker, audTDLS},
		{"broker-dls", audWorker, audDLS},
		{"no-audience", "", audDLS},
	}
	for _, tc := range cases {
		tg, ok := byName[tc.trigger]
		require.True(t, ok, tc.trigger)
		assert.Equal(t, tc.subscriber, tg.Subscriber.Audience, "%s: subscriber", tc.trigger)
		require.NotNil(t, tg.Delivery.DeadLetterSink, tc.trigger)
		assert.Equal(t, tc.deadLetter, tg.Delivery.DeadLetterSink.Audience, "%s: dead-letter sink", tc.trigger)
	}

	pings, err := broker.LoadPingSources(fsys, "m")
	require.NoError(t, err)
	require.Len(t, pings, 2)
	assert.Equal(t, broker.Destination{Namespace: "orange", Service: "cron-worker", Path: "/cloudevents", Audience: audCron}, pings[0].Sink)
	assert.Equal(t, broker.Destination{Namespace: "orange", Broker: "default"}, pings[1].Sink)
}

// TestSenderSubjectIsKnativesServiceAccount: the subject a Trigger or PingSource signs with
// is that of the service account Knative creates for it.
func TestSenderSubjectIsKnativesServiceAccount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sender platform.Sender
		kind   string
	}{
		{platform.Trigger("notifier-customer-registered"), "Trigger"},
		{platform.Trigger(strings.Repeat("long-trigger-name-", 4)), "Trigger"},
		{platform.PingSource("reservations-sweep"), "PingSource"},
	} {
		gvk := eventingv1.SchemeGroupVersion.WithKind(tc.kind)
		if tc.kind == "PingSource" {
			gvk = sourcesv1.SchemeGroupVersion.WithKind(tc.kind)
		}
		want := "system:serviceaccount:orange:" + auth.GetOIDCServiceAccountNameForResource(gvk, metav1.ObjectMeta{Name: tc.sender.Name, Namespace: "orange"})
		assert.Equal(t, want, broker.SenderSubject(tc.sender, "orange"), tc.sender.String())
	}
}

// signCall is one call of a fakeSigner.
type signCall struct {
	Sender    platform.Sender
	Namespace string
	Audience  string
}

// fakeSigner is a TokenFunc that records its calls and fails the first `fail` of them
// (all when fail < 0).
type fakeSigner struct {
	mu    sync.Mutex
	calls []signCall
	fail  int
}

func (f *fakeSigner) sign(sender platform.Sender, namespace, audience string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, signCall{sender, namespace, audience})
	if f.fail < 0 || len(f.calls) <= f.fail {
		return "", errors.New("signer down")
	}
	return token(sender, namespace, audience), nil
}

func (f *fakeSigner) got() []signCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]signCall(nil), f.calls...)
}

// token is what fakeSigner signs.
func token(sender platform.Sender, namespace, audience string) string {
	return "tok." + sender.Kind + "." + sender.Name + "." + namespace + "." + audience
}

// guarded is a receiver that checks the Authorization header like a verifier would: it
// answers 401 unless the header is exactly want ("" = no header at all), and otherwise
// what next answers. It records every header it saw.
type guarded struct {
	want string
	next http.Handler
	mu   sync.Mutex
	seen []string
}

func (g *guarded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	got, present := r.Header["Authorization"]
	g.mu.Lock()
	g.seen = append(g.seen, r.Header.Get("Authorization"))
	g.mu.Unlock()
	if (g.want == "" && present) || (g.want != "" && (len(got) != 1 || got[0] != g.want)) {
		http.Error(w, "wrong token", http.StatusUnauthorized)
		return
	}
	g.next.ServeHTTP(w, r)
}

func (g *guarded) headers() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.seen...)
}

func bearer(sender platform.Sender, audience string) string {
	if audience == "" {
		return ""
	}
	return "Bearer " + token(sender, ns, audience)
}

// TestDeliveriesCarryTheSendersToken: subscriber and dead-letter deliveries carry the
// Trigger's token for their destination's audience, ping deliveries the PingSource's; a
// destination without audience gets none, and the signer is not asked.
func TestDeliveriesCarryTheSendersToken(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name               string
		subAud, dlsAud     string
		subStatus          int
		wantSub, wantDLS   int // deliveries each receiver accepts
		wantCallsAudiences []string
	}{
		{name: "subscriber with audience", subAud: audWorker, subStatus: 202, wantSub: 1, wantCallsAudiences: []string{audWorker}},
		{name: "subscriber without audience", subStatus: 202, wantSub: 1},
		{name: "dead letter with audience", subAud: audWorker, dlsAud: audDLS, subStatus: 400, wantSub: 1, wantDLS: 1,
			wantCallsAudiences: []string{audWorker, audDLS}},
		{name: "dead letter without audience", subAud: audWorker, subStatus: 400, wantSub: 1, wantDLS: 1,
			wantCallsAudiences: []string{audWorker}},
		{name: "only the dead letter has an audience", dlsAud: audDLS, subStatus: 400, wantSub: 1, wantDLS: 1,
			wantCallsAudiences: []string{audDLS}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sender := platform.Trigger("notify")
			sub := &guarded{want: bearer(sender, tc.subAud), next: &recorder{respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.subStatus)
			}}}
			dead := &recorder{}
			dls := &guarded{want: bearer(sender, tc.dlsAud), next: dead}
			tg := trigger("notify", events.CustomerRegistered, "worker", 0, "dead-letter")
			tg.Subscriber.Audience = tc.subAud
			tg.Delivery.DeadLetterSink.Audience = tc.dlsAud
			signer := &fakeSigner{}
			b := startSigned(t, []broker.Trigger{tg}, broker.Options{}, map[string]http.Handler{"worker": sub, "dead-letter": dls}, signer.sign)
			require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.CustomerRegistered)))

			assert.Equal(t, []string{bearer(sender, tc.subAud)}, sub.headers(), "subscriber")
			if tc.wantDLS > 0 {
				assert.Equal(t, []string{bearer(sender, tc.dlsAud)}, dls.headers(), "dead-letter sink")
				require.Len(t, dead.got(), 1, "the dead-letter sink accepted the event")
				assert.Equal(t, "400", extension(t, dead.got()[0], broker.ExtErrorCode))
			} else {
				assert.Empty(t, dls.headers())
			}
			var want []signCall
			for _, aud := range tc.wantCallsAudiences {
				want = append(want, signCall{Sender: sender, Namespace: ns, Audience: aud})
			}
			assert.Equal(t, want, signer.got())
			st := statsOf(b, "notify")
			assert.Equal(t, int64(tc.wantDLS), st.DeadLettered)
			assert.Zero(t, st.Dropped)
		})
	}
}

// TestPingDeliveriesCarryThePingSourcesToken fires PingSources every second to guarded
// Services through the real send path (Sender + HTTPDeliverer).
func TestPingDeliveriesCarryThePingSourcesToken(t *testing.T) {
	t.Parallel()
	for _, aud := range []string{audCron, ""} {
		t.Run("audience "+aud, func(t *testing.T) {
			t.Parallel()
			sender := platform.PingSource("tick")
			got := &recorder{}
			svc := &guarded{want: bearer(sender, aud), next: got}
			tr := platform.NewTransport(nil, nil)
			tr.Mount("cron-worker", svc)
			signer := &fakeSigner{}
			deliver := broker.HTTPDeliverer(tr, signer.sign)
			b := broker.New(nil, deliver, broker.Options{})
			ctx, cancel := context.WithCancel(context.Background())
			src := []broker.PingSource{{Name: "tick", Namespace: ns, Schedule: "* * * * * *",
				Sink: broker.Destination{Namespace: ns, Service: "cron-worker", Path: events.ReceivePath, Audience: aud}}}
			done := make(chan error, 1)
			go func() { done <- broker.RunPingSources(ctx, src, broker.Sender(b, deliver), nil) }()
			require.Eventually(t, func() bool { return len(got.got()) >= 1 }, 4*time.Second, 5*time.Millisecond)
			cancel()
			require.NoError(t, <-done)
			for _, h := range svc.headers() {
				assert.Equal(t, bearer(sender, aud), h)
			}
			for _, c := range signer.got() {
				assert.Equal(t, signCall{Sender: sender, Namespace: ns, Audience: aud}, c)
			}
			if aud == "" {
				assert.Empty(t, signer.got(), "no audience: the signer is not asked")
			} else {
				assert.NotEmpty(t, signer.got())
			}
		})
	}
}

// TestSignFailureIsATransportFailure: an attempt whose token cannot be had is not sent; it
// is retried per the delivery spec and, after the last retry, dead-lettered as a dispatch
// error (500).
func TestSignFailureIsATransportFailure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		fail          int
		wantReached   int
		wantRetried   int64
		wantDelivered int64
		wantDead      bool
	}{
		{name: "fails twice, then delivered", fail: 2, wantReached: 1, wantRetried: 2, wantDelivered: 1},
		{name: "always fails: dead-lettered", fail: -1, wantReached: 0, wantRetried: 3, wantDead: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sub := &recorder{}
			dead := &recorder{}
			tg := trigger("notify", events.CustomerRegistered, "worker", 3, "dead-letter") // the sink has no audience
			tg.Subscriber.Audience = audWorker
			signer := &fakeSigner{fail: tc.fail}
			b := startSigned(t, []broker.Trigger{tg}, broker.Options{}, map[string]http.Handler{"worker": sub, "dead-letter": dead}, signer.sign)
			require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.CustomerRegistered)))
			assert.Len(t, sub.got(), tc.wantReached)
			st := statsOf(b, "notify")
			assert.Equal(t, tc.wantRetried, st.Retried)
			assert.Equal(t, tc.wantDelivered, st.Delivered)
			if !tc.wantDead {
				assert.Empty(t, dead.got())
				return
			}
			require.Len(t, dead.got(), 1)
			assert.Equal(t, "500", extension(t, dead.got()[0], broker.ExtErrorCode))
			data := decode64(t, extension(t, dead.got()[0], broker.ExtErrorData))
			assert.Contains(t, data, "dispatch error: ")
			assert.Contains(t, data, "signer down")
		})
	}
}

// TestDelivererNeedsASenderForAnAudience: a Deliverer used outside the broker must be told
// who sends (WithSender) before it can sign.
func TestDelivererNeedsASenderForAnAudience(t *testing.T) {
	t.Parallel()
	svc := &guarded{want: bearer(platform.Trigger("x"), audWorker), next: &recorder{}}
	tr := platform.NewTransport(nil, nil)
	tr.Mount("worker", svc)
	signer := &fakeSigner{}
	deliver := broker.HTTPDeliverer(tr, signer.sign)
	to := broker.Destination{Namespace: ns, Service: "worker", Audience: audWorker}

	_, status, err := deliver(context.Background(), to, event(events.CustomerRegistered))
	require.ErrorContains(t, err, "no sender")
	assert.Zero(t, status)
	assert.Empty(t, svc.headers(), "nothing sent")

	ctx := broker.WithSender(context.Background(), platform.Trigger("x"), ns)
	s, namespace, ok := broker.SenderFrom(ctx)
	require.True(t, ok)
	assert.Equal(t, platform.Trigger("x"), s)
	assert.Equal(t, ns, namespace)
	_, status, err = deliver(ctx, to, event(events.CustomerRegistered))
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, status)

	// No signer: no token, whatever the audience — the guard answers 401.
	_, status, err = broker.HTTPDeliverer(tr, nil)(ctx, to, event(events.CustomerRegistered))
	var re *broker.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, []string{bearer(platform.Trigger("x"), audWorker), ""}, svc.headers())
	assert.Len(t, signer.got(), 1)
}

// pingCounter counts the sends of a send function and checks the sender each names.
func pingCounter(t *testing.T, send func(context.Context, broker.Destination, cloudevents.Event) error, want platform.Sender) (func(context.Context, broker.Destination, cloudevents.Event) error, *atomic.Int32) {
	var n atomic.Int32
	return func(ctx context.Context, to broker.Destination, e cloudevents.Event) error {
		n.Add(1)
		s, _, ok := broker.SenderFrom(ctx)
		assert.True(t, ok)
		assert.Equal(t, want, s)
		return send(ctx, to, e)
	}, &n
}
