package broker_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	"knative.dev/eventing/pkg/apis/feature"
	"knative.dev/eventing/pkg/auth"
	listers "knative.dev/eventing/pkg/client/listers/eventing/v1alpha1"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
	"knative.dev/pkg/apis"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/knative"
	"github.com/orangecarrental/orange/platform"
)

// Subjects of the fixture policies.
const (
	subPayments     = "system:serviceaccount:orange:payments-api"
	subReservations = "system:serviceaccount:orange:reservations-api"
	subShared       = "system:serviceaccount:orange:shared-relay"
)

// policiesYAML: payments and reservations may send their own type prefix; shared-relay is
// listed in two policies (reservations decides, its name sorts first); partner-* is a glob;
// a namespace-wide policy (no `to`) lets pingers send pings; the Broker "other" admits
// everybody; a policy of another namespace applies to none of them.
const policiesYAML = `apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: payments, namespace: orange}
spec:
  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
  from:
    - sub: ` + subPayments + `
  filters:
    - prefix: {type: com.orangecarrental.payment.}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: reservations, namespace: orange}
spec:
  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
  from:
    - sub: ` + subReservations + `
    - sub: ` + subShared + `
  filters:
    - prefix: {type: com.orangecarrental.reservation.}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: shared, namespace: orange}
spec:
  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: DEFAULT}
  from:
    - sub: System:ServiceAccount:Orange:Shared-Relay
    - sub: system:serviceaccount:orange:partner-*
  filters:
    - not:
        exact: {type: com.orangecarrental.customer.erased.v1}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: namespace-wide, namespace: orange}
spec:
  from:
    - sub: system:serviceaccount:orange:pinger-*
  filters:
    - exact: {type: dev.knative.sources.ping}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: other-broker, namespace: orange}
spec:
  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: other}
  from:
    - sub: "*"
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: elsewhere, namespace: elsewhere}
spec:
  from:
    - sub: "*"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: skipped, namespace: orange}
`

func policyFixture() fstest.MapFS {
	return fstest.MapFS{"m/policies.yaml": {Data: []byte(policiesYAML)}, "m/b.yaml": {Data: []byte(brokerYAML)}}
}

func TestLoadEventPolicies(t *testing.T) {
	t.Parallel()
	got, err := broker.LoadEventPolicies(policyFixture(), "m")
	require.NoError(t, err)
	file := "m/policies.yaml"
	prefix := func(typ string) []broker.Filter { return []broker.Filter{{Prefix: map[string]string{"type": typ}}} }
	assert.Equal(t, []broker.EventPolicy{
		{Name: "payments", Namespace: "orange", File: file, To: []string{"default"}, From: []string{subPayments}, Filters: prefix("com.orangecarrental.payment.")},
		{Name: "reservations", Namespace: "orange", File: file, To: []string{"default"}, From: []string{subReservations, subShared}, Filters: prefix("com.orangecarrental.reservation.")},
		{Name: "shared", Namespace: "orange", File: file, To: []string{"DEFAULT"},
			From:    []string{"System:ServiceAccount:Orange:Shared-Relay", "system:serviceaccount:orange:partner-*"},
			Filters: []broker.Filter{{Not: &broker.Filter{Exact: map[string]string{"type": events.CustomerErased}}}}},
		{Name: "namespace-wide", Namespace: "orange", File: file, From: []string{"system:serviceaccount:orange:pinger-*"},
			Filters: []broker.Filter{{Exact: map[string]string{"type": events.Ping}}}},
		{Name: "other-broker", Namespace: "orange", File: file, To: []string{"other"}, From: []string{"*"}},
		{Name: "elsewhere", Namespace: "elsewhere", File: file, From: []string{"*"}},
	}, got)

	assert.Equal(t, []string{"namespace-wide", "payments", "reservations", "shared"}, broker.NewPolicies(got, "orange", "default").Applying(),
		"by name, as the Broker's status lists them")
	assert.Equal(t, []string{"namespace-wide", "other-broker"}, broker.NewPolicies(got, "orange", "other").Applying())
	assert.Empty(t, broker.NewPolicies(got, "quiet", "default").Applying())
}

func TestLoadEventPoliciesRefuses(t *testing.T) {
	t.Parallel()
	head := "apiVersion: eventing.knative.dev/v1alpha1\nkind: EventPolicy\nmetadata:\n  name: bad\n  namespace: orange\nspec:\n"
	to := "  to:\n    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}\n"
	from := "  from:\n    - sub: system:serviceaccount:orange:x\n"
	cases := []struct {
		name, spec, want string
		// webhook: Knative's own validation refuses it too; otherwise it is valid on a
		// cluster and only the in-process broker cannot enforce it.
		webhook bool
	}{
		{"to selector", "  to:\n    - selector: {apiVersion: eventing.knative.dev/v1, kind: Broker, matchLabels: {a: b}}\n" + from,
			"spec.to[0].selector: the in-process broker does not select resources by label", false},
		{"to ref and selector", "  to:\n    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}\n      selector: {apiVersion: eventing.knative.dev/v1, kind: Broker}\n" + from,
			"spec.to[0]: set ref or selector, not both", true},
		{"to neither", "  to:\n    - {}\n" + from, "spec.to[0]: set ref or selector", true},
		{"to a Service", "  to:\n    - ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: w}\n" + from,
			"spec.to[0].ref is serving.knative.dev/v1 Service: the in-process broker enforces EventPolicies on an eventing.knative.dev Broker only", false},
		{"to a core kind", "  to:\n    - ref: {apiVersion: v1, kind: Broker, name: w}\n" + from, "spec.to[0].ref is v1 Broker", false},
		{"to without apiVersion", "  to:\n    - ref: {kind: Broker, name: default}\n" + from, "spec.to[0].ref.apiVersion is not set", true},
		{"to without name", "  to:\n    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker}\n" + from, "spec.to[0].ref.name is not set", true},
		{"from ref", to + "  from:\n    - ref: {apiVersion: sources.knative.dev/v1, kind: PingSource, name: p}\n",
			"spec.from[0].ref (sources.knative.dev/v1 PingSource p): the in-process broker cannot resolve a resource to its OIDC identity; name its subject in sub", false},
		{"from ref and sub", to + "  from:\n    - ref: {apiVersion: sources.knative.dev/v1, kind: PingSource, name: p}\n      sub: x\n",
			"spec.from[0]: set ref or sub, not both", true},
		{"from empty sub", to + "  from:\n    - sub: \"\"\n", "spec.from[0]: set ref or sub", true},
		{"glob inside sub", to + from + "    - sub: system:serviceaccount:*:x\n", `spec.from[1].sub "system:serviceaccount:*:x": '*' is allowed only as the last character`, true},
		{"cesql filter", to + from + "  filters:\n    - cesql: \"type = 'x'\"\n", "spec.filters[0].cesql: CESQL filters are not supported", false},
		{"two dialects", to + from + "  filters:\n    - exact: {type: x}\n      prefix: {source: y}\n", "spec.filters[0]: several dialects [exact prefix]", true},
		{"bad attribute name", to + from + "  filters:\n    - prefix: {Type: x}\n", "spec.filters[0].prefix.Type: an attribute name must match", true},
	}

	ctx := feature.ToContext(apis.WithinCreate(context.Background()), feature.Flags{feature.OIDCAuthentication: feature.Enabled})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := fstest.MapFS{"m/p.yaml": {Data: []byte(head + tc.spec)}}
			_, err := broker.LoadEventPolicies(fsys, "m")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "m/p.yaml: EventPolicy orange/bad: ")
			assert.Contains(t, err.Error(), tc.want)

			var k v1alpha1.EventPolicy
			forEachDocument(t, fsys, "m", func(_ string, raw []byte) { require.NoError(t, json.Unmarshal(raw, &k)) })
			if verr := k.Validate(ctx); tc.webhook {
				assert.NotNil(t, verr, "Knative's webhook refuses it too") // a *apis.FieldError
			} else {
				assert.Nil(t, verr, "valid for Knative: only the in-process broker cannot run it: %v", verr)
			}
		})
	}

	t.Run("other versions", func(t *testing.T) {
		t.Parallel()
		bad := strings.Replace(head, "v1alpha1", "v1beta1", 1) + to + from
		_, err := broker.LoadEventPolicies(fstest.MapFS{"m/p.yaml": {Data: []byte(bad)}}, "m")
		require.ErrorContains(t, err, "apiVersion eventing.knative.dev/v1beta1: only eventing.knative.dev/v1alpha1 is supported")
	})
	t.Run("duplicate", func(t *testing.T) {
		t.Parallel()
		doc := head + to + from
		_, err := broker.LoadEventPolicies(fstest.MapFS{"m/p.yaml": {Data: []byte(doc + "---\n" + doc)}}, "m")
		require.ErrorContains(t, err, "also defined in m/p.yaml")
	})
	t.Run("no name", func(t *testing.T) {
		t.Parallel()
		_, err := broker.LoadEventPolicies(fstest.MapFS{"m/p.yaml": {Data: []byte(strings.Replace(head, "name: bad", "labels: {}", 1) + from)}}, "m")
		require.ErrorContains(t, err, "metadata.name is not set")
	})

	t.Run("the fixture is valid for Knative", func(t *testing.T) {
		t.Parallel()
		forEachDocument(t, policyFixture(), "m", func(kind string, raw []byte) {
			if kind != "EventPolicy" {
				return
			}
			var k v1alpha1.EventPolicy
			require.NoError(t, json.Unmarshal(raw, &k))
			verr := k.Validate(ctx)
			assert.Nil(t, verr, "%s: %v", k.Name, verr)
		})
	})
}

// knativeIngress decides like a cluster's broker ingress (Verifier.VerifyRequest) over
// Knative's own EventPolicy objects: the policies GetEventPoliciesForResource finds for the
// Broker, each contributing its subjects (status.from: the subs, as the loader refuses
// refs) and filters, then SubjectAndFiltersPass; none applying, the default mode
// allow-same-namespace, which verifyAuthZBySubjectsWithFilters implements unexported.
type knativeIngress struct {
	lister listers.EventPolicyLister
	// pass is auth.SubjectAndFiltersPass, or a copy without its filter Cleanup (see
	// subjectAndFiltersPassNoCleanup).
	pass func(ctx context.Context, sub string, swf []auth.SubjectsWithFilters, e *cloudevents.Event, logger *zap.SugaredLogger) bool
}

func newKnativeIngress(t *testing.T, fsys fs.FS, dir string) *knativeIngress {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	forEachDocument(t, fsys, dir, func(kind string, raw []byte) {
		if kind != "EventPolicy" {
			return
		}
		p := &v1alpha1.EventPolicy{}
		require.NoError(t, json.Unmarshal(raw, p))
		require.NoError(t, indexer.Add(p))
	})
	return &knativeIngress{lister: listers.NewEventPolicyLister(indexer), pass: auth.SubjectAndFiltersPass}
}

func (k *knativeIngress) allows(t *testing.T, namespace, brokerName, subject string, e cloudevents.Event) bool {
	t.Helper()
	applying, err := auth.GetEventPoliciesForResource(k.lister, eventingv1.SchemeGroupVersion.WithKind("Broker"), metav1.ObjectMeta{Name: brokerName, Namespace: namespace})
	require.NoError(t, err)
	if len(applying) == 0 {
		return strings.HasPrefix(subject, "system:serviceaccount:"+namespace+":")
	}
	swf := make([]auth.SubjectsWithFilters, 0, len(applying))
	for _, p := range applying {
		var subs []string
		for _, f := range p.Spec.From {
			require.NotNil(t, f.Sub, "the loader refuses from refs")
			subs = append(subs, *f.Sub)
		}
		swf = append(swf, auth.SubjectsWithFilters{Subjects: subs, Filters: p.Spec.Filters})
	}
	return k.pass(context.Background(), subject, swf, &e, zap.NewNop().Sugar())
}

// subjectAndFiltersPassNoCleanup is auth.SubjectAndFiltersPass line for line, without the
// filter's Cleanup: in v0.50 an all/any filter's Cleanup reads its filter list while the
// reordering goroutine its evaluation may have started swaps it (a data race under -race),
// and Cleanup of `not: {}` dereferences nil. Used for manifests whose filters are not known
// to avoid both; TestPoliciesMatchKnative holds it to the original.
func subjectAndFiltersPassNoCleanup(ctx context.Context, sub string, swf []auth.SubjectsWithFilters, e *cloudevents.Event, logger *zap.SugaredLogger) bool {
	if e == nil {
		return false
	}
	for _, s := range swf {
		for _, allowed := range s.Subjects {
			if strings.EqualFold(allowed, sub) || (strings.HasSuffix(allowed, "*") && strings.HasPrefix(sub, strings.TrimSuffix(allowed, "*"))) {
				return subscriptionsapi.CreateSubscriptionsAPIFilters(logger.Desugar(), s.Filters).Filter(ctx, *e) != eventfilter.FailFilter
			}
		}
	}
	return false
}

func policyEvent(typ string) cloudevents.Event {
	e := event(typ)
	e.SetID("evt-policy")
	return e
}

// TestPoliciesMatchKnative compares Allows with Knative's ingress decision over the
// fixture: every Broker × subject × event type.
func TestPoliciesMatchKnative(t *testing.T) {
	t.Parallel()
	loaded, err := broker.LoadEventPolicies(policyFixture(), "m")
	require.NoError(t, err)
	oracle := newKnativeIngress(t, policyFixture(), "m")
	copyOracle := &knativeIngress{lister: oracle.lister, pass: subjectAndFiltersPassNoCleanup}

	brokers := [][2]string{{"orange", "default"}, {"orange", "other"}, {"quiet", "default"}, {"elsewhere", "default"}}
	subjects := []string{
		subPayments,
		strings.ToUpper(subPayments), // exact subjects compare case-insensitively
		subReservations,
		subShared, // in two policies: the first by name decides
		"system:serviceaccount:orange:partner-acme",
		"system:serviceaccount:orange:Partner-acme", // a glob's prefix is case-sensitive
		"system:serviceaccount:orange:partner-",
		"system:serviceaccount:orange:pinger-report",
		"system:serviceaccount:orange:unknown",
		"system:serviceaccount:quiet:anyone",
		"system:serviceaccount:quiet", // not in the namespace: no trailing colon
		"system:serviceaccount:elsewhere:x",
		broker.SenderSubject(platform.Trigger("notify"), "orange"),
		"*",
		"",
	}
	types := []string{events.PaymentAuthorized, events.ReservationCreated, events.CustomerRegistered, events.CustomerErased, events.Ping}

	for _, nb := range brokers {
		p := broker.NewPolicies(loaded, nb[0], nb[1])
		for _, sub := range subjects {
			for _, typ := range types {
				e := policyEvent(typ)
				want := oracle.allows(t, nb[0], nb[1], sub, e)
				assert.Equal(t, want, p.Allows(sub, &e), "%s/%s: %q sends %s", nb[0], nb[1], sub, typ)
				assert.Equal(t, want, copyOracle.allows(t, nb[0], nb[1], sub, e), "the oracle's copy")
			}
		}
	}
}

// TestPoliciesDecide spells out what the fixture means (TestPoliciesMatchKnative checks
// that Knative agrees).
func TestPoliciesDecide(t *testing.T) {
	t.Parallel()
	loaded, err := broker.LoadEventPolicies(policyFixture(), "m")
	require.NoError(t, err)
	def := broker.NewPolicies(loaded, "orange", "default")
	cases := []struct {
		p       *broker.Policies
		subject string
		typ     string
		want    bool
	}{
		{def, subPayments, events.PaymentAuthorized, true},
		{def, subPayments, events.ReservationCreated, false},
		{def, strings.ToUpper(subPayments), events.PaymentRefunded, true},
		{def, subReservations, events.ReservationCancelled, true},
		{def, subReservations, events.PaymentAuthorized, false},
		{def, subShared, events.ReservationCreated, true},
		{def, subShared, events.CustomerRegistered, false}, // "reservations" decides before "shared"
		{def, "system:serviceaccount:orange:partner-acme", events.CustomerRegistered, true},
		{def, "system:serviceaccount:orange:partner-acme", events.CustomerErased, false},
		{def, "system:serviceaccount:orange:Partner-acme", events.CustomerRegistered, false},
		{def, "system:serviceaccount:orange:pinger-report", events.Ping, true},
		{def, "system:serviceaccount:orange:unknown", events.CustomerRegistered, false}, // policies apply: no default mode
		{broker.NewPolicies(loaded, "orange", "other"), "anyone at all", events.CustomerErased, true},
		{broker.NewPolicies(loaded, "quiet", "default"), "system:serviceaccount:quiet:x", events.CustomerErased, true},
		{broker.NewPolicies(loaded, "quiet", "default"), "system:serviceaccount:orange:x", events.CustomerErased, false},
		{broker.NewPolicies(nil, "quiet", "default"), "system:serviceaccount:quietly:x", events.CustomerErased, false},
		{nil, "", events.CustomerErased, true}, // no policies at all: no authorization
	}
	for _, tc := range cases {
		e := policyEvent(tc.typ)
		assert.Equal(t, tc.want, tc.p.Allows(tc.subject, &e), "%q sends %s", tc.subject, tc.typ)
	}
}

// TestPublishAsRefusesWhatPoliciesForbid: a refused event is a *PolicyError naming the
// subject and type (never the data), and reaches no subscriber.
func TestPublishAsRefusesWhatPoliciesForbid(t *testing.T) {
	t.Parallel()
	loaded, err := broker.LoadEventPolicies(policyFixture(), "m")
	require.NoError(t, err)
	const secret = "4111-1111-1111-1111"
	cases := []struct {
		name    string
		subject string
		typ     string
		as      bool // through As(subject).Publish
		allowed bool
	}{
		{name: "own prefix", subject: subPayments, typ: events.PaymentAuthorized, allowed: true},
		{name: "own prefix through As", subject: subPayments, typ: events.PaymentCaptured, as: true, allowed: true},
		{name: "another producer's type", subject: subPayments, typ: events.ReservationConfirmed},
		{name: "another producer's type through As", subject: subReservations, typ: events.PaymentAuthorized, as: true},
		{name: "unknown subject", subject: "system:serviceaccount:orange:intruder", typ: events.PaymentAuthorized},
		{name: "no subject", subject: "", typ: events.PaymentAuthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sub := &recorder{}
			b := start(t, []broker.Trigger{{Name: "all", Namespace: ns, Broker: "default", Subscriber: service("worker")}},
				broker.Options{Policies: broker.NewPolicies(loaded, ns, "default")}, map[string]http.Handler{"worker": sub})
			e := policyEvent(tc.typ)
			require.NoError(t, e.SetData(cloudevents.ApplicationJSON, map[string]string{"card": secret}))
			ctx := ctxTimeout(t, 5*time.Second)
			var err error
			if tc.as {
				err = b.As(tc.subject).Publish(ctx, e)
			} else {
				err = b.PublishAs(ctx, tc.subject, e)
			}
			if tc.allowed {
				require.NoError(t, err)
				assert.Len(t, sub.got(), 1)
				return
			}
			var refused *broker.PolicyError
			require.ErrorAs(t, err, &refused)
			assert.Equal(t, broker.PolicyError{Subject: tc.subject, Type: tc.typ, Broker: "orange/default"}, *refused)
			assert.Contains(t, err.Error(), `"`+tc.subject+`"`)
			assert.Contains(t, err.Error(), tc.typ)
			assert.NotContains(t, err.Error(), secret)
			assert.Empty(t, sub.got(), "nothing delivered")
			assert.Equal(t, int64(0), statsOf(b, "all").Delivered)
		})
	}

	t.Run("no policies: PublishAs publishes", func(t *testing.T) {
		t.Parallel()
		sub := &recorder{}
		b := start(t, []broker.Trigger{{Name: "all", Namespace: ns, Broker: "default", Subscriber: service("worker")}},
			broker.Options{}, map[string]http.Handler{"worker": sub})
		require.NoError(t, b.PublishAs(ctxTimeout(t, 5*time.Second), "anyone", policyEvent(events.PaymentAuthorized)))
		assert.Len(t, sub.got(), 1)
	})
}

// TestRepliesEnterAsTheTrigger: a reply enters the Broker with the replying Trigger's
// identity, as Knative's broker filter forwards it; a refused reply fails the delivery like
// the ingress's 403 (dead-lettered with the Broker as knativeerrordest) and goes nowhere.
func TestRepliesEnterAsTheTrigger(t *testing.T) {
	t.Parallel()
	replier := broker.SenderSubject(platform.Trigger("replier"), ns)
	policy := `apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: replies, namespace: orange}
spec:
  from:
    - sub: ` + replier + `
  filters:
    - prefix: {type: com.orangecarrental.payment.}
`
	loaded, err := broker.LoadEventPolicies(fstest.MapFS{"m/p.yaml": {Data: []byte(policy)}}, "m")
	require.NoError(t, err)
	for _, tc := range []struct {
		replyType string
		allowed   bool
	}{{events.PaymentAuthorized, true}, {events.CustomerErased, false}} {
		t.Run(tc.replyType, func(t *testing.T) {
			t.Parallel()
			answer := &recorder{respond: func(_ int, w http.ResponseWriter, r *http.Request) {
				reply := cloudevents.NewEvent()
				reply.SetID("reply-1")
				reply.SetType(tc.replyType)
				reply.SetSource("payments-api")
				_ = cehttp.WriteResponseWriter(r.Context(), binding.ToMessage(&reply), http.StatusOK, w)
			}}
			downstream := &recorder{}
			dead := &recorder{}
			b := start(t, []broker.Trigger{
				trigger("replier", events.ReservationCreated, "payments-api", 0, "dead-letter"),
				trigger("downstream", tc.replyType, "reservations-api", 0, ""),
			}, broker.Options{Policies: broker.NewPolicies(loaded, ns, "default")},
				map[string]http.Handler{"payments-api": answer, "reservations-api": downstream, "dead-letter": dead})
			// The original's producer is not the replier: it publishes without policies.
			require.NoError(t, b.Publish(ctxTimeout(t, 5*time.Second), event(events.ReservationCreated)))
			if tc.allowed {
				require.Eventually(t, func() bool { return len(downstream.got()) == 1 }, 5*time.Second, time.Millisecond)
				assert.Empty(t, dead.got())
				assert.Equal(t, int64(1), statsOf(b, "replier").Delivered)
				return
			}
			require.Len(t, dead.got(), 1)
			d := dead.got()[0]
			assert.Equal(t, events.ReservationCreated, d.Type(), "the original event is dead-lettered")
			assert.Equal(t, "403", extension(t, d, broker.ExtErrorCode))
			assert.Equal(t, "http://broker-ingress.knative-eventing.svc.cluster.local/orange/default", extension(t, d, broker.ExtErrorDest))
			assert.Contains(t, decode64(t, extension(t, d, broker.ExtErrorData)), replier)
			assert.Equal(t, int64(1), statsOf(b, "replier").DeadLettered)
			time.Sleep(50 * time.Millisecond)
			assert.Empty(t, downstream.got(), "the refused reply goes nowhere")
		})
	}
}

// TestPingToABrokerEntersAsThePingSource: Sender publishes a PingSource's event to a Broker
// sink under the PingSource's identity; a refusal is final (the ingress's 403 is not
// retried by the adapter).
func TestPingToABrokerEntersAsThePingSource(t *testing.T) {
	t.Parallel()
	policy := `apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: pings, namespace: orange}
spec:
  from:
    - sub: ` + broker.SenderSubject(platform.PingSource("allowed"), ns) + `
  filters:
    - exact: {type: dev.knative.sources.ping}
`
	loaded, err := broker.LoadEventPolicies(fstest.MapFS{"m/p.yaml": {Data: []byte(policy)}}, "m")
	require.NoError(t, err)
	got := &recorder{}
	tg := trigger("pings", events.Ping, "worker", 0, "")
	b := start(t, []broker.Trigger{tg}, broker.Options{Policies: broker.NewPolicies(loaded, ns, "default")}, map[string]http.Handler{"worker": got})
	send := broker.Sender(b, nil)
	toBroker := broker.Destination{Namespace: ns, Broker: "default"}

	ping := func(name string) cloudevents.Event {
		p := broker.PingSource{Name: name, Namespace: ns}
		e, err := p.Event("ping-"+name, time.Now())
		require.NoError(t, err)
		return e
	}
	ctx := ctxTimeout(t, 5*time.Second)
	require.NoError(t, send(broker.WithSender(ctx, platform.PingSource("allowed"), ns), toBroker, ping("allowed")))
	err = send(broker.WithSender(ctx, platform.PingSource("other"), ns), toBroker, ping("other"))
	var refused *broker.PolicyError
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, broker.SenderSubject(platform.PingSource("other"), ns), refused.Subject)
	require.Len(t, got.got(), 1)
	assert.Equal(t, "ping-allowed", got.got()[0].ID())

	// Through RunPingSources: the refused source's fire is sent once, not retried.
	counted, n := pingCounter(t, send, platform.PingSource("other"))
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	src := []broker.PingSource{{Name: "other", Namespace: ns, Schedule: "* * * * * *", Sink: toBroker}}
	go func() { done <- broker.RunPingSources(runCtx, src, counted, nil) }()
	require.Eventually(t, func() bool { return n.Load() >= 1 }, 3*time.Second, 5*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // a retry would come after 100 ms
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, int32(1), n.Load())
	assert.Len(t, got.got(), 1, "nothing more delivered")
}

// TestBaseEventPolicies: the EventPolicies of knative/base load and decide as Knative's
// ingress does for every subject they name and every event type of the system. Skipped
// until knative/base/event-policies.yaml exists.
func TestBaseEventPolicies(t *testing.T) {
	t.Parallel()
	if _, err := fs.Stat(knative.Manifests, "base/event-policies.yaml"); errors.Is(err, fs.ErrNotExist) {
		t.Skip("knative/base/event-policies.yaml does not exist yet")
	}
	loaded, err := broker.LoadEventPolicies(knative.Manifests, "base")
	require.NoError(t, err)
	require.NotEmpty(t, loaded)
	oracle := newKnativeIngress(t, knative.Manifests, "base")
	oracle.pass = subjectAndFiltersPassNoCleanup // their filters may combine all/any

	subjects := []string{"system:serviceaccount:orange:intruder", "system:serviceaccount:other:x", ""}
	for _, p := range loaded {
		for _, s := range p.From {
			subjects = append(subjects, strings.TrimSuffix(s, "*"), strings.TrimSuffix(s, "*")+"x")
		}
	}
	types := []string{events.Ping, "com.example.unknown.v1"}
	for typ := range events.Types {
		types = append(types, typ)
	}
	policies := broker.NewPolicies(loaded, "orange", "default")
	allowed := map[string]int{}
	for _, sub := range subjects {
		// As its own producer (source: the name of its service account), as the one that
		// publishes a partner's events under a partner-scoped source (sync-worker), and as
		// another.
		name := sub[strings.LastIndex(sub, ":")+1:]
		for _, source := range []string{name, name + "/partners/garage", "customers-api"} {
			for _, typ := range types {
				e := policyEvent(typ)
				e.SetSource(source)
				want := oracle.allows(t, "orange", "default", sub, e)
				assert.Equal(t, want, policies.Allows(sub, &e), "%q sends %s from %s", sub, typ, source)
				if want {
					allowed[sub]++
				}
			}
		}
	}
	for _, p := range loaded {
		for _, s := range p.From {
			if !strings.HasSuffix(s, "*") {
				assert.Positive(t, allowed[s], "%s: the table lets %s send nothing", p.Name, s)
			}
		}
	}
}
