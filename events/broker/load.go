package broker

import (
	"fmt"
	"io/fs"
	"path"

	"go.yaml.in/yaml/v3"
)

type rawTrigger struct {
	Broker    string  `yaml:"broker"`
	BrokerRef *rawRef `yaml:"brokerRef"`
	Filter    *struct {
		Attributes map[string]string `yaml:"attributes"`
	} `yaml:"filter"`
	Filters    []yaml.Node    `yaml:"filters"`
	Subscriber rawDestination `yaml:"subscriber"`
	Delivery   *rawDelivery   `yaml:"delivery"`
}

type rawBroker struct {
	Delivery *rawDelivery `yaml:"delivery"`
}

// LoadTriggers reads the Triggers (eventing.knative.dev/v1) of every *.yaml file directly in
// dir — multi-document files, other kinds skipped — checked as Knative's webhook checks
// them plus what the in-process broker cannot run (cesql, unknown filter dialects, a
// subscriber that is not a Knative Service). A Trigger's Broker must be in dir too: a
// Trigger without its own delivery takes the Broker's whole delivery spec, one with its own
// falls back to the Broker's dead-letter sink only. Errors name the file and the Trigger.
func LoadTriggers(fsys fs.FS, dir string) ([]Trigger, error) {
	objs, err := readObjects(fsys, dir)
	if err != nil {
		return nil, err
	}
	brokers := map[string]*Delivery{} // namespace/name → delivery (nil: none)
	for _, o := range objs {
		ok, err := o.is(eventingV1, "Broker")
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		var rb rawBroker
		if err := o.Spec.Decode(&rb); err != nil {
			return nil, fmt.Errorf("%s: spec: %w", o.where(), err)
		}
		var d *Delivery
		if rb.Delivery != nil {
			v, err := delivery(rb.Delivery, o.namespace())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", o.where(), err)
			}
			d = &v
		}
		brokers[o.namespace()+"/"+o.Metadata.Name] = d
	}

	var out []Trigger
	seen := map[string]string{}
	for _, o := range objs {
		ok, err := o.is(eventingV1, "Trigger")
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		t, err := trigger(o, brokers)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.where(), err)
		}
		if first, dup := seen[t.String()]; dup {
			return nil, fmt.Errorf("%s: also defined in %s", o.where(), first)
		}
		seen[t.String()] = o.file
		out = append(out, t)
	}
	return out, nil
}

func trigger(o *object, brokers map[string]*Delivery) (Trigger, error) {
	t := Trigger{Name: o.Metadata.Name, Namespace: o.namespace(), File: o.file}
	if t.Name == "" {
		return t, fmt.Errorf("metadata.name is not set")
	}
	var rt rawTrigger
	if err := o.Spec.Decode(&rt); err != nil {
		return t, fmt.Errorf("spec: %w", err)
	}
	switch {
	case rt.Broker != "" && rt.BrokerRef != nil:
		return t, fmt.Errorf("spec: set broker or brokerRef, not both")
	case rt.BrokerRef != nil:
		if rt.BrokerRef.Namespace != "" && rt.BrokerRef.Namespace != t.Namespace {
			return t, fmt.Errorf("spec.brokerRef.namespace %q: cross-namespace Triggers are not supported", rt.BrokerRef.Namespace)
		}
		t.Broker = rt.BrokerRef.Name
	default:
		t.Broker = rt.Broker
	}
	if t.Broker == "" {
		return t, fmt.Errorf("spec.broker is not set")
	}
	brokerDelivery, ok := brokers[t.Namespace+"/"+t.Broker]
	if !ok {
		return t, fmt.Errorf("spec.broker %q: no Broker of that name in namespace %s in %s", t.Broker, t.Namespace, path.Dir(o.file))
	}

	if rt.Filter != nil {
		for k := range rt.Filter.Attributes {
			if !attributeName.MatchString(k) {
				return t, fmt.Errorf("spec.filter.attributes.%s: an attribute name must match %s", k, attributeName)
			}
		}
		t.Filter = rt.Filter.Attributes
		if t.Filter == nil {
			t.Filter = map[string]string{}
		}
	}
	for i := range rt.Filters {
		f, err := filterFrom(&rt.Filters[i], fmt.Sprintf("spec.filters[%d]", i))
		if err != nil {
			return t, err
		}
		t.Filters = append(t.Filters, f)
	}

	sub, err := destination(&rt.Subscriber, t.Namespace, "spec.subscriber", false)
	if err != nil {
		return t, err
	}
	t.Subscriber = sub

	switch {
	case rt.Delivery != nil:
		d, err := delivery(rt.Delivery, t.Namespace)
		if err != nil {
			return t, err
		}
		if d.DeadLetterSink == nil && brokerDelivery != nil {
			d.DeadLetterSink = brokerDelivery.DeadLetterSink
		}
		t.Delivery = d
	case brokerDelivery != nil:
		t.Delivery = *brokerDelivery
	}
	return t, nil
}

// filterFrom converts one `filters` expression, refusing what Knative's webhook refuses
// (several dialects, bad attribute names) and what the in-process broker does not run.
func filterFrom(n *yaml.Node, field string) (Filter, error) {
	var f Filter
	if n.Kind != yaml.MappingNode {
		return f, fmt.Errorf("%s: want a mapping with one dialect (exact, prefix, suffix, all, any, not)", field)
	}
	var dialects []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		sub := field + "." + key
		switch key {
		case "exact", "prefix", "suffix":
			var m map[string]string
			if err := val.Decode(&m); err != nil {
				return f, fmt.Errorf("%s: %w", sub, err)
			}
			for k, v := range m {
				if !attributeName.MatchString(k) {
					return f, fmt.Errorf("%s.%s: an attribute name must match %s", sub, k, attributeName)
				}
				if v == "" {
					return f, fmt.Errorf("%s.%s: empty value (Knative drops such a filter and lets every event through)", sub, k)
				}
			}
			switch key {
			case "exact":
				f.Exact = m
			case "prefix":
				f.Prefix = m
			default:
				f.Suffix = m
			}
			if len(m) > 0 {
				dialects = append(dialects, key)
			}
		case "all", "any":
			if val.Kind != yaml.SequenceNode {
				return f, fmt.Errorf("%s: want a list of filters", sub)
			}
			list := make([]Filter, 0, len(val.Content))
			for j, c := range val.Content {
				g, err := filterFrom(c, fmt.Sprintf("%s[%d]", sub, j))
				if err != nil {
					return f, err
				}
				list = append(list, g)
			}
			if key == "all" {
				f.All = list
			} else {
				f.Any = list
			}
			if len(list) > 0 {
				dialects = append(dialects, key)
			}
		case "not":
			g, err := filterFrom(val, sub)
			if err != nil {
				return f, err
			}
			f.Not = &g
			dialects = append(dialects, key)
		case "cesql":
			return f, fmt.Errorf("%s: CESQL filters are not supported by the in-process broker; use exact, prefix, suffix, all, any or not", sub)
		default:
			return f, fmt.Errorf("%s: unknown filter dialect %q (want exact, prefix, suffix, all, any or not)", sub, key)
		}
	}
	if len(dialects) > 1 {
		return f, fmt.Errorf("%s: several dialects %v in one filter; Knative allows one (wrap them in all)", field, dialects)
	}
	return f, nil
}
