package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/knative"
)

const eventsDir = "../../events"

// TestDocumentsAreRegenerated holds the checked-in schemas and AsyncAPI document to what the
// Go payload types and the manifests generate: a payload changed without `go generate
// ./events/` fails here.
func TestDocumentsAreRegenerated(t *testing.T) {
	t.Parallel()
	want, err := generate(eventsDir, knative.Manifests)
	require.NoError(t, err)
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(eventsDir, name))
		require.NoErrorf(t, err, "%s is missing: run go generate ./events/", name)
		assert.Equalf(t, string(b), string(got), "%s is out of date: run go generate ./events/", name)
	}
	onDisk, err := filepath.Glob(filepath.Join(eventsDir, "schemas", "*"))
	require.NoError(t, err)
	for _, f := range onDisk {
		assert.Containsf(t, want, "schemas/"+filepath.Base(f), "%s belongs to no event type: run go generate ./events/", f)
	}
}

// TestAsyncAPIDocument: a channel, message and operation per event type, each payload a
// schema beside the document, and the inbound types received from outside with a consumer.
func TestAsyncAPIDocument(t *testing.T) {
	t.Parallel()
	var doc struct {
		AsyncAPI string `json:"asyncapi"`
		Channels map[string]struct {
			Address  string                       `json:"address"`
			Messages map[string]map[string]string `json:"messages"`
		} `json:"channels"`
		Operations map[string]struct {
			Action    string            `json:"action"`
			Channel   map[string]string `json:"channel"`
			Producers []string          `json:"x-producers"`
			Consumers []string          `json:"x-consumers"`
		} `json:"operations"`
		Components struct {
			Messages map[string]struct {
				Payload map[string]string `json:"payload"`
			} `json:"messages"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(events.AsyncAPI(), &doc))
	assert.Equal(t, "3.0.0", doc.AsyncAPI)
	var addresses []string
	for id, ch := range doc.Channels {
		addresses = append(addresses, ch.Address)
		for msgID, ref := range ch.Messages {
			assert.Equal(t, "#/components/messages/"+msgID, ref["$ref"])
			m, ok := doc.Components.Messages[msgID]
			require.Truef(t, ok, "channel %s: message %s is not a component", id, msgID)
			_, err := os.Stat(filepath.Join(eventsDir, m.Payload["$ref"]))
			assert.NoErrorf(t, err, "message %s: payload %s is no file beside the document", msgID, m.Payload["$ref"])
		}
	}
	slices.Sort(addresses)
	assert.Equal(t, events.SchemaTypes(), addresses, "one channel per event type")
	require.Len(t, doc.Operations, len(events.Types))
	for name, op := range doc.Operations {
		id := strings.TrimPrefix(op.Channel["$ref"], "#/channels/")
		typ := doc.Channels[id].Address
		_, inbound := events.Inbound[typ]
		switch {
		case inbound:
			assert.Equalf(t, "receive", op.Action, "%s: the system receives the inbound types", name)
			assert.Containsf(t, op.Consumers, "vehicles-api", "%s: vehicles-api applies the inbound types", name)
		case events.External[typ]:
			assert.Equal(t, "receive", op.Action, name)
		default:
			assert.Equal(t, "send", op.Action, name)
			assert.NotEmptyf(t, op.Producers, "%s: an internal type has a producer", name)
		}
	}
}

// TestAsyncAPIDocumentIsValid validates the document against the AsyncAPI 3.0.0 JSON Schema
// (testdata: @asyncapi/specs 6.11.1, schemas/3.0.0-without-$id.json, Apache-2.0, gzipped).
func TestAsyncAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/asyncapi-3.0.0.schema.json.gz")
	require.NoError(t, err)
	defer f.Close()
	z, err := gzip.NewReader(f)
	require.NoError(t, err)
	spec, err := jsonschema.UnmarshalJSON(z)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	const url = "https://asyncapi.test/3.0.0.json"
	require.NoError(t, c.AddResource(url, spec))
	s, err := c.Compile(url)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(events.AsyncAPI()))
	require.NoError(t, err)
	assert.NoError(t, s.Validate(doc))

	// The check can fail: an action AsyncAPI 3 does not know is refused.
	bad, err := jsonschema.UnmarshalJSON(strings.NewReader(strings.Replace(string(events.AsyncAPI()), `"action": "send"`, `"action": "publish"`, 1)))
	require.NoError(t, err)
	assert.Error(t, s.Validate(bad))
}
