package broker

// Internal test: it compares the three-valued filter result (pass / fail / no filter), not
// only the boolean, with Knative's own implementation.

import (
	"context"
	"net/http"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/attributes"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
	"knative.dev/pkg/logging"
)

const (
	typeA = "com.orangecarrental.customer.registered.v1"
	typeB = "com.orangecarrental.reservation.confirmed.v1"
)

// knativeFilter mirrors filterEvent of Knative's broker filter handler
// (pkg/broker/filter/filter_handler.go) on Knative's own filter implementations.
func knativeFilter(t *Trigger, e cloudevents.Event) eventfilter.FilterResult {
	ctx := logging.WithLogger(context.Background(), zap.NewNop().Sugar())
	switch {
	case len(t.Filters) > 0:
		f := subscriptionsapi.CreateSubscriptionsAPIFilters(zap.NewNop(), toKnative(t.Filters))
		// No f.Cleanup(): in v0.50 it races with the filters' reordering goroutine and
		// dereferences the nil inner filter of `not: {}`. A fresh filter per call is
		// evaluated in its declared order, which the reordering only changes later.
		return f.Filter(ctx, e)
	case t.Filter != nil:
		return attributes.NewAttributesFilter(t.Filter).Filter(ctx, e)
	}
	return eventfilter.NoFilter
}

func toKnative(fs []Filter) []eventingv1.SubscriptionsAPIFilter {
	if fs == nil {
		return nil
	}
	out := make([]eventingv1.SubscriptionsAPIFilter, 0, len(fs))
	for _, f := range fs {
		k := eventingv1.SubscriptionsAPIFilter{Exact: f.Exact, Prefix: f.Prefix, Suffix: f.Suffix, All: toKnative(f.All), Any: toKnative(f.Any)}
		if f.Not != nil {
			n := toKnative([]Filter{*f.Not})[0]
			k.Not = &n
		}
		out = append(out, k)
	}
	return out
}

// overTheWire is e as the cluster's broker filter receives it: written to an HTTP request
// in binary mode and read back.
func overTheWire(t *testing.T, e cloudevents.Event) cloudevents.Event {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://broker-filter/", nil)
	require.NoError(t, err)
	require.NoError(t, cehttp.WriteRequest(binding.WithForceBinary(context.Background()), binding.ToMessage(&e), req))
	got, err := cehttp.NewEventFromHTTPRequest(req)
	require.NoError(t, err)
	return *got
}

func fixtureEvents() map[string]struct {
	e cloudevents.Event
	// canonical: every extension a string and time in UTC, so the event reads the same
	// before and after HTTP.
	canonical bool
} {
	full := cloudevents.NewEvent()
	full.SetID("evt-1")
	full.SetType(typeA)
	full.SetSource("customers-api")
	full.SetSubject("c-42")
	full.SetTime(time.Date(2026, 3, 1, 10, 30, 0, 123000000, time.UTC))
	full.SetDataSchema("https://schemas.orangecarrental.com/customer.json")
	_ = full.SetData(cloudevents.ApplicationJSON, []byte(`{"a":1}`))
	full.SetExtension("partitionkey", "c-42")
	full.SetExtension("tenant", "orange")
	full.SetExtension("empty", "")

	minimal := cloudevents.NewEvent()
	minimal.SetID("evt-2")
	minimal.SetType(typeB)
	minimal.SetSource("/apis/v1/namespaces/orange/pingsources/expire-holds")

	typed := full.Clone()
	typed.SetID("evt-3")
	typed.SetTime(time.Date(2026, 3, 1, 11, 30, 0, 0, time.FixedZone("CET", 3600)))
	typed.SetExtension("count", 5)
	typed.SetExtension("flag", true)

	return map[string]struct {
		e         cloudevents.Event
		canonical bool
	}{"full": {full, true}, "minimal": {minimal, true}, "typed": {typed, false}}
}

func TestFiltersMatchKnative(t *testing.T) {
	t.Parallel()
	f := func(fs ...Filter) []Filter { return fs }
	exact := func(kv ...string) Filter { return Filter{Exact: kvs(kv)} }
	prefix := func(kv ...string) Filter { return Filter{Prefix: kvs(kv)} }
	suffix := func(kv ...string) Filter { return Filter{Suffix: kvs(kv)} }
	all := func(fs ...Filter) Filter { return Filter{All: fs} }
	anyOf := func(fs ...Filter) Filter { return Filter{Any: fs} }
	not := func(g Filter) Filter { return Filter{Not: &g} }

	cases := []struct {
		name    string
		attrs   map[string]string
		filters []Filter
	}{
		{name: "no filter at all"},
		{name: "attributes: empty map", attrs: map[string]string{}},
		{name: "attributes: type", attrs: kvs([]string{"type", typeA})},
		{name: "attributes: other type", attrs: kvs([]string{"type", typeB})},
		{name: "attributes: type+source+extension", attrs: kvs([]string{"type", typeA, "source", "customers-api", "tenant", "orange"})},
		{name: "attributes: type+source, wrong extension", attrs: kvs([]string{"type", typeA, "source", "customers-api", "tenant", "blue"})},
		{name: "attributes: missing extension", attrs: kvs([]string{"region", "eu"})},
		{name: "attributes: any value of an extension", attrs: kvs([]string{"tenant", ""})},
		{name: "attributes: any value of an empty extension", attrs: kvs([]string{"empty", ""})},
		{name: "attributes: empty extension equals empty", attrs: kvs([]string{"empty", "x"})},
		{name: "attributes: any subject", attrs: kvs([]string{"subject", ""})},
		{name: "attributes: any type", attrs: kvs([]string{"type", ""})},
		{name: "attributes: subject", attrs: kvs([]string{"subject", "c-42"})},
		{name: "attributes: time", attrs: kvs([]string{"time", "2026-03-01T10:30:00.123Z"})},
		{name: "attributes: time of a CET event", attrs: kvs([]string{"time", "2026-03-01T10:30:00Z"})},
		{name: "attributes: specversion", attrs: kvs([]string{"specversion", "1.0"})},
		{name: "attributes: datacontenttype", attrs: kvs([]string{"datacontenttype", "application/json"})},
		{name: "attributes: datamediatype", attrs: kvs([]string{"datamediatype", "application/json"})},
		{name: "attributes: dataschema", attrs: kvs([]string{"dataschema", "https://schemas.orangecarrental.com/customer.json"})},
		{name: "attributes: schemaurl", attrs: kvs([]string{"schemaurl", ""})},
		{name: "attributes: id", attrs: kvs([]string{"id", "evt-2"})},
		{name: "attributes: integer extension", attrs: kvs([]string{"count", "5"})},
		{name: "attributes: boolean extension", attrs: kvs([]string{"flag", "true"})},
		{name: "filters: exact type", filters: f(exact("type", typeA))},
		{name: "filters: exact type and source in one", filters: f(exact("type", typeA, "source", "customers-api"))},
		{name: "filters: exact extension", filters: f(exact("tenant", "orange"))},
		{name: "filters: exact missing extension", filters: f(exact("region", "eu"))},
		{name: "filters: exact empty extension", filters: f(exact("empty", "x"))},
		{name: "filters: exact subject of an event without one", filters: f(exact("subject", "c-42"))},
		{name: "filters: exact with an empty value (dropped by Knative)", filters: f(exact("type", ""))},
		{name: "filters: exact empty value next to a real one", filters: f(exact("type", ""), exact("source", "customers-api"))},
		{name: "filters: exact integer extension", filters: f(exact("count", "5"))},
		{name: "filters: exact boolean extension", filters: f(exact("flag", "true"))},
		{name: "filters: exact time", filters: f(exact("time", "2026-03-01T10:30:00Z"))},
		{name: "filters: prefix type", filters: f(prefix("type", "com.orangecarrental.customer."))},
		{name: "filters: prefix source", filters: f(prefix("source", "/apis/v1/namespaces/orange/"))},
		{name: "filters: prefix extension", filters: f(prefix("partitionkey", "c-"))},
		{name: "filters: prefix missing extension", filters: f(prefix("region", "e"))},
		{name: "filters: prefix of an empty subject", filters: f(prefix("subject", "c"))},
		{name: "filters: prefix time", filters: f(prefix("time", "2026-03-01T10:"))},
		{name: "filters: suffix type", filters: f(suffix("type", ".v1"))},
		{name: "filters: suffix mismatch", filters: f(suffix("type", ".registered.v2"))},
		{name: "filters: suffix extension", filters: f(suffix("tenant", "nge"))},
		{name: "filters: list is all", filters: f(exact("type", typeA), prefix("source", "customers"))},
		{name: "filters: list with one failing", filters: f(exact("type", typeA), prefix("source", "/apis"))},
		{name: "filters: all", filters: f(all(exact("type", typeA), suffix("subject", "42")))},
		{name: "filters: all, one failing", filters: f(all(exact("type", typeA), suffix("subject", "43")))},
		{name: "filters: all of one", filters: f(all(exact("tenant", "orange")))},
		{name: "filters: all of nothing", filters: f(all())},
		{name: "filters: any", filters: f(anyOf(exact("type", typeB), exact("type", typeA)))},
		{name: "filters: any, none passing", filters: f(anyOf(exact("type", "x"), exact("type", "y")))},
		{name: "filters: any of one", filters: f(anyOf(prefix("type", "com.")))},
		{name: "filters: not", filters: f(not(exact("type", typeA)))},
		{name: "filters: not not", filters: f(not(not(exact("type", typeA))))},
		{name: "filters: not of an empty filter", filters: f(not(Filter{}))},
		{name: "filters: not of a dropped exact", filters: f(not(exact("type", "")))},
		{name: "filters: empty filter", filters: f(Filter{})},
		{name: "filters: nested", filters: f(all(
			anyOf(exact("type", typeA), exact("type", typeB)),
			not(prefix("source", "/apis/")),
			suffix("partitionkey", "42")))},
		{name: "filters: nested any of all", filters: f(anyOf(
			all(exact("type", typeB), prefix("source", "/apis/")),
			all(exact("type", typeA), exact("tenant", "orange"))))},
		{name: "filters: all ending in no filter", filters: f(all(exact("type", typeA), not(Filter{})))},
		{name: "filters: not of all ending in no filter", filters: f(not(all(exact("type", typeA), not(Filter{}))))},
		{name: "filters: not of all starting with no filter", filters: f(not(all(not(Filter{}), exact("type", typeA))))},
		{name: "filters: any ending in no filter", filters: f(anyOf(exact("type", "x"), not(Filter{})))},
		{name: "filters: not of any ending in no filter", filters: f(not(anyOf(exact("type", "x"), not(Filter{}))))},
		{name: "filters win over filter.attributes", attrs: kvs([]string{"type", "nope"}), filters: f(exact("type", typeA))},
		{name: "filters (failing) win over filter.attributes (passing)", attrs: kvs([]string{"type", typeA}), filters: f(exact("type", "nope"))},
		{name: "empty filters list leaves filter.attributes", attrs: kvs([]string{"type", typeA}), filters: []Filter{}},
	}
	evs := fixtureEvents()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := &Trigger{Filter: tc.attrs, Filters: tc.filters}
			m := triggerMatcher(tr)
			for name, ev := range evs {
				got := m.eval(&ev.e)
				want := knativeFilter(tr, overTheWire(t, ev.e))
				require.Equal(t, want.String(), resultName(got), "event %s (as the cluster's filter receives it)", name)
				if ev.canonical {
					require.Equal(t, knativeFilter(tr, ev.e).String(), resultName(got), "event %s (in memory)", name)
				}
				require.Equal(t, want != eventfilter.FailFilter, tr.Matches(ev.e), "Matches, event %s", name)
			}
		})
	}
}

func resultName(r result) string {
	switch r {
	case pass:
		return eventfilter.PassFilter.String()
	case fail:
		return eventfilter.FailFilter.String()
	}
	return eventfilter.NoFilter.String()
}

func kvs(kv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
