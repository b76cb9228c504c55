package platform_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

// TestTrustedProxiesClientAddr believes X-Forwarded-For only as far as trusted proxies wrote it.
func TestTrustedProxiesClientAddr(t *testing.T) {
	ps, err := platform.ParseTrustedProxies([]string{"10.0.0.0/8", "127.0.0.1"})
	require.NoError(t, err)
	for _, tc := range []struct {
		name, peer, xff, want string
	}{
		{"a peer that is no proxy", "203.0.113.7:5000", "198.51.100.1", "203.0.113.7"},
		{"behind the queue-proxy and the ingress", "127.0.0.1:9000", "198.51.100.1, 10.1.2.3", "198.51.100.1"},
		{"a claimed hop left of the client is ignored", "127.0.0.1:9000", "1.2.3.4, 198.51.100.1, 10.1.2.3", "198.51.100.1"},
		{"a hop with a port", "127.0.0.1:9000", "[2001:db8::7]:5123", "2001:db8::7"},
		{"garbage ends the chain: the peer it is", "127.0.0.1:9000", "198.51.100.1, nonsense, 10.1.2.3", "127.0.0.1"},
		{"no header", "10.9.9.9:1", "", "10.9.9.9"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		assert.Equal(t, tc.want, raw(ps, r), tc.name)
	}
	none, _ := platform.ParseTrustedProxies(nil)
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:9000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	assert.Equal(t, "127.0.0.1", raw(none, r), "with no trusted proxy the header is never read")
	_, err = platform.ParseTrustedProxies([]string{"not-an-address"})
	assert.Error(t, err)
}

func raw(ps platform.TrustedProxies, r *http.Request) string {
	_, s, _ := ps.ClientAddr(r)
	return s
}

// TestWarnIfNone: on Knative (K_SERVICE set) a front door without trusted proxies says at
// start that every client shares its per-address limits; with proxies, or off Knative, it
// says nothing.
func TestWarnIfNone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		proxies []string
		warn    bool
	}{
		{"on Knative without trusted proxies", map[string]string{"K_SERVICE": "public-portal"}, nil, true},
		{"on Knative with trusted proxies", map[string]string{"K_SERVICE": "public-portal"}, []string{"127.0.0.1", "10.244.0.0/16"}, false},
		{"not on Knative (orange dev)", map[string]string{}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := platform.ParseTrustedProxies(tc.proxies)
			require.NoError(t, err)
			var logs bytes.Buffer
			ps.WarnIfNone(context.Background(), platform.Deps{Env: envconfig.MapLookuper(tc.env),
				Logger: platform.NewLogger(&logs, "info", "public-portal")}, "the guest-booking limits")
			assert.Equal(t, tc.warn, bytes.Contains(logs.Bytes(), []byte("TRUSTED_PROXIES is empty")), logs.String())
			if tc.warn {
				assert.Contains(t, logs.String(), "the guest-booking limits")
			}
		})
	}
}
