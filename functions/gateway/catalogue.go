package gateway

import (
	"net/http"
	"strings"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// The event catalogue for producers outside the system (docs/events.md): the JSON Schema of
// every event type and the AsyncAPI document, generated from events/ and embedded there.
// The gateway serves them itself, read-only and public, before forwarding: /api/events
// belongs to sync-worker, which receives the events these documents describe, and a
// producer may read them before it has a token.
const (
	catalogueSchemas  = "/api/events/schemas"
	catalogueAsyncAPI = "/api/events/asyncapi.json"
)

// catalogueCache lets clients and proxies keep a document for a while: it changes only with
// a release.
const catalogueCache = "public, max-age=300"

// catalogueRoutes come before the forwarding routes, which they would otherwise lose to
// a /api/events prefix.
func catalogueRoutes() []platform.Route {
	return []platform.Route{
		{Name: "listEventSchemas", Method: http.MethodGet, Path: catalogueSchemas, Access: platform.Public, Handler: handleSchemaIndex},
		{Name: "getEventSchema", Method: http.MethodGet, Path: catalogueSchemas + "/{file}", Access: platform.Public, Handler: handleSchema},
		{Name: "getEventsAsyncAPI", Method: http.MethodGet, Path: catalogueAsyncAPI, Access: platform.Public, Handler: handleAsyncAPI},
		// Any other method on them is the gateway's 405 too, not forwarded to sync-worker,
		// which knows no such path (a 404).
		{Name: "eventSchemasReadOnly", Path: catalogueSchemas, Access: platform.Public, Handler: readOnly},
		{Name: "eventSchemaReadOnly", Path: catalogueSchemas + "/{file}", Access: platform.Public, Handler: readOnly},
		{Name: "eventsAsyncAPIReadOnly", Path: catalogueAsyncAPI, Access: platform.Public, Handler: readOnly},
	}
}

// readOnly answers a method other than GET on a catalogue document: 405 (RFC 9110 §15.5.6).
func readOnly(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Allow", http.MethodGet)
	return platform.Errorf(platform.KindMethodNotAllowed, "method %s is not allowed on %s: the event catalogue is read-only", r.Method, r.URL.Path)
}

// schemaEntry is one line of the schema index.
type schemaEntry struct {
	Type string `json:"type"`
	// Schema is the schema's path on the gateway.
	Schema string `json:"schema"`
	// Inbound says producers outside may send the type (to POST /api/events).
	Inbound bool `json:"inbound"`
}

type schemaIndex struct {
	Items    []schemaEntry `json:"items"`
	AsyncAPI string        `json:"asyncapi"`
}

func handleSchemaIndex(w http.ResponseWriter, _ *http.Request) error {
	types := events.SchemaTypes()
	out := schemaIndex{Items: make([]schemaEntry, 0, len(types)), AsyncAPI: catalogueAsyncAPI}
	for _, typ := range types {
		_, inbound := events.Inbound[typ]
		out.Items = append(out.Items, schemaEntry{Type: typ, Schema: catalogueSchemas + "/" + typ + ".json", Inbound: inbound})
	}
	w.Header().Set("Cache-Control", catalogueCache)
	return platform.WriteJSON(w, http.StatusOK, out)
}

func handleSchema(w http.ResponseWriter, r *http.Request) error {
	file := platform.PathVar(r, "file")
	typ, ok := strings.CutSuffix(file, ".json")
	var doc []byte
	if ok {
		doc, ok = events.Schema(typ)
	}
	if !ok {
		return platform.NotFound("no event type has this schema; the index is %s", catalogueSchemas)
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", catalogueCache)
	_, err := w.Write(doc)
	return err
}

func handleAsyncAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", catalogueCache)
	_, err := w.Write(events.AsyncAPI())
	return err
}
