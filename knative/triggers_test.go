package knative_test

import (
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/orangecarrental/orange/events"
)

// checkTriggers holds every Trigger to what both the cluster and the
// in-process broker need: a Broker of the tree, an exact type filter on a
// type of the events/ catalogue (known), a subscriber that is a Knative
// Service of the tree at events.ReceivePath, and a delivery spec with
// retries and a dead-letter sink of the tree.
func checkTriggers(r *rendered, known map[string]bool) []problem {
	var ps []problem
	brokers := map[string]bool{}
	for _, b := range r.byKind("Broker") {
		brokers[b.Name] = true
	}
	for _, tg := range r.byKind("Trigger") {
		file := r.fileOf("Trigger", tg.Name)
		add := func(keys []string, msg string) {
			f := r.origin("Trigger", tg.Name, keys...)
			if f == "" {
				f = file
			}
			ps = append(ps, problem{File: f, Object: tg.String(), Field: fieldName(keys...), Msg: msg})
		}
		if b := str(tg.M, "spec", "broker"); !brokers[b] {
			add([]string{"spec", "broker"}, fmt.Sprintf(" = %q: no such Broker in %s", b, r.Dir))
		}
		if _, ok := lookup(tg.M, "spec", "filters"); ok {
			add([]string{"spec", "filters"}, ": not supported by the in-process broker; filter with spec.filter.attributes")
		}
		typePath := []string{"spec", "filter", "attributes", "type"}
		switch typ := str(tg.M, typePath...); {
		case typ == "":
			add(typePath, " is not set: every Trigger filters on one event type")
		case !known[typ]:
			add(typePath, fmt.Sprintf(" = %q: not an event type of events/", typ))
		}
		checkServiceRef(r, tg, add, "spec", "subscriber", "ref")
		if uri := str(tg.M, "spec", "subscriber", "uri"); uri != events.ReceivePath {
			add([]string{"spec", "subscriber", "uri"}, wantGot(uri, events.ReceivePath)+" (events.ReceivePath, where functions accept CloudEvents)")
		}
		if _, ok := lookup(tg.M, "spec", "delivery"); !ok {
			add([]string{"spec", "delivery"}, " is not set: state retry, backoff and the dead-letter sink")
			continue
		}
		if n, _ := lookup(tg.M, "spec", "delivery", "retry"); fmt.Sprint(n) == "0" || n == nil {
			add([]string{"spec", "delivery", "retry"}, " is not set: at-least-once needs retries")
		}
		checkServiceRef(r, tg, add, "spec", "delivery", "deadLetterSink", "ref")
	}
	return ps
}

// checkServiceRef reports through add unless the ref at keys is a Knative
// Service of the tree.
func checkServiceRef(r *rendered, o object, add func([]string, string), keys ...string) {
	ref := mapAt(o.M, keys...)
	if ref == nil {
		add(keys, " is not set: refer to a Knative Service of the tree")
		return
	}
	if str(ref, "apiVersion") != "serving.knative.dev/v1" || str(ref, "kind") != "Service" {
		add(keys, fmt.Sprintf(" = %s %s: want a serving.knative.dev/v1 Service", str(ref, "apiVersion"), str(ref, "kind")))
		return
	}
	if name := str(ref, "name"); !r.hasKnativeService(name) {
		add(append(append([]string{}, keys...), "name"), fmt.Sprintf(" = %q: no such Knative Service in %s", name, r.Dir))
	}
}

// checkSources: every PingSource and SinkBinding sends to something in the
// tree (a Knative Service, or the Broker).
func checkSources(r *rendered) []problem {
	var ps []problem
	for _, kind := range []string{"PingSource", "SinkBinding"} {
		for _, o := range r.byKind(kind) {
			ref := mapAt(o.M, "spec", "sink", "ref")
			keys := []string{"spec", "sink", "ref", "name"}
			name := str(ref, "name")
			ok := false
			switch str(ref, "kind") {
			case "Service":
				ok = r.hasKnativeService(name)
			case "Broker":
				for _, b := range r.byKind("Broker") {
					ok = ok || b.Name == name
				}
			}
			if !ok {
				ps = append(ps, problem{File: r.fileOf(kind, o.Name), Object: o.String(), Field: fieldName(keys...),
					Msg: fmt.Sprintf(" = %s %q: no such Knative Service or Broker in %s", str(ref, "kind"), name, r.Dir)})
			}
		}
	}
	return ps
}

// checkBrokers: every Broker dead-letters to a Service of the tree, and
// production never runs on the in-memory channel.
func checkBrokers(r *rendered) []problem {
	var ps []problem
	const classKey = "eventing.knative.dev/broker.class"
	for _, b := range r.byKind("Broker") {
		add := func(keys []string, msg string) {
			f := r.origin("Broker", b.Name, keys...)
			if f == "" {
				f = r.fileOf("Broker", b.Name)
			}
			ps = append(ps, problem{File: f, Object: b.String(), Field: fieldName(keys...), Msg: msg})
		}
		checkServiceRef(r, b, add, "spec", "delivery", "deadLetterSink", "ref")
		if r.env() != "production" {
			continue
		}
		classPath := []string{"metadata", "annotations", classKey}
		switch class := str(b.M, classPath...); class {
		case "Kafka", "RabbitMQBroker":
			if str(b.M, "spec", "config", "name") == "" {
				add([]string{"spec", "config"}, fmt.Sprintf(" is not set: the %s broker needs its config ConfigMap", class))
			}
		default:
			add(classPath, fmt.Sprintf(" = %q: production needs a durable broker class (Kafka or RabbitMQBroker), never the in-memory channel", class))
		}
	}
	return ps
}

// checkTriggersNotPatched: an overlay may not change a Trigger's filter or
// delivery, nor add a Trigger of its own, because `orange dev` reads them
// from base/ and local routing would drift from the cluster.
func checkTriggersNotPatched(base, overlay *rendered) []problem {
	var ps []problem
	baseTriggers := map[string]object{}
	for _, tg := range base.byKind("Trigger") {
		baseTriggers[tg.Name] = tg
	}
	for _, tg := range overlay.byKind("Trigger") {
		b, ok := baseTriggers[tg.Name]
		if !ok {
			ps = append(ps, problem{File: overlay.fileOf("Trigger", tg.Name), Object: tg.String(), Field: "metadata.name",
				Msg: ": Triggers live in base/ only (the in-process broker reads them from there)"})
			continue
		}
		for _, field := range [][]string{{"spec", "filter"}, {"spec", "filters"}, {"spec", "delivery"}, {"spec", "subscriber"}, {"spec", "broker"}} {
			got, _ := lookup(tg.M, field...)
			want, _ := lookup(b.M, field...)
			if reflect.DeepEqual(got, want) {
				continue
			}
			f := overlay.origin("Trigger", tg.Name, field...)
			if f == "" || f == base.fileOf("Trigger", tg.Name) {
				f = overlay.Dir
			}
			ps = append(ps, problem{File: f, Object: tg.String(), Field: fieldName(field...),
				Msg: fmt.Sprintf(": overlays may not change a Trigger's %s (%s has %v, %s renders %v)", field[len(field)-1], base.fileOf("Trigger", tg.Name), want, overlay.Dir, got)})
		}
	}
	return ps
}

// checkEveryTypeConsumed: every emitted type has a Trigger in the tree or a
// line in awaiting (who will consume it); a line for a type that already has
// a Trigger, or that is not emitted at all, is stale.
func checkEveryTypeConsumed(r *rendered, emitted map[string]bool, awaiting map[string]string) []problem {
	consumed := map[string]bool{}
	for _, tg := range r.byKind("Trigger") {
		consumed[str(tg.M, "spec", "filter", "attributes", "type")] = true
	}
	var ps []problem
	for _, typ := range sortedKeys(emitted) {
		if !consumed[typ] && awaiting[typ] == "" {
			ps = append(ps, problem{File: "events/", Object: "event type " + typ, Field: "Triggers",
				Msg: fmt.Sprintf(": emitted but no Trigger in %s filters on it (add one, or a line to awaitingConsumer in knative/events_test.go)", r.Dir)})
		}
	}
	for _, typ := range sortedKeys(awaiting) {
		switch {
		case !emitted[typ]:
			ps = append(ps, problem{File: "knative/events_test.go", Object: "awaitingConsumer", Field: typ, Msg: ": not an emitted type of events/; delete the line"})
		case consumed[typ]:
			ps = append(ps, problem{File: "knative/events_test.go", Object: "awaitingConsumer", Field: typ, Msg: fmt.Sprintf(": %s has a Trigger now; delete the line", r.Dir)})
		}
	}
	return ps
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestEventingObjectsAreWired(t *testing.T) {
	t.Parallel()
	known, emitted := eventCatalogue()
	all := renderAll(t)
	base := all[0]
	for _, r := range all {
		dir := r.Dir
		report(t, dir, checkTriggers(r, known))
		report(t, dir, checkSources(r))
		report(t, dir, checkBrokers(r))
		report(t, dir, checkTriggersNotPatched(base, r))
		report(t, dir, checkEveryTypeConsumed(r, emitted, awaitingConsumer))
	}
}

// testTrigger is a Trigger a later issue would add: payment.failed to
// notification-worker (awaitingConsumer names it among that type's future
// consumers). Mutation tests add it to base in memory next to the real
// Triggers of base/notification-worker.yaml.
const testTrigger = `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: test-payment-failed
  namespace: orange
spec:
  broker: default
  filter:
    attributes:
      type: com.orangecarrental.payment.failed.v1
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: notification-worker
    uri: /cloudevents
  delivery:
    retry: 5
    backoffPolicy: exponential
    backoffDelay: PT0.5S
    timeout: PT10S
    deadLetterSink:
      ref:
        apiVersion: serving.knative.dev/v1
        kind: Service
        name: dead-letter
`

// TestTriggerMutationsAreCaught adds a Trigger to base in memory (a valid
// one first, against the real catalogue and beside the real Triggers) and
// breaks it in the ways later issues could; it also breaks a real Trigger
// of base/notification-worker.yaml, so the checks are seen to reach the
// files the cluster gets.
func TestTriggerMutationsAreCaught(t *testing.T) {
	t.Parallel()
	known, _ := eventCatalogue()
	const (
		triggerFile = "base/trigger-test.yaml"
		realFile    = "base/notification-worker.yaml"
		realTrigger = "notification-worker-customer-registered"
	)
	withTrigger := func(edit func(m map[string]any)) func(*tree) {
		return func(tr *tree) {
			tr.addResource("base", "trigger-test.yaml", testTrigger)
			if edit != nil {
				tr.editDoc(triggerFile, "Trigger", "test-payment-failed", edit)
			}
		}
	}
	editReal := func(edit func(m map[string]any)) func(*tree) {
		return func(tr *tree) { tr.editDoc(realFile, "Trigger", realTrigger, edit) }
	}
	tests := []struct {
		name   string
		mutate func(*tree)
		want   string // "" = no problem at all
	}{
		{name: "valid trigger", mutate: withTrigger(nil)},
		{
			name: "filter on unknown type",
			mutate: withTrigger(func(m map[string]any) {
				mapAt(m, "spec", "filter", "attributes")["type"] = "com.orangecarrental.payment.faild.v1"
			}),
			want: `base/trigger-test.yaml: Trigger test-payment-failed: spec.filter.attributes.type = "com.orangecarrental.payment.faild.v1": not an event type of events/`,
		},
		{
			name:   "subscriber path",
			mutate: withTrigger(func(m map[string]any) { mapAt(m, "spec", "subscriber")["uri"] = "/events" }),
			want:   `base/trigger-test.yaml: Trigger test-payment-failed: spec.subscriber.uri = "/events", want "/cloudevents" (events.ReceivePath, where functions accept CloudEvents)`,
		},
		{
			name:   "subscriber not in tree",
			mutate: withTrigger(func(m map[string]any) { mapAt(m, "spec", "subscriber", "ref")["name"] = "no-such-worker" }),
			want:   `base/trigger-test.yaml: Trigger test-payment-failed: spec.subscriber.ref.name = "no-such-worker": no such Knative Service in overlays/production`,
		},
		{
			name:   "no dead-letter sink",
			mutate: withTrigger(func(m map[string]any) { delete(mapAt(m, "spec", "delivery"), "deadLetterSink") }),
			want:   `base/trigger-test.yaml: Trigger test-payment-failed: spec.delivery.deadLetterSink.ref is not set: refer to a Knative Service of the tree`,
		},
		{
			name:   "real trigger without a filter",
			mutate: editReal(func(m map[string]any) { delete(mapAt(m, "spec"), "filter") }),
			want:   `base/notification-worker.yaml: Trigger notification-worker-customer-registered: spec.filter.attributes.type is not set: every Trigger filters on one event type`,
		},
		{
			name:   "real trigger without retries",
			mutate: editReal(func(m map[string]any) { delete(mapAt(m, "spec", "delivery"), "retry") }),
			want:   `base/notification-worker.yaml: Trigger notification-worker-customer-registered: spec.delivery.retry is not set: at-least-once needs retries`,
		},
		{
			name: "overlay patches the filter",
			mutate: func(tr *tree) {
				withTrigger(nil)(tr)
				tr.addPatch("overlays/production", "trigger-patch.yaml", `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: test-payment-failed
  namespace: orange
spec:
  filter:
    attributes:
      type: com.orangecarrental.payment.voided.v1
`)
			},
			want: "overlays/production/trigger-patch.yaml: Trigger test-payment-failed: spec.filter: overlays may not change a Trigger's filter…",
		},
		{
			name: "overlay patches the delivery",
			mutate: func(tr *tree) {
				withTrigger(nil)(tr)
				tr.addPatch("overlays/production", "trigger-patch.yaml", `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: test-payment-failed
  namespace: orange
spec:
  delivery:
    retry: 1
`)
			},
			want: "overlays/production/trigger-patch.yaml: Trigger test-payment-failed: spec.delivery: overlays may not change a Trigger's delivery…",
		},
		{
			name: "overlay repoints a real trigger",
			mutate: func(tr *tree) {
				tr.addPatch("overlays/production", "trigger-patch.yaml", `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: notification-worker-customer-registered
  namespace: orange
spec:
  subscriber:
    uri: /events
`)
			},
			want: "overlays/production/trigger-patch.yaml: Trigger notification-worker-customer-registered: spec.subscriber: overlays may not change a Trigger's subscriber…",
		},
		{
			name: "production on the in-memory channel",
			mutate: func(tr *tree) {
				tr.editDoc("overlays/production/broker.yaml", "Broker", "default", func(m map[string]any) {
					mapAt(m, "metadata", "annotations")["eventing.knative.dev/broker.class"] = "MTChannelBasedBroker"
				})
			},
			want: `overlays/production/broker.yaml: Broker default: metadata.annotations[eventing.knative.dev/broker.class] = "MTChannelBasedBroker": production needs a durable broker class (Kafka or RabbitMQBroker), never the in-memory channel`,
		},
	}
	ctx := validationContext(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tt.mutate(tr)
			base, err := tr.render("base")
			if err != nil {
				t.Fatal(err)
			}
			r, err := tr.render("overlays/production")
			if err != nil {
				t.Fatal(err)
			}
			var ps []problem
			ps = append(ps, checkTriggers(r, known)...)
			ps = append(ps, checkBrokers(r)...)
			ps = append(ps, checkTriggersNotPatched(base, r)...)
			if tt.want == "" {
				ps = append(ps, checkKnativeValidation(ctx, r)...)
				report(t, "valid fixture", ps)
				return
			}
			mustContain(t, ps, tt.want)
		})
	}
}

func TestEveryEmittedTypeNeedsATrigger(t *testing.T) {
	t.Parallel()
	tr := newTree(t)
	tr.addResource("base", "trigger-test.yaml", testTrigger)
	r, err := tr.render("overlays/staging")
	if err != nil {
		t.Fatal(err)
	}
	emitted := map[string]bool{
		"com.orangecarrental.payment.failed.v1":          true, // has the Trigger
		"com.orangecarrental.customer.status_changed.v1": true, // awaiting below
		"com.orangecarrental.test.unconsumed.v1":         true, // neither
	}
	awaiting := map[string]string{
		"com.orangecarrental.customer.status_changed.v1": "nobody yet",
		"com.orangecarrental.payment.failed.v1":          "notification-worker", // stale: has a Trigger
		"com.orangecarrental.vehicle.teleported.v1":      "nobody",              // stale: not emitted
	}
	ps := checkEveryTypeConsumed(r, emitted, awaiting)
	if len(ps) != 3 {
		t.Errorf("want exactly 3 problems, got %v", ps)
	}
	mustContain(t, ps, "events/: event type com.orangecarrental.test.unconsumed.v1: Triggers: emitted but no Trigger in overlays/staging filters on it (add one, or a line to awaitingConsumer in knative/events_test.go)")
	mustContain(t, ps, "knative/events_test.go: awaitingConsumer: com.orangecarrental.payment.failed.v1: overlays/staging has a Trigger now; delete the line")
	mustContain(t, ps, "knative/events_test.go: awaitingConsumer: com.orangecarrental.vehicle.teleported.v1: not an emitted type of events/; delete the line")
}
