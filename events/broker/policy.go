package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.yaml.in/yaml/v3"
)

// eventingV1alpha1 is the API version of EventPolicy in Knative Eventing v0.50.
const eventingV1alpha1 = "eventing.knative.dev/v1alpha1"

// EventPolicy is a Knative EventPolicy (eventing.knative.dev/v1alpha1) as the in-process
// broker's ingress enforces it: which OIDC identities may send which events to the Brokers
// it names.
type EventPolicy struct {
	Name      string
	Namespace string
	// File is the manifest the policy came from, for messages.
	File string
	// To names the Brokers of Namespace the policy applies to (spec.to[].ref); empty: it
	// applies to every resource of its namespace, as in Knative.
	To []string
	// From are the subjects allowed to send (spec.from[].sub): a token subject compared
	// case-insensitively, or, ending in `*`, a prefix of one. Empty: nobody (the policy
	// still applies, so it refuses everything).
	From []string
	// Filters are spec.filters, the Subscriptions API filters an event must pass (only a
	// fail refuses it).
	Filters []Filter
}

// String names the policy as namespace/name.
func (p *EventPolicy) String() string { return p.Namespace + "/" + p.Name }

type rawEventPolicy struct {
	To []struct {
		Ref      *rawRef   `yaml:"ref"`
		Selector yaml.Node `yaml:"selector"` // Kind 0 when absent
	} `yaml:"to"`
	From []struct {
		Ref *rawRef `yaml:"ref"`
		Sub *string `yaml:"sub"`
	} `yaml:"from"`
	Filters []yaml.Node `yaml:"filters"`
}

// LoadEventPolicies reads the EventPolicies (eventing.knative.dev/v1alpha1) of every *.yaml
// file directly in dir, checked as Knative's webhook checks them (ref or selector, ref or
// sub, `*` only at the end of a sub, the filters as for a Trigger) plus what the in-process
// broker cannot enforce: a `to` that is not a Broker or selects by labels, and a `from` ref,
// whose OIDC identity only a cluster can resolve — name its subject in `sub` instead.
// Errors name the file and the policy.
func LoadEventPolicies(fsys fs.FS, dir string) ([]EventPolicy, error) {
	objs, err := readObjects(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []EventPolicy
	seen := map[string]string{}
	for _, o := range objs {
		ok, err := o.is(eventingV1alpha1, "EventPolicy")
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		p, err := eventPolicy(o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.where(), err)
		}
		if first, dup := seen[p.String()]; dup {
			return nil, fmt.Errorf("%s: also defined in %s", o.where(), first)
		}
		seen[p.String()] = o.file
		out = append(out, p)
	}
	return out, nil
}

func eventPolicy(o *object) (EventPolicy, error) {
	p := EventPolicy{Name: o.Metadata.Name, Namespace: o.namespace(), File: o.file}
	if p.Name == "" {
		return p, errors.New("metadata.name is not set")
	}
	var rp rawEventPolicy
	if err := o.Spec.Decode(&rp); err != nil {
		return p, fmt.Errorf("spec: %w", err)
	}
	for i, to := range rp.To {
		field := fmt.Sprintf("spec.to[%d]", i)
		switch {
		case to.Ref != nil && to.Selector.Kind != 0:
			return p, fmt.Errorf("%s: set ref or selector, not both", field)
		case to.Selector.Kind != 0:
			return p, fmt.Errorf("%s.selector: the in-process broker does not select resources by label; name the Broker in ref", field)
		case to.Ref == nil:
			return p, fmt.Errorf("%s: set ref or selector", field)
		}
		name, err := policyTarget(to.Ref, p.Namespace, field+".ref")
		if err != nil {
			return p, err
		}
		p.To = append(p.To, name)
	}
	for i, from := range rp.From {
		field := fmt.Sprintf("spec.from[%d]", i)
		switch {
		case from.Ref != nil && from.Sub != nil:
			return p, fmt.Errorf("%s: set ref or sub, not both", field)
		case from.Ref != nil:
			return p, fmt.Errorf("%s.ref (%s %s %s): the in-process broker cannot resolve a resource to its OIDC identity; name its subject in sub (system:serviceaccount:<namespace>:<service account>)",
				field, from.Ref.APIVersion, from.Ref.Kind, from.Ref.Name)
		case from.Sub == nil || *from.Sub == "":
			return p, fmt.Errorf("%s: set ref or sub", field)
		}
		sub := *from.Sub
		if i := strings.IndexByte(sub, '*'); i >= 0 && i < len(sub)-1 {
			return p, fmt.Errorf("%s.sub %q: '*' is allowed only as the last character", field, sub)
		}
		p.From = append(p.From, sub)
	}
	for i := range rp.Filters {
		f, err := filterFrom(&rp.Filters[i], fmt.Sprintf("spec.filters[%d]", i))
		if err != nil {
			return p, err
		}
		p.Filters = append(p.Filters, f)
	}
	return p, nil
}

// policyTarget checks one spec.to ref and returns the Broker's name. Knative matches a ref
// by API group, kind and name, case-insensitively, whatever the version.
func policyTarget(ref *rawRef, namespace, field string) (string, error) {
	switch {
	case ref.APIVersion == "":
		return "", fmt.Errorf("%s.apiVersion is not set", field)
	case ref.Kind == "":
		return "", fmt.Errorf("%s.kind is not set", field)
	case ref.Name == "":
		return "", fmt.Errorf("%s.name is not set", field)
	}
	group, _, _ := strings.Cut(ref.APIVersion, "/")
	if !strings.Contains(ref.APIVersion, "/") {
		group = "" // the core group: "v1"
	}
	if !strings.EqualFold(group, "eventing.knative.dev") || !strings.EqualFold(ref.Kind, "Broker") {
		return "", fmt.Errorf("%s is %s %s: the in-process broker enforces EventPolicies on an eventing.knative.dev Broker only", field, ref.APIVersion, ref.Kind)
	}
	if ref.Namespace != "" && ref.Namespace != namespace {
		return "", fmt.Errorf("%s.namespace %q: an EventPolicy applies to resources of its own namespace (%s) only", field, ref.Namespace, namespace)
	}
	return ref.Name, nil
}

// Policies are the EventPolicies that apply to one Broker, ready to decide. A nil
// *Policies allows everything, as a cluster without Eventing's authentication-oidc feature.
type Policies struct {
	namespace, broker string
	applying          []appliedPolicy // by name, as the Broker's status lists them
}

type appliedPolicy struct {
	name     string
	subjects []string
	match    matcher
}

// NewPolicies keeps the policies that apply to Broker namespace/broker — those of its
// namespace whose `to` names it (case-insensitively, as Knative matches) or is empty — in
// the order of their names, as the Broker's status.policies lists them for its ingress.
func NewPolicies(policies []EventPolicy, namespace, broker string) *Policies {
	p := &Policies{namespace: namespace, broker: broker}
	for i := range policies {
		ep := &policies[i]
		if ep.Namespace != namespace {
			continue
		}
		if len(ep.To) > 0 && !slices.ContainsFunc(ep.To, func(to string) bool { return strings.EqualFold(to, broker) }) {
			continue
		}
		p.applying = append(p.applying, appliedPolicy{
			name: ep.Name, subjects: slices.Clone(ep.From), match: allOf(compileList(ep.Filters)),
		})
	}
	slices.SortStableFunc(p.applying, func(a, b appliedPolicy) int { return strings.Compare(a.name, b.name) })
	return p
}

// Applying names the policies that apply to the Broker, in the order they are consulted.
func (p *Policies) Applying() []string {
	if p == nil {
		return nil
	}
	out := make([]string, len(p.applying))
	for i, a := range p.applying {
		out[i] = a.name
	}
	return out
}

// Allows reports whether a sender whose token's subject is subject may send e to the
// Broker, with the semantics of Eventing v0.50 (pkg/auth SubjectAndFiltersPass and
// Verifier.verifyAuthZBySubjectsWithFilters): the first applying policy with a subject
// that matches — equal ignoring case, or a prefix when it ends in `*` — decides by its
// filters (allowed unless they fail); no matching subject refuses. When no policy applies,
// the default authorization mode decides, allow-same-namespace: any subject
// system:serviceaccount:<the Broker's namespace>:…. The event is read as the ingress reads
// it, i.e. after crossing HTTP in binary mode. A nil *Policies allows everything.
func (p *Policies) Allows(subject string, e *cloudevents.Event) bool {
	if p == nil {
		return true
	}
	if e == nil {
		return false
	}
	if len(p.applying) == 0 {
		return strings.HasPrefix(subject, serviceAccountPrefix+p.namespace+":")
	}
	for _, a := range p.applying {
		for _, s := range a.subjects {
			if strings.EqualFold(s, subject) || (strings.HasSuffix(s, "*") && strings.HasPrefix(subject, strings.TrimSuffix(s, "*"))) {
				return a.match.eval(e) != fail
			}
		}
	}
	return false
}

// check returns the refusal of e from subject, or nil when it is allowed.
func (p *Policies) check(subject string, e *cloudevents.Event) *PolicyError {
	if p.Allows(subject, e) {
		return nil
	}
	return &PolicyError{Subject: subject, Type: e.Type(), Broker: p.namespace + "/" + p.broker}
}

// PolicyError is an event the Broker's EventPolicies do not let its sender send — a
// cluster's broker ingress answers it with 403. It names the sender and the event's type,
// never its data.
type PolicyError struct {
	// Subject is the sender's OIDC subject.
	Subject string
	// Type is the event's type.
	Type string
	// Broker is the Broker as namespace/name.
	Broker string
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("the EventPolicies of Broker %s do not allow %q to send events of type %q", e.Broker, e.Subject, e.Type)
}
