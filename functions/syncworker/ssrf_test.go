package syncworker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/syncworker"
)

// TestSSRFRefused: endpoints on non-public addresses are refused at subscription time, in
// every spelling; public https ones pass.
func TestSSRFRefused(t *testing.T) {
	t.Parallel()
	strict := &syncworker.Guard{}
	dev := &syncworker.Guard{AllowLoopback: true}
	for _, tc := range []struct {
		url         string
		strict, dev bool // allowed?
	}{
		{"https://127.0.0.1/hook", false, true},
		{"https://127.1.2.3/hook", false, true},
		{"https://[::1]/hook", false, true},
		{"http://127.0.0.1:8080/hook", false, true},
		{"https://localhost/hook", false, true}, // a name resolving to loopback
		{"https://10.1.2.3/hook", false, false},
		{"https://172.16.0.1/hook", false, false},
		{"https://172.31.255.254/hook", false, false},
		{"https://192.168.1.1/hook", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://[fe80::1]/hook", false, false},
		{"https://[fc00::1]/hook", false, false},
		{"https://[fd12:3456::1]/hook", false, false},
		{"https://[::ffff:127.0.0.1]/hook", false, true},
		{"https://[::ffff:10.0.0.1]/hook", false, false},
		{"https://[::ffff:169.254.169.254]/hook", false, false},
		{"https://0.0.0.0/hook", false, false},
		{"https://[::]/hook", false, false},
		{"https://224.0.0.1/hook", false, false},
		{"https://[ff02::1]/hook", false, false},
		{"https://100.64.0.1/hook", false, false},
		{"https://255.255.255.255/hook", false, false},
		{"https://[fe80::1%25eth0]/hook", false, false}, // with a zone
		{"https://192.0.2.1/hook", false, false},
		{"https://198.18.0.1/hook", false, false},
		{"https://[2001:db8::1]/hook", false, false},
		// IPv6 forms that a translator or relay turns into an IPv4 connection are judged by
		// that address: NAT64 (well-known and local-use), 6to4; Teredo and the deprecated
		// IPv4-compatible form are refused outright.
		{"https://[64:ff9b::7f00:1]/hook", false, true},
		{"https://[64:ff9b::a9fe:a9fe]/hook", false, false},
		{"https://[64:ff9b::10.0.0.1]/hook", false, false},
		{"https://[64:ff9b:1::c0a8:101]/hook", false, false},
		{"https://[::ffff:0:10.0.0.1]/hook", false, false}, // SIIT's IPv4-translated form of 10.0.0.1
		{"https://[::10.0.0.1]/hook", false, false},        // the old IPv4-compatible form
		{"https://[::ffff:0:5db8:d822]/hook", true, true},  // SIIT of a public address
		{"https://[2002:a9fe:a9fe::1]/hook", false, false},
		{"https://[2002:c0a8:101::1]/hook", false, false},
		{"https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", false, false},
		{"https://[::10.0.0.1]/hook", false, false},
		{"https://[::7f00:1]/hook", false, false},
		{"https://[64:ff9b::5db8:d822]/hook", true, true}, // NAT64 of a public address
		{"https://[2002:5db8:d822::1]/hook", true, true},  // 6to4 of a public address
		{"http://93.184.216.34/hook", false, false},       // public, but not https
		{"https://user:pw@93.184.216.34/hook", false, false},
		{"ftp://93.184.216.34/hook", false, false},
		{"/relative", false, false},
		{"https://93.184.216.34/hook", true, true},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]/hook", true, true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			assert.Equal(t, tc.strict, strict.CheckURL(context.Background(), tc.url) == nil, "strict")
			assert.Equal(t, tc.dev, dev.CheckURL(context.Background(), tc.url) == nil, "loopback allowed")
		})
	}
}

// TestSSRFAtConnect: the dialer refuses a non-public address after resolution, whatever the
// URL said when it was checked (DNS rebinding): the server is never reached.
func TestSSRFAtConnect(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	client := (&syncworker.Guard{}).Client(2 * time.Second)
	_, err := client.Get(srv.URL)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "loopback")
	assert.Zero(t, hits.Load())
	resp, err := (&syncworker.Guard{AllowLoopback: true}).Client(2 * time.Second).Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, int32(1), hits.Load())
}

// TestSubscriptionValidation: bad subscriptions are 400 naming the field, and change nothing.
func TestSubscriptionValidation(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.AllowLoopback = false
	w := newWorker(t, cfg)
	good := events.ReservationConfirmed
	for name, body := range map[string]map[string]any{
		"private endpoint":                {"url": "https://10.0.0.7/hook", "types": []string{good}},
		"loopback endpoint":               {"url": "https://127.0.0.1/hook", "types": []string{good}},
		"metadata endpoint":               {"url": "https://169.254.169.254/", "types": []string{good}},
		"no types":                        {"url": "https://93.184.216.34/hook", "types": []string{}},
		"customer type":                   {"url": "https://93.184.216.34/hook", "types": []string{events.CustomerRegistered}},
		"unknown type":                    {"url": "https://93.184.216.34/hook", "types": []string{"x"}},
		"bad secret":                      {"url": "https://93.184.216.34/hook", "types": []string{good}, "secret": "whsec_short"},
		"no url":                          {"types": []string{good}},
		"unknown field":                   {"url": "https://93.184.216.34/hook", "types": []string{good}, "x": 1},
		"a bell in the description":       {"url": "https://93.184.216.34/hook", "types": []string{good}, "description": "ding\a"},
		"a line break in the description": {"url": "https://93.184.216.34/hook", "types": []string{good}, "description": "a\nforged log line"},
	} {
		r := w.admin_(http.MethodPost, syncworker.WebhooksPrefix, body)
		assert.Equal(t, http.StatusBadRequest, r.status, name+": "+string(r.body))
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), name)
	}
	r := w.admin_(http.MethodGet, syncworker.WebhooksPrefix, nil)
	assert.Empty(t, r.json(t)["items"])

	// A given secret is kept; an update cannot change it; only admins manage webhooks.
	r = w.admin_(http.MethodPost, syncworker.WebhooksPrefix, map[string]any{"url": "https://93.184.216.34/hook", "types": []string{good},
		"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	id := r.json(t)["id"].(string)
	r = w.admin_(http.MethodPatch, syncworker.WebhooksPrefix+"/"+id, map[string]any{"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	assert.Equal(t, http.StatusBadRequest, r.status)
	r = w.admin_(http.MethodGet, syncworker.WebhooksPrefix+"/"+id, nil)
	assert.NotContains(t, r.json(t), "secret", "the secret is shown once")
	assert.Equal(t, http.StatusForbidden, w.do(http.MethodGet, syncworker.WebhooksPrefix, w.id.Bearer(t, "frank"), "", nil).status)
	assert.Equal(t, http.StatusForbidden, w.do(http.MethodGet, syncworker.WebhooksPrefix, w.id.Bearer(t, "partner:dev-garage"), "", nil).status)
	assert.Equal(t, http.StatusUnauthorized, w.do(http.MethodGet, syncworker.WebhooksPrefix, "", "", nil).status)
	r = w.admin_(http.MethodDelete, syncworker.WebhooksPrefix+"/"+id, nil)
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Equal(t, http.StatusNotFound, w.admin_(http.MethodGet, syncworker.WebhooksPrefix+"/"+id, nil).status)
}
