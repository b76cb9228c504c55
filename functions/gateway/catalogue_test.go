package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// TestEventCatalogue: the gateway serves the event catalogue itself, to anyone, without
// calling a function: the index, every schema as events/ embeds it, and the AsyncAPI
// document, whose payload references resolve to schemas the gateway serves.
func TestEventCatalogue(t *testing.T) {
	t.Parallel()
	up := &upstream{}
	h := newHarness(t, nil, inProcess(up))
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp := h.do(httptest.NewRequest(http.MethodGet, path, nil))
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}

	resp, body := get("/api/events/schemas")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var index struct {
		Items []struct {
			Type, Schema string
			Inbound      bool
		}
		AsyncAPI string
	}
	require.NoError(t, json.Unmarshal(body, &index))
	require.Len(t, index.Items, len(events.SchemaTypes()))
	inbound := 0
	for _, it := range index.Items {
		resp, body := get(it.Schema)
		require.Equal(t, http.StatusOK, resp.StatusCode, it.Schema)
		assert.Equal(t, "application/schema+json", resp.Header.Get("Content-Type"))
		want, _ := events.Schema(it.Type)
		assert.Equal(t, string(want), string(body))
		_, isInbound := events.Inbound[it.Type]
		assert.Equal(t, isInbound, it.Inbound, it.Type)
		if it.Inbound {
			inbound++
		}
	}
	assert.Equal(t, len(events.Inbound), inbound)

	resp, body = get(index.AsyncAPI)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, string(events.AsyncAPI()), string(body))
	var doc struct {
		Components struct {
			Messages map[string]struct {
				Payload struct {
					Ref string `json:"$ref"`
				} `json:"payload"`
			} `json:"messages"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	base, err := url.Parse(index.AsyncAPI)
	require.NoError(t, err)
	for name, m := range doc.Components.Messages {
		ref, err := url.Parse(m.Payload.Ref)
		require.NoError(t, err)
		resp, _ := get(base.ResolveReference(ref).Path)
		assert.Equalf(t, http.StatusOK, resp.StatusCode, "message %s: %s does not resolve on the gateway", name, m.Payload.Ref)
	}

	for _, path := range []string{
		"/api/events/schemas/com.orangecarrental.vehicle.teleported.v1.json",
		"/api/events/schemas/" + events.VehicleFuelRead, // no .json
		"/api/events/schemas/asyncapi.json",
	} {
		readProblem(t, h.do(httptest.NewRequest(http.MethodGet, path, nil)), platform.KindNotFound)
	}
	// Read-only: another method is the gateway's 405, not forwarded (sync-worker's 404).
	for _, path := range []string{"/api/events/schemas", index.Items[0].Schema, index.AsyncAPI} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			resp := h.do(httptest.NewRequest(method, path, strings.NewReader(`{}`)))
			assert.Equal(t, "GET", resp.Header.Get("Allow"), "%s %s", method, path)
			readProblem(t, resp, platform.KindMethodNotAllowed)
		}
	}
	assert.Zero(t, up.calls.Load(), "the catalogue is the gateway's own")

	// The rest of /api/events is still sync-worker's: a producer's POST is forwarded there
	// (the harness mounts no sync-worker, hence the gateway's 502 naming it).
	req := httptest.NewRequest(http.MethodPost, "/api/events", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	p := readProblem(t, h.do(req), platform.KindBadGateway)
	assert.Contains(t, p.Detail, "sync-worker")
}
