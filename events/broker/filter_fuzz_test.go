package broker

import (
	"context"
	"flag"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.uber.org/zap"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
	"knative.dev/pkg/logging"
)

// fuzzBrokerYAML is the Broker every fuzzed Trigger names.
const fuzzBrokerYAML = `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: orange
---
`

// fuzzTriggerYAML builds a Trigger manifest around a fuzzed `filters` value and, when
// attrs is not empty, a fuzzed `filter.attributes` value.
func fuzzTriggerYAML(filters, attrs string) string {
	var b strings.Builder
	b.WriteString(fuzzBrokerYAML)
	b.WriteString("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: fuzzed\n  namespace: orange\nspec:\n  broker: default\n")
	if attrs != "" {
		b.WriteString("  filter:\n    attributes:\n")
		b.WriteString(indent(attrs, "      "))
	}
	if filters != "" {
		b.WriteString("  filters:\n")
		b.WriteString(indent(filters, "    "))
	}
	b.WriteString("  subscriber:\n    ref:\n      apiVersion: serving.knative.dev/v1\n      kind: Service\n      name: sink\n")
	return b.String()
}

func indent(s, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(prefix)
		b.WriteString(strings.TrimRight(line, "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

// fuzzing reports whether the test binary runs with -fuzz, not replaying seeds.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// FuzzTriggerFilter loads a Trigger from fuzzed YAML (LoadTriggers on an fstest.MapFS) and
// evaluates it on a fuzzed event. Neither may panic, and whenever the loader accepts the
// Trigger, its three-valued result (pass / fail / no filter) and Matches must agree with
// Knative's own filter implementation on the event as the cluster's broker filter receives
// it (over HTTP in binary mode) — the oracle of TestFiltersMatchKnative.
func FuzzTriggerFilter(f *testing.F) {
	seeds := []struct{ filters, attrs, id, source, typ, subject, tenant string }{
		{"- exact:\n    type: " + typeA + "\n", "", "e1", "customers-api", typeA, "c-42", "orange"},
		{"- prefix:\n    type: com.orangecarrental.\n- suffix:\n    source: -api\n", "", "e1", "customers-api", typeA, "", ""},
		{"- any:\n  - exact: {type: a}\n  - not: {exact: {tenant: orange}}\n", "", "e1", "s", "b", "", "orange"},
		{"- all:\n  - exact: {type: a}\n  - not: {}\n", "", "e1", "s", "a", "", ""},
		{"- not:\n    all:\n    - not: {}\n    - prefix: {subject: c}\n", "", "e1", "s", "a", "c-1", ""},
		{"- all: []\n", "", "e1", "s", "a", "", ""},
		{"[]", "type: " + typeB, "e2", "/apis/v1/namespaces/orange/pingsources/x", typeB, "", ""},
		{"", "type: " + typeB + "\nsource: s\n", "e2", "s", typeB, "", ""},
		{"", "tenant: \"\"\n", "e3", "s", "a", "", ""},
		{"", "{}", "e3", "s", "a", "", ""},
		{"", "subject: \"\"", "e3", "s", "a", "", ""},
		{"- exact: {time: \"2026-03-01T10:30:00Z\"}\n", "", "e4", "s", "a", "", ""},
		{"- exact: {id: e5, specversion: \"1.0\"}\n", "", "e5", "s", "a", "", ""},
		{"- suffix: {tenant: \"%\"}\n", "", "e6", "s", "a", "", "100%"},
		{"- exact: {tenant: \"a b\"}\n", "", "e6", "s", "a", "", "a b"},
		{"- exact: {tenant: \"é\"}\n", "", "e6", "s", "a", "", "é"},
		{"- cesql: \"type = 'a'\"\n", "", "e1", "s", "a", "", ""},
		{"- exact: {type: a}\n  prefix: {type: a}\n", "", "e1", "s", "a", "", ""},
		{"- any: [{not: {not: {exact: {datacontenttype: application/json}}}}]\n", "", "e1", "s", "a", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.filters, s.attrs, s.id, s.source, s.typ, s.subject, s.tenant, int64(1772361000))
	}
	f.Fuzz(func(t *testing.T, filters, attrs, id, source, typ, subject, tenant string, unix int64) {
		fsys := fstest.MapFS{"triggers/t.yaml": {Data: []byte(fuzzTriggerYAML(filters, attrs))}}
		triggers, err := LoadTriggers(fsys, "triggers")
		if err != nil {
			t.Logf("refused by the loader: %v", err)
			return
		}
		e := cloudevents.NewEvent()
		e.SetID(id)
		e.SetSource(source)
		e.SetType(typ)
		if subject != "" {
			e.SetSubject(subject)
		}
		if tenant != "" {
			e.SetExtension("tenant", tenant)
		}
		e.SetTime(time.Unix(unix%(1<<33), 0).UTC())
		_ = e.SetData(cloudevents.ApplicationJSON, []byte(`{"a":1}`))
		if e.Validate() != nil {
			return // the receiver never lets such an event in
		}
		wire := overTheWire(t, e)
		for i := range triggers {
			tr := &triggers[i]
			got := triggerMatcher(tr).eval(&e)
			want := knativeFilterOnce(tr, wire)
			if resultName(got) != want.String() {
				t.Fatalf("trigger %+v on event %v: got %s, Knative %s\nYAML:\n%s", tr.Filters, e, resultName(got), want, fuzzTriggerYAML(filters, attrs))
			}
			if tr.Matches(e) != (want != eventfilter.FailFilter) {
				t.Fatalf("Matches disagrees with Knative's %s", want)
			}
		}
	})
}

// knativeFilterOnce is knativeFilter for a fuzz run: while fuzzing it also releases the
// goroutine each of Knative's all/any filters starts, which would otherwise pile up over
// millions of inputs. Not when replaying seeds (make test runs -race): Cleanup may race with
// the reordering goroutine, and it panics on the nil inner filter of `not: {}`.
func knativeFilterOnce(t *Trigger, e cloudevents.Event) eventfilter.FilterResult {
	if len(t.Filters) == 0 || !fuzzing() {
		return knativeFilter(t, e)
	}
	ctx := logging.WithLogger(context.Background(), zap.NewNop().Sugar())
	f := subscriptionsapi.CreateSubscriptionsAPIFilters(zap.NewNop(), toKnative(t.Filters))
	res := f.Filter(ctx, e)
	func() {
		defer func() { _ = recover() }()
		f.Cleanup()
	}()
	return res
}
