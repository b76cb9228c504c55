package contract_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	knauth "knative.dev/eventing/pkg/auth"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/attributes"
	"knative.dev/eventing/pkg/eventingtls"
	"knative.dev/eventing/pkg/kncloudevents"
	"knative.dev/pkg/apis"
	pkgduckv1 "knative.dev/pkg/apis/duck/v1"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	"knative.dev/pkg/logging"
	"sigs.k8s.io/yaml"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// The services the Triggers name.
const (
	consumerService   = "contract-consumer"
	deadLetterService = "dead-letter"
)

// manifest holds the Triggers both modes run, written as the project writes them in
// knative/: the in-process broker reads them with broker.LoadTriggers, the Knative side
// decodes them into Knative's own Trigger type. Both deliver to the consumer and
// dead-letter to the same sink. The first is a Trigger like the project's, its backoff the
// smallest an ISO-8601 delay expresses for Knative (one decimal digit of seconds): waits
// of 0.1 s, 0.2 s, 0.4 s. The second has a short per-attempt timeout (1 s) and a linear
// backoff, for the timeout scenarios. Subscriber and sink name their OIDC audience, as the
// project's Triggers do: both implementations attach the Trigger's token to every
// delivery (Eventing's authentication-oidc), and the consumer and the sink admit only
// their Triggers' deliveries.
const manifest = `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: orange
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: contract-consumer-vehicle-updated
  namespace: orange
spec:
  broker: default
  filter:
    attributes:
      type: com.orangecarrental.vehicle.updated.v1
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: contract-consumer
    uri: /cloudevents
    audience: serving.knative.dev/service/orange/contract-consumer
  delivery:
    retry: 3
    backoffPolicy: exponential
    backoffDelay: PT0.1S
    timeout: PT10S
    format: binary
    deadLetterSink:
      ref:
        apiVersion: serving.knative.dev/v1
        kind: Service
        name: dead-letter
      audience: serving.knative.dev/service/orange/dead-letter
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: contract-consumer-vehicle-status-changed
  namespace: orange
spec:
  broker: default
  filter:
    attributes:
      type: com.orangecarrental.vehicle.status_changed.v1
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: contract-consumer
    uri: /cloudevents
    audience: serving.knative.dev/service/orange/contract-consumer
  delivery:
    retry: 1
    backoffPolicy: linear
    backoffDelay: PT0.1S
    timeout: PT1S
    deadLetterSink:
      ref:
        apiVersion: serving.knative.dev/v1
        kind: Service
        name: dead-letter
      audience: serving.knative.dev/service/orange/dead-letter
`

// loadTriggers is the manifest's Triggers as the in-process broker runs them.
func loadTriggers(t *testing.T) []broker.Trigger {
	t.Helper()
	triggers, err := broker.LoadTriggers(fstest.MapFS{"knative/contract.yaml": {Data: []byte(manifest)}}, "knative")
	require.NoError(t, err)
	require.Len(t, triggers, 2)
	return triggers
}

// deliveryFor is the delivery spec of the Trigger an event of typ goes through.
func deliveryFor(t *testing.T, typ string) broker.Delivery {
	t.Helper()
	for _, tg := range loadTriggers(t) {
		if tg.Filter["type"] == typ {
			return tg.Delivery
		}
	}
	t.Fatalf("no Trigger for %s", typ)
	return broker.Delivery{}
}

// senderFor is the Trigger that delivers events of typ to the consumer (and dead-letters
// them).
func senderFor(t *testing.T, typ string) platform.Sender {
	t.Helper()
	for _, tg := range loadTriggers(t) {
		if tg.Filter["type"] == typ {
			return platform.Trigger(tg.Name)
		}
	}
	t.Fatalf("no Trigger for %s", typ)
	return platform.Sender{}
}

// triggerSenders are the Triggers that deliver to the consumer: the senders it (and the
// dead-letter sink) admits.
func triggerSenders(t *testing.T) []platform.Sender {
	t.Helper()
	var out []platform.Sender
	for _, tg := range loadTriggers(t) {
		require.Equal(t, consumerService, tg.Subscriber.Service)
		require.Equal(t, auth.ServiceAudience(tg.Namespace, consumerService), tg.Subscriber.Audience, "%s's subscriber audience", tg.Name)
		require.NotNil(t, tg.Delivery.DeadLetterSink)
		require.Equal(t, auth.ServiceAudience(tg.Namespace, deadLetterService), tg.Delivery.DeadLetterSink.Audience, "%s's dead-letter audience", tg.Name)
		out = append(out, platform.Trigger(tg.Name))
	}
	return out
}

// knativeTriggers is the manifest's Triggers decoded into Knative's API type, each
// admitted by Knative's webhook validation with the default config-features.
func knativeTriggers(t *testing.T) []*eventingv1.Trigger {
	t.Helper()
	flags, err := feature.NewFlagsConfigFromMap(nil)
	require.NoError(t, err)
	ctx := feature.ToContext(context.Background(), flags)
	var out []*eventingv1.Trigger
	for doc := range strings.SplitSeq(manifest, "\n---\n") {
		if !strings.Contains(doc, "\nkind: Trigger\n") {
			continue
		}
		var tr eventingv1.Trigger
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &tr))
		require.NotNil(t, tr.Spec.Delivery, "the contract Triggers carry their delivery spec")
		if err := tr.Validate(ctx); err != nil {
			t.Fatalf("Knative refuses Trigger %s: %v", tr.Name, err)
		}
		out = append(out, &tr)
	}
	require.Len(t, out, 2)
	return out
}

// A mode is one way events reach the consumer. start wires the consumer's and the
// dead-letter sink's handlers under the Trigger's service names, signing deliveries with
// id's cluster issuer, and returns the publisher to drive and the subscriber URL dead
// letters name in knativeerrordest.
type mode struct {
	name  string
	start func(t *testing.T, id *authtest.Identity, consumer, deadLetter http.Handler) (pub events.Publisher, subscriberURL string)
}

var modes = []mode{
	{name: "in-process broker", start: startInProcess},
	{name: "knative dispatcher over HTTP", start: startKnative},
}

// startInProcess runs the in-process broker of `orange dev` on the Triggers, delivering
// with HTTPDeliverer through the platform transport, where both services are mounted, and
// signing each delivery with its Trigger's identity as `orange dev` does.
func startInProcess(t *testing.T, id *authtest.Identity, consumer, deadLetter http.Handler) (events.Publisher, string) {
	t.Helper()
	triggers := loadTriggers(t)
	tr := platform.NewTransport(nil, nil)
	tr.Mount(consumerService, consumer)
	tr.Mount(deadLetterService, deadLetter)
	sign := func(s platform.Sender, ns, aud string) (string, error) {
		return id.Cluster.Token(devissuer.Subject(ns, s.ServiceAccount()), aud)
	}
	b := broker.New(triggers, broker.HTTPDeliverer(tr, sign), broker.Options{Logger: quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("the in-process broker did not stop")
		}
	})
	for _, tg := range triggers[1:] {
		require.Equal(t, triggers[0].Subscriber, tg.Subscriber, "one subscriber")
	}
	return b, triggers[0].Subscriber.URL()
}

// knativeBroker is a Knative Broker reduced to what a subscriber can tell: for every
// Trigger whose filter passes (Knative's attributes filter, as the broker filter's
// filterEvent runs it), Knative's dispatcher sends the event in binary mode to the
// subscriber over HTTP with the retry config Knative builds from the Trigger's delivery
// spec, on failure to the dead-letter sink with Knative's error extensions, and a reply
// in the answer to the Broker's ingress. On a cluster the retries are the channel's and
// the broker filter forwards each attempt; the subscriber and the sink see the same
// requests.
type knativeBroker struct {
	dispatcher *kncloudevents.Dispatcher
	routes     []knativeRoute
	ingress    *apis.URL
	replies    sync.WaitGroup
}

type knativeRoute struct {
	trigger    *eventingv1.Trigger
	filter     eventfilter.Filter
	subscriber pkgduckv1.Addressable
	deadLetter pkgduckv1.Addressable
	retry      kncloudevents.RetryConfig
	// identity is the Trigger's OIDC service account, whose tokens its deliveries carry.
	identity types.NamespacedName
}

// startKnative serves both services on loopback HTTP servers and resolves the Triggers'
// refs to them, as Knative resolves a ref to the Service's address (with the destination's
// audience). Knative's dispatcher attaches each Trigger's OIDC token to every delivery,
// fetched by Eventing's own token provider from a fake Kubernetes API whose TokenRequests
// id's cluster issuer signs, as the API server signs service-account tokens.
func startKnative(t *testing.T, id *authtest.Identity, consumer, deadLetter http.Handler) (events.Publisher, string) {
	t.Helper()
	var err error
	servers := map[string]*httptest.Server{}
	for name, h := range map[string]http.Handler{consumerService: consumer, deadLetterService: deadLetter} {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		servers[name] = srv
	}
	resolve := func(d pkgduckv1.Destination) pkgduckv1.Addressable {
		require.NotNil(t, d.Ref, "destinations are refs")
		srv := servers[d.Ref.Name]
		require.NotNil(t, srv, "no service %s", d.Ref.Name)
		base, err := apis.ParseURL(srv.URL)
		require.NoError(t, err)
		if d.URI != nil {
			base = base.ResolveReference(d.URI)
		}
		return pkgduckv1.Addressable{URL: base, Audience: d.Audience}
	}
	k := &knativeBroker{dispatcher: kncloudevents.NewDispatcher(eventingtls.ClientConfig{}, oidcTokens(t, id))}
	senders := triggerSenders(t)
	// The Broker's ingress, where subscribers' replies go (the Trigger's channel
	// subscription names it as reply, with the Broker's audience): it admits only the
	// Triggers' deliveries, accepts an event and delivers it later, as a new event.
	ingress := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := id.Deliveries.AuthenticateDelivery(r.Context(), r)
		if err != nil {
			t.Errorf("a reply reached the Broker's ingress without a valid token: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if !slices.ContainsFunc(senders, func(s platform.Sender) bool { return s.ServiceAccount() == caller.Sender }) {
			t.Errorf("a reply reached the Broker's ingress from %s, not from a Trigger", caller.Subject)
			http.Error(w, "not a Trigger", http.StatusForbidden)
			return
		}
		e, err := cloudevents.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		k.replies.Go(func() {
			if err := k.Publish(context.Background(), *e); err != nil {
				t.Errorf("reply %s not delivered: %v", e.ID(), err)
			}
		})
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(func() {
		ingress.Close()
		k.replies.Wait()
	})
	k.ingress, err = apis.ParseURL(ingress.URL)
	require.NoError(t, err)
	for _, tr := range knativeTriggers(t) {
		if tr.Spec.Filter == nil || len(tr.Spec.Filters) > 0 {
			t.Fatalf("Trigger %s: the contract Triggers filter by attributes", tr.Name)
		}
		cfg, err := kncloudevents.RetryConfigFromDeliverySpec(*tr.Spec.Delivery)
		require.NoError(t, err)
		k.routes = append(k.routes, knativeRoute{
			trigger:    tr,
			filter:     attributes.NewAttributesFilter(tr.Spec.Filter.Attributes),
			subscriber: resolve(tr.Spec.Subscriber),
			deadLetter: resolve(*tr.Spec.Delivery.DeadLetterSink),
			retry:      cfg,
			identity: types.NamespacedName{Namespace: tr.Namespace,
				Name: knauth.GetOIDCServiceAccountNameForResource(eventingv1.SchemeGroupVersion.WithKind("Trigger"), tr.ObjectMeta)},
		})
	}
	return k, k.routes[0].subscriber.URL.String()
}

// Publish delivers e to the subscriber (or dead-letter sink) of every matching Trigger and
// returns when that finished, as the in-process broker's Publish does; an error means
// some Trigger's subscriber and sink both failed.
func (k *knativeBroker) Publish(ctx context.Context, e cloudevents.Event) error {
	var errs []error
	for _, r := range k.routes {
		if r.filter.Filter(logging.WithLogger(ctx, zap.NewNop().Sugar()), e) == eventfilter.FailFilter {
			continue
		}
		// Options per send, as the broker filter builds them (filter_handler.go send): the
		// dispatcher writes to the dead-letter Addressable it is given.
		brokerAudience := auth.BrokerAudience(r.trigger.Namespace, r.trigger.Spec.Broker)
		dls, reply := r.deadLetter, pkgduckv1.Addressable{URL: k.ingress, Audience: &brokerAudience}
		opts := []kncloudevents.SendOption{
			kncloudevents.WithHeader(http.Header{"Kn-Namespace": {r.trigger.Namespace}}),
			kncloudevents.WithRetryConfig(&r.retry),
			kncloudevents.WithDeadLetterSink(&dls),
			kncloudevents.WithReply(&reply),
			kncloudevents.WithOIDCAuthentication(&r.identity),
		}
		if f := r.trigger.Spec.Delivery.Format; f != nil {
			opts = append(opts, kncloudevents.WithEventFormat(f))
		}
		if _, err := k.dispatcher.SendEvent(ctx, e, r.subscriber, opts...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// oidcTokens is Eventing's OIDC token provider over a fake Kubernetes API that answers
// TokenRequests for any service account with a token of id's cluster issuer — what the
// API server does for Knative's dispatcher on a cluster.
func oidcTokens(t *testing.T, id *authtest.Identity) *knauth.OIDCTokenProvider {
	t.Helper()
	kube := k8sfake.NewClientset()
	kube.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		create, ok := a.(k8stesting.CreateActionImpl)
		if !ok || create.GetSubresource() != "token" {
			return false, nil, nil
		}
		req, ok := create.GetObject().(*authenticationv1.TokenRequest)
		if !ok || len(req.Spec.Audiences) != 1 {
			return true, nil, errors.New("a TokenRequest for one audience was expected")
		}
		token, err := id.Cluster.Mint(devissuer.Subject(create.GetNamespace(), create.Name), req.Spec.Audiences[0])
		if err != nil {
			return true, nil, err
		}
		out := req.DeepCopy()
		out.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(time.Now().Add(time.Hour))}
		return true, out, nil
	})
	return knauth.NewOIDCTokenProvider(context.WithValue(context.Background(), kubeclient.Key{}, kubernetes.Interface(kube)))
}
