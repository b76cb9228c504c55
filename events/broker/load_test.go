package broker_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	duckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/eventing/pkg/kncloudevents"

	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/knative"
)

const brokerYAML = `# the Broker
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: orange
spec:
  delivery:
    retry: 5
    backoffPolicy: exponential
    backoffDelay: PT0.5S
    timeout: PT30S
    deadLetterSink:
      ref:
        apiVersion: serving.knative.dev/v1
        kind: Service
        name: dead-letter
`

const triggersYAML = `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: notifier-customer-registered
  namespace: orange
spec:
  broker: default
  filter:
    attributes:
      type: com.orangecarrental.customer.registered.v1
      source: customers-api
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: notification-worker
    uri: /cloudevents
  delivery:
    retry: 3
    backoffPolicy: linear
    backoffDelay: PT1M
---
# no delivery: the Broker's
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: sync-all
  namespace: orange
spec:
  broker: default
  filters:
    - prefix:
        type: com.orangecarrental.
    - not:
        any:
          - exact: {type: com.orangecarrental.customer.erased.v1}
          - suffix: {source: "-test"}
    - all:
        - exact: {tenant: orange}
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: sync-worker
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: skipped
data:
  a: b
`

func TestLoadTriggers(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"m/broker.yaml":   {Data: []byte(brokerYAML)},
		"m/triggers.yaml": {Data: []byte(triggersYAML)},
		"m/notes.txt":     {Data: []byte("kind: Trigger\n")},
		"m/sub/x.yaml":    {Data: []byte("kind: Trigger\n")},
	}
	got, err := broker.LoadTriggers(fsys, "m")
	require.NoError(t, err)
	require.Len(t, got, 2)

	dls := &broker.Destination{Namespace: "orange", Service: "dead-letter"}
	assert.Equal(t, broker.Trigger{
		Name: "notifier-customer-registered", Namespace: "orange", Broker: "default", File: "m/triggers.yaml",
		Filter:     map[string]string{"type": "com.orangecarrental.customer.registered.v1", "source": "customers-api"},
		Subscriber: broker.Destination{Namespace: "orange", Service: "notification-worker", Path: "/cloudevents"},
		// Its own retry and backoff; the Broker's dead-letter sink, as Knative falls back.
		Delivery: broker.Delivery{Retry: 3, BackoffPolicy: broker.BackoffLinear, BackoffDelay: time.Minute, DeadLetterSink: dls},
	}, got[0])
	assert.Equal(t, []time.Duration{0, time.Minute, 2 * time.Minute}, got[0].Delivery.Schedule())

	neg := broker.Filter{Any: []broker.Filter{
		{Exact: map[string]string{"type": "com.orangecarrental.customer.erased.v1"}},
		{Suffix: map[string]string{"source": "-test"}},
	}}
	assert.Equal(t, broker.Trigger{
		Name: "sync-all", Namespace: "orange", Broker: "default", File: "m/triggers.yaml",
		Filters: []broker.Filter{
			{Prefix: map[string]string{"type": "com.orangecarrental."}},
			{Not: &neg},
			{All: []broker.Filter{{Exact: map[string]string{"tenant": "orange"}}}},
		},
		Subscriber: broker.Destination{Namespace: "orange", Service: "sync-worker"},
		Delivery:   broker.Delivery{Retry: 5, BackoffPolicy: broker.BackoffExponential, BackoffDelay: 500 * time.Millisecond, Timeout: 30 * time.Second, DeadLetterSink: dls},
	}, got[1])
	assert.Equal(t, "http://sync-worker.orange.svc.cluster.local", got[1].Subscriber.URL())
}

func TestLoadTriggersRefuses(t *testing.T) {
	t.Parallel()
	head := "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: bad\n  namespace: orange\nspec:\n  broker: default\n"
	sub := "  subscriber:\n    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: w}\n"
	cases := []struct {
		name, spec, want string
	}{
		{"cesql", "  filters:\n    - cesql: \"type = 'x'\"\n" + sub, "m/t.yaml: Trigger orange/bad: spec.filters[0].cesql: CESQL filters are not supported"},
		{"nested cesql", "  filters:\n    - all:\n        - not: {cesql: \"true\"}\n" + sub, "m/t.yaml: Trigger orange/bad: spec.filters[0].all[0].not.cesql: CESQL"},
		{"unknown dialect", "  filters:\n    - regex: {type: x}\n" + sub, `m/t.yaml: Trigger orange/bad: spec.filters[0].regex: unknown filter dialect "regex"`},
		{"two dialects", "  filters:\n    - exact: {type: x}\n      prefix: {source: y}\n" + sub, "spec.filters[0]: several dialects [exact prefix]"},
		{"empty exact value", "  filters:\n    - exact: {type: \"\"}\n" + sub, "spec.filters[0].exact.type: empty value"},
		{"bad attribute name", "  filter:\n    attributes: {Type: x}\n" + sub, "spec.filter.attributes.Type: an attribute name must match"},
		{"bad attribute name in filters", "  filters:\n    - suffix: {my-ext: x}\n" + sub, "spec.filters[0].suffix.my-ext"},
		{"no subscriber", "", "m/t.yaml: Trigger orange/bad: spec.subscriber.ref is not set"},
		{"uri-only subscriber", "  subscriber:\n    uri: http://example.com/hook\n", "spec.subscriber.uri \"http://example.com/hook\": the in-process broker delivers only to a ref"},
		{"subscriber not a Knative Service", "  subscriber:\n    ref: {apiVersion: v1, kind: Service, name: w}\n", "spec.subscriber.ref is v1 Service"},
		{"absolute uri with ref", "  subscriber:\n    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: w}\n    uri: http://w/x\n", "must be relative"},
		{"bad backoffPolicy", sub + "  delivery:\n    backoffPolicy: fibonacci\n", `spec.delivery.backoffPolicy "fibonacci"`},
		{"bad backoffDelay", sub + "  delivery:\n    backoffDelay: 5s\n", "spec.delivery.backoffDelay"},
		{"negative retry", sub + "  delivery:\n    retry: -1\n", "spec.delivery.retry -1"},
		{"zero timeout", sub + "  delivery:\n    timeout: PT0S\n", "spec.delivery.timeout: must not be zero"},
		{"retryAfterMax", sub + "  delivery:\n    retryAfterMax: PT1M\n", "spec.delivery.retryAfterMax"},
		{"dead-letter sink is a URI", sub + "  delivery:\n    deadLetterSink:\n      uri: http://dlq/\n", "spec.delivery.deadLetterSink.uri"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := fstest.MapFS{"m/b.yaml": {Data: []byte(brokerYAML)}, "m/t.yaml": {Data: []byte(head + tc.spec)}}
			_, err := broker.LoadTriggers(fsys, "m")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "m/t.yaml: Trigger orange/bad")
		})
	}

	t.Run("unknown Broker", func(t *testing.T) {
		t.Parallel()
		_, err := broker.LoadTriggers(fstest.MapFS{"m/t.yaml": {Data: []byte(head + sub)}}, "m")
		require.ErrorContains(t, err, `m/t.yaml: Trigger orange/bad: spec.broker "default": no Broker of that name in namespace orange in m`)
	})
	t.Run("duplicate", func(t *testing.T) {
		t.Parallel()
		_, err := broker.LoadTriggers(fstest.MapFS{"m/b.yaml": {Data: []byte(brokerYAML)}, "m/t.yaml": {Data: []byte(head + sub + "---\n" + head + sub)}}, "m")
		require.ErrorContains(t, err, "also defined in m/t.yaml")
	})
	t.Run("invalid YAML", func(t *testing.T) {
		t.Parallel()
		_, err := broker.LoadTriggers(fstest.MapFS{"m/t.yaml": {Data: []byte("kind: [Trigger\n")}}, "m")
		require.ErrorContains(t, err, "m/t.yaml")
	})
	t.Run("bad Broker delivery", func(t *testing.T) {
		t.Parallel()
		_, err := broker.LoadTriggers(fstest.MapFS{"m/b.yaml": {Data: []byte(strings.Replace(brokerYAML, "exponential", "sometimes", 1))}}, "m")
		require.ErrorContains(t, err, "m/b.yaml: Broker orange/default: spec.delivery.backoffPolicy")
	})
}

// TestLoadManifestsBase: whatever knative/base holds loads, Triggers and PingSources alike.
func TestLoadManifestsBase(t *testing.T) {
	t.Parallel()
	triggers, err := broker.LoadTriggers(knative.Manifests, "base")
	require.NoError(t, err)
	for _, tg := range triggers {
		assert.NotEmpty(t, tg.Subscriber.Service, tg.String())
		assert.Equal(t, "orange", tg.Namespace, tg.String())
	}
	pings, err := broker.LoadPingSources(knative.Manifests, "base")
	require.NoError(t, err)
	// Every sink's audience as Knative reads it.
	audiences := map[string]string{}
	forEachDocument(t, knative.Manifests, "base", func(kind string, raw []byte) {
		if kind != "PingSource" {
			return
		}
		var p sourcesv1.PingSource
		require.NoError(t, json.Unmarshal(raw, &p))
		audiences[p.Name] = deref(p.Spec.Sink.Audience)
	})
	require.Len(t, pings, len(audiences))
	for _, p := range pings {
		assert.Equal(t, audiences[p.Name], p.Sink.Audience, p.Name)
	}
}

// TestBaseTriggersAgreeWithKnativeTypes decodes every Trigger of knative/base a second time
// into Knative's own API type and checks that the loader read the same filter, subscriber
// and delivery — the schedule computed by Knative from the effective delivery spec.
func TestBaseTriggersAgreeWithKnativeTypes(t *testing.T) {
	t.Parallel()
	loaded, err := broker.LoadTriggers(knative.Manifests, "base")
	require.NoError(t, err)
	byName := map[string]broker.Trigger{}
	for _, tg := range loaded {
		byName[tg.Name] = tg
	}
	var brokerSpec *duckv1.DeliverySpec
	var triggers []eventingv1.Trigger
	forEachDocument(t, knative.Manifests, "base", func(kind string, raw []byte) {
		switch kind {
		case "Broker":
			var b eventingv1.Broker
			require.NoError(t, json.Unmarshal(raw, &b))
			brokerSpec = b.Spec.Delivery
		case "Trigger":
			var tg eventingv1.Trigger
			require.NoError(t, json.Unmarshal(raw, &tg))
			triggers = append(triggers, tg)
		}
	})
	require.Len(t, loaded, len(triggers))
	for _, k := range triggers {
		got, ok := byName[k.Name]
		require.True(t, ok, k.Name)
		if k.Spec.Filter != nil {
			assert.Equal(t, map[string]string(k.Spec.Filter.Attributes), got.Filter, k.Name)
		}
		assert.Equal(t, k.Spec.Subscriber.Ref.Name, got.Subscriber.Service, k.Name)
		wantPath := ""
		if k.Spec.Subscriber.URI != nil {
			wantPath = k.Spec.Subscriber.URI.String()
		}
		assert.Equal(t, wantPath, got.Subscriber.Path, k.Name)
		assert.Equal(t, deref(k.Spec.Subscriber.Audience), got.Subscriber.Audience, k.Name)

		spec := k.Spec.Delivery
		if spec == nil {
			spec = brokerSpec
		}
		if spec == nil {
			assert.Zero(t, got.Delivery.Retry)
			continue
		}
		cfg, err := kncloudevents.RetryConfigFromDeliverySpec(*spec)
		require.NoError(t, err)
		require.Equal(t, cfg.RetryMax, got.Delivery.Retry, k.Name)
		for n, wait := range got.Delivery.Schedule() {
			assert.Equal(t, cfg.Backoff(n, nil), wait, "%s retry %d", k.Name, n+1)
		}
		assert.Equal(t, cfg.RequestTimeout, got.Delivery.Timeout, k.Name)
		dls := spec.DeadLetterSink
		if dls == nil && brokerSpec != nil {
			dls = brokerSpec.DeadLetterSink
		}
		if dls == nil {
			assert.Nil(t, got.Delivery.DeadLetterSink, k.Name)
		} else {
			require.NotNil(t, got.Delivery.DeadLetterSink, k.Name)
			assert.Equal(t, dls.Ref.Name, got.Delivery.DeadLetterSink.Service, k.Name)
			assert.Equal(t, deref(dls.Audience), got.Delivery.DeadLetterSink.Audience, k.Name)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// forEachDocument calls fn with the kind and JSON of every YAML document in dir.
func forEachDocument(t *testing.T, fsys fs.FS, dir string, fn func(kind string, raw []byte)) {
	t.Helper()
	entries, err := fs.ReadDir(fsys, dir)
	require.NoError(t, err)
	for _, ent := range entries {
		if !strings.HasSuffix(ent.Name(), ".yaml") {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, ent.Name()))
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else {
				require.NoError(t, err)
			}
			if doc == nil {
				continue
			}
			raw, err := json.Marshal(doc)
			require.NoError(t, err)
			kind, _ := doc["kind"].(string)
			fn(kind, raw)
		}
	}
}

func TestMaxDelivery(t *testing.T) {
	t.Parallel()
	triggers, err := broker.LoadTriggers(fstest.MapFS{"m/b.yaml": {Data: []byte(brokerYAML)}, "m/t.yaml": {Data: []byte(triggersYAML)}}, "m")
	require.NoError(t, err)
	// sync-all has the Broker's delivery: 6 attempts of 30 s, backoffs 0.5+1+2+4+8 s, and
	// the same again for the dead-letter sink.
	assert.Equal(t, 2*(6*30*time.Second+15500*time.Millisecond), triggers[1].Delivery.MaxDuration())
	// notifier-customer-registered has no timeout: unbounded.
	assert.Zero(t, triggers[0].Delivery.MaxDuration())
	assert.Zero(t, broker.New(triggers, nil, broker.Options{}).MaxDelivery())
	assert.Equal(t, triggers[1].Delivery.MaxDuration(), broker.New(triggers[1:], nil, broker.Options{}).MaxDelivery())
}
