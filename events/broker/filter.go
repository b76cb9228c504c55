package broker

import (
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Filter is one expression of a Trigger's `filters` list: the CloudEvents Subscriptions API
// dialects Knative runs, without cesql. One dialect is set per Filter; an empty Filter
// matches everything (Knative: "no filter").
type Filter struct {
	Exact  map[string]string `json:"exact,omitempty"`
	Prefix map[string]string `json:"prefix,omitempty"`
	Suffix map[string]string `json:"suffix,omitempty"`
	All    []Filter          `json:"all,omitempty"`
	Any    []Filter          `json:"any,omitempty"`
	Not    *Filter           `json:"not,omitempty"`
}

// result is Knative's eventfilter.FilterResult: only fail keeps an event from a Trigger.
type result uint8

const (
	pass result = iota
	fail
	noFilter
)

// matcher is a filter ready to run.
type matcher interface {
	eval(e *cloudevents.Event) result
}

// Matches reports whether e passes t's filters, as Knative's broker filter decides.
func (t *Trigger) Matches(e cloudevents.Event) bool {
	return triggerMatcher(t).eval(&e) != fail
}

// triggerMatcher builds t's filter: the `filters` list when it is non-empty, else
// `filter.attributes` (pkg/broker/filter/filter_handler.go, filterEvent).
func triggerMatcher(t *Trigger) matcher {
	if len(t.Filters) > 0 {
		return allOf(compileList(t.Filters))
	}
	if t.Filter != nil {
		return attributesMatcher(pairs(t.Filter))
	}
	return noneMatcher{}
}

// compile materializes f as Knative's subscriptionsapi.MaterializeSubscriptionsAPIFilter
// does: nil when Knative would drop it (no dialect, or an empty key or value).
func compile(f Filter) matcher {
	switch {
	case len(f.Exact) > 0:
		return stringMatcher(f.Exact, func(v, want string) bool { return v == want })
	case len(f.Prefix) > 0:
		return stringMatcher(f.Prefix, strings.HasPrefix)
	case len(f.Suffix) > 0:
		return stringMatcher(f.Suffix, strings.HasSuffix)
	case len(f.All) > 0:
		return allOf(compileList(f.All))
	case len(f.Any) > 0:
		return anyOf(compileList(f.Any))
	case f.Not != nil:
		return notMatcher{inner: compile(*f.Not)}
	}
	return nil
}

func compileList(fs []Filter) []matcher {
	out := make([]matcher, 0, len(fs))
	for _, f := range fs {
		if m := compile(f); m != nil {
			out = append(out, m)
		}
	}
	return out
}

type pair struct{ attr, value string }

func pairs(m map[string]string) []pair {
	out := make([]pair, 0, len(m))
	for k, v := range m {
		out = append(out, pair{k, v})
	}
	return out
}

// noneMatcher is a Trigger without filters.
type noneMatcher struct{}

func (noneMatcher) eval(*cloudevents.Event) result { return noFilter }

// attributesMatcher is `filter.attributes`: each attribute present and equal; an empty
// value asks for any non-empty value (pkg/eventfilter/attributes).
type attributesMatcher []pair

func (m attributesMatcher) eval(e *cloudevents.Event) result {
	for _, p := range m {
		v, ok := lookup(e, p.attr)
		if !ok || (p.value == "" && v == "") || (p.value != "" && p.value != v) {
			return fail
		}
	}
	return pass
}

// stringFilter is exact, prefix or suffix: every attribute present and its string form
// accepted by test.
type stringFilter struct {
	pairs []pair
	test  func(v, want string) bool
}

func stringMatcher(m map[string]string, test func(v, want string) bool) matcher {
	for k, v := range m {
		if k == "" || v == "" {
			return nil
		}
	}
	return stringFilter{pairs: pairs(m), test: test}
}

func (f stringFilter) eval(e *cloudevents.Event) result {
	for _, p := range f.pairs {
		v, ok := lookup(e, p.attr)
		if !ok || !f.test(v, p.value) {
			return fail
		}
	}
	return pass
}

// allMatcher: the last child's result unless one fails.
type allMatcher []matcher

func allOf(ms []matcher) matcher {
	if len(ms) == 1 {
		return ms[0]
	}
	return allMatcher(ms)
}

func (m allMatcher) eval(e *cloudevents.Event) result {
	res := noFilter
	for _, c := range m {
		if res = c.eval(e); res == fail {
			return fail
		}
	}
	return res
}

// anyMatcher: the last child's result unless one passes.
type anyMatcher []matcher

func anyOf(ms []matcher) matcher {
	if len(ms) == 1 {
		return ms[0]
	}
	return anyMatcher(ms)
}

func (m anyMatcher) eval(e *cloudevents.Event) result {
	res := noFilter
	for _, c := range m {
		if res = c.eval(e); res == pass {
			return pass
		}
	}
	return res
}

// notMatcher inverts pass and fail; "no filter" stays.
type notMatcher struct{ inner matcher }

func (m notMatcher) eval(e *cloudevents.Event) result {
	if m.inner == nil {
		return noFilter
	}
	switch m.inner.eval(e) {
	case pass:
		return fail
	case fail:
		return pass
	}
	return noFilter
}

// lookup returns an attribute as Knative's filter sees it (pkg/eventfilter/attributes,
// LookupAttribute) on the event after it crossed HTTP in binary mode: context attributes
// are always present (empty when unset), extensions as their canonical string, time as
// RFC 3339 in UTC.
func lookup(e *cloudevents.Event, attr string) (string, bool) {
	switch attr {
	case "specversion":
		return e.SpecVersion(), true
	case "type":
		return e.Type(), true
	case "source":
		return e.Source(), true
	case "subject":
		return e.Subject(), true
	case "id":
		return e.ID(), true
	case "time":
		t := e.Time()
		if !t.IsZero() {
			t = t.UTC()
		}
		b, err := t.MarshalText()
		if err != nil {
			return "", false
		}
		return string(b), true
	case "dataschema", "schemaurl":
		return e.DataSchema(), true
	case "datacontenttype":
		return e.DataContentType(), true
	case "datamediatype":
		return e.DataMediaType(), true
	case "datacontentencoding":
		return e.DeprecatedDataContentEncoding(), true
	}
	v, ok := e.Extensions()[attr]
	if !ok {
		return "", false
	}
	if s, isString := v.(string); isString {
		return s, true
	}
	s, err := types.Format(v)
	if err != nil {
		return "", false
	}
	return s, true
}
