package main

import (
	"io/fs"
	"slices"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
)

// namespace and brokerName are where the manifests of knative/base run the Broker.
const (
	namespace  = "orange"
	brokerName = "default"
)

// flows are who sends and who receives each event type, as the manifests say: producers
// are the Services whose EventPolicy lets them send the type with their own name as source
// (plus the PingSources for their ping), consumers the Services a Trigger (or PingSource)
// delivers it to.
type flows struct {
	producers map[string][]string
	consumers map[string][]string
}

// readFlows reads the Triggers, PingSources and EventPolicies of base/ in manifests.
func readFlows(manifests fs.FS) (flows, error) {
	f := flows{producers: map[string][]string{}, consumers: map[string][]string{}}
	triggers, err := broker.LoadTriggers(manifests, "base")
	if err != nil {
		return f, err
	}
	pings, err := broker.LoadPingSources(manifests, "base")
	if err != nil {
		return f, err
	}
	policies, err := broker.LoadEventPolicies(manifests, "base")
	if err != nil {
		return f, err
	}
	applying := broker.NewPolicies(policies, namespace, brokerName)
	var senders []string
	sources := map[string][]string{} // the sources a sender's policy names (exact, or a prefix + "x")
	for _, p := range policies {
		for _, sub := range p.From {
			if svc, ok := strings.CutPrefix(sub, "system:serviceaccount:"+namespace+":"); ok && !strings.HasSuffix(svc, "*") {
				senders = append(senders, svc)
				sources[svc] = append(sources[svc], policySources(p.Filters)...)
			}
		}
	}
	slices.Sort(senders)
	senders = slices.Compact(senders)
	for typ := range events.Types {
		if typ == events.Ping {
			for _, p := range pings {
				f.producers[typ] = append(f.producers[typ], "PingSource "+p.Name)
				if p.Sink.Service != "" {
					f.consumers[typ] = append(f.consumers[typ], p.Sink.Service)
				}
			}
		}
		for _, svc := range senders {
			for _, source := range append([]string{svc}, sources[svc]...) {
				e := cloudevents.NewEvent()
				e.SetType(typ)
				e.SetSource(source)
				e.SetID("x")
				if !applying.Allows("system:serviceaccount:"+namespace+":"+svc, &e) {
					continue
				}
				// The dead-letter sink replays others' events under their own source; it
				// produces nothing of its own.
				if svc != "dead-letter" {
					f.producers[typ] = append(f.producers[typ], svc)
				}
				for i := range triggers {
					if triggers[i].Matches(e) && triggers[i].Subscriber.Service != "" {
						f.consumers[typ] = append(f.consumers[typ], triggers[i].Subscriber.Service)
					}
				}
			}
		}
	}
	for _, m := range []map[string][]string{f.producers, f.consumers} {
		for typ, list := range m {
			slices.Sort(list)
			m[typ] = slices.Compact(list)
		}
	}
	return f, nil
}

// asyncAPI is the AsyncAPI 3.0 document of the catalogue: a channel per event type (its
// address is the type, as Triggers filter on it), a message per type with the CloudEvents
// binary-mode headers and the payload's JSON Schema by reference (schemas/<type>.json,
// beside the document both in events/ and where the gateway serves it), and an operation
// per type from the system's side: "receive" for the inbound types that producers outside
// send to /api/events, "send" for the rest. x-producers and x-consumers name the Services.
func asyncAPI(d docs, fl flows) map[string]any {
	channels := map[string]any{}
	operations := map[string]any{}
	messages := map[string]any{}
	for typ := range events.Types {
		id := d.constants[typ]
		if id == "" {
			id = strings.NewReplacer(".", "_", "-", "_").Replace(typ)
		}
		_, inbound := events.Inbound[typ]
		messages[id] = map[string]any{
			"name":        id,
			"title":       typ,
			"contentType": "application/json",
			"headers": map[string]any{"allOf": []any{
				map[string]any{"$ref": "#/components/schemas/CloudEventHeaders"},
				map[string]any{"properties": map[string]any{"ce-type": map[string]any{"const": typ}}},
			}},
			"payload": map[string]any{"$ref": "schemas/" + typ + ".json"},
		}
		if c := d.comments[payloadName(typ)]; c != "" {
			messages[id].(map[string]any)["description"] = c
		}
		channel := map[string]any{
			"address":  typ,
			"messages": map[string]any{id: map[string]any{"$ref": "#/components/messages/" + id}},
		}
		channels[id] = channel
		op := map[string]any{
			"action":      "send",
			"channel":     map[string]any{"$ref": "#/channels/" + id},
			"messages":    []any{map[string]any{"$ref": "#/channels/" + id + "/messages/" + id}},
			"x-producers": orEmpty(fl.producers[typ]),
			"x-consumers": orEmpty(fl.consumers[typ]),
		}
		name := "publish" + id
		switch {
		case inbound:
			op["action"] = "receive"
			op["summary"] = "Producers outside the system (a partner identity allowed the type) send it to POST /api/events; sync-worker validates it against its schema and publishes it to the Broker."
			name = "accept" + id
		case events.External[typ]:
			op["action"] = "receive"
			op["summary"] = "Sent by Knative PingSources on their schedules."
			name = "receive" + id
		}
		operations[name] = op
	}
	return map[string]any{
		"asyncapi": "3.0.0",
		"id":       "urn:orangecarrental:events",
		"info": map[string]any{
			"title":   "Orange Car Rental events",
			"version": "1.0.0",
			"description": "Every CloudEvent of Orange Car Rental, generated from the Go catalogue (events/) and the " +
				"Knative manifests (knative/base) by tools/eventdocs. Events are CloudEvents 1.0 in binary HTTP mode " +
				"with JSON data; the type is the channel address. Producers outside the system send the inbound types " +
				"(operations with action receive) to POST /api/events as a partner identity; the payload schemas are " +
				"served beside this document at /api/events/schemas/{type}.json.",
		},
		"defaultContentType": "application/json",
		"servers": map[string]any{
			"gateway": map[string]any{
				"host":        "{host}",
				"protocol":    "https",
				"pathname":    "/api/events",
				"description": "The public entry for producers outside the system (inbound types only; a partner's client-credentials token).",
				"variables":   map[string]any{"host": map[string]any{"default": "localhost:8080", "description": "The api-gateway's host."}},
			},
			"broker": map[string]any{
				"host":        "broker-ingress.knative-eventing.svc.cluster.local",
				"protocol":    "http",
				"pathname":    "/" + namespace + "/" + brokerName,
				"description": "The Knative Broker inside the cluster; its EventPolicies admit each function's own types only.",
			},
		},
		"channels":   channels,
		"operations": operations,
		"components": map[string]any{
			"messages": messages,
			"schemas": map[string]any{
				"CloudEventHeaders": map[string]any{
					"type":        "object",
					"description": "CloudEvents 1.0 attributes in binary HTTP mode.",
					"required":    []string{"ce-specversion", "ce-id", "ce-source", "ce-type"},
					"properties": map[string]any{
						"ce-specversion": map[string]any{"type": "string", "const": "1.0"},
						"ce-id":          map[string]any{"type": "string", "description": "Unique per source; (source, id) deduplicates."},
						"ce-source":      map[string]any{"type": "string", "description": "The producing function (its Knative Service name), or the partner for inbound events."},
						"ce-type":        map[string]any{"type": "string"},
						"ce-subject":     map[string]any{"type": "string", "description": "The aggregate's id."},
						"ce-time":        map[string]any{"type": "string", "format": "date-time"},
						"content-type":   map[string]any{"type": "string", "const": "application/json"},
					},
				},
			},
		},
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// policySources are the sources a policy's filters name: each exact source, and each source
// prefix followed by "x".
func policySources(filters []broker.Filter) []string {
	var out []string
	for _, f := range filters {
		if v, ok := f.Exact["source"]; ok {
			out = append(out, v)
		}
		if v, ok := f.Prefix["source"]; ok {
			out = append(out, v+"x")
		}
		out = append(out, policySources(f.All)...)
		out = append(out, policySources(f.Any)...)
	}
	return out
}
