package host

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/orangecarrental/orange/knative"
	"github.com/orangecarrental/orange/platform"
)

// TestGuardDevPages is the DNS-rebinding attack on `orange dev`: a page of another site
// whose name resolves to 127.0.0.1 reaches the port from the developer's browser with its own
// name in Host, and used to get tokens from the known-password issuer and read the mailbox.
// The development pages now answer only to loopback names; the product's API and health do
// not care.
func TestGuardDevPages(t *testing.T) {
	t.Parallel()
	served := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Client-Address", r.Header.Get(platform.ClientAddressHeader))
		w.WriteHeader(http.StatusTeapot)
	})
	cases := []struct {
		method, path, host string
		exposed            bool
		allowed            bool
	}{
		{"GET", "/dev/mail", "localhost:8080", false, true},
		{"GET", "/dev/mail", "LOCALHOST", false, true},
		{"GET", "/dev/mail", "127.0.0.1:41234", false, true},
		{"GET", "/dev/mail", "[::1]:8080", false, true},
		{"GET", "/dev/mail", "[::1]", false, true},
		{"GET", "/dev/mail", "rebind.attacker.example:8080", false, false},
		{"GET", "/dev/mail", "rebind.attacker.example", false, false},
		{"GET", "/dev/mail", "localhost.attacker.example:8080", false, false},
		{"GET", "/dev/mail", "127.0.0.1.nip.io:8080", false, false},
		{"GET", "/dev/mail", "192.168.1.5:8080", false, false},
		{"GET", "/dev/mail", "", false, false},
		{"GET", "/dev/mail/123", "rebind.attacker.example", false, false},
		{"GET", "/dev/broker", "rebind.attacker.example", false, false},
		{"GET", "/dev", "rebind.attacker.example", false, false},
		{"POST", "/realms/orange-car-rental/protocol/openid-connect/token", "rebind.attacker.example", false, false},
		{"POST", "/realms/orange-car-rental/protocol/openid-connect/token", "localhost:8080", false, true},
		{"POST", "/dev/cluster-issuer/token", "rebind.attacker.example", false, false},
		{"POST", "/broker/orange/default", "rebind.attacker.example", false, false},
		{"GET", "/metrics", "rebind.attacker.example", false, false},
		{"GET", "/api/../dev/mail", "rebind.attacker.example", false, false},
		{"GET", "//dev/mail", "rebind.attacker.example", false, false},
		// The product and health are not development pages.
		{"GET", "/api/locations", "rebind.attacker.example", false, true},
		{"GET", "/healthz", "rebind.attacker.example", false, true},
		{"GET", "/developer", "rebind.attacker.example", false, true},
		// Exposed on purpose: the developer chose the network.
		{"GET", "/dev/mail", "devbox.lan:8080", true, true},
		{"POST", "/realms/orange-car-rental/protocol/openid-connect/token", "192.168.1.5:8080", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path+" Host "+tc.host+map[bool]string{true: " exposed"}[tc.exposed], func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tc.method, "http://x"+tc.path, nil)
			req.URL.Path = tc.path
			req.Host = tc.host
			req.Header.Set(platform.ClientAddressHeader, "198.51.100.99")
			rec := httptest.NewRecorder()
			guardDevPages(served, tc.exposed).ServeHTTP(rec, req)
			if !tc.allowed {
				assert.Equal(t, http.StatusForbidden, rec.Code)
				assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
				return
			}
			assert.Equal(t, http.StatusTeapot, rec.Code)
			assert.Empty(t, rec.Header().Get("X-Client-Address"), "a caller cannot set the gateway's client address")
		})
	}
}

func TestDevListen(t *testing.T) {
	t.Parallel()
	cases := []struct {
		listen  *string // nil: unset
		exposed bool
		wantErr bool
	}{
		{nil, false, false},
		{ptr("127.0.0.1"), false, false},
		{ptr("::1"), false, false},
		{ptr("localhost"), false, false},
		{ptr("0.0.0.0"), true, false},
		{ptr("::"), true, false},
		{ptr(""), true, false},
		{ptr("192.168.1.5"), true, false},
		{ptr("example.com"), false, true},
		{ptr("127.0.0.1:8080"), false, true},
	}
	for _, tc := range cases {
		env := map[string]string{}
		name := "unset"
		if tc.listen != nil {
			env["ORANGE_LISTEN"] = *tc.listen
			name = *tc.listen
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var cfg DevConfig
			err := platform.LoadConfig(context.Background(), envconfig.MapLookuper(env), &cfg)
			if tc.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "ORANGE_LISTEN")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.exposed, cfg.exposed())
		})
	}
}

func ptr(s string) *string { return &s }

// queueProxyIdle is how long Knative's queue-proxy keeps an idle connection to the user
// container: its transport is a clone of Go's default transport (knative.dev/pkg/network).
const queueProxyIdle = 90 * time.Second

// TestServerTimeoutsFitKnative holds the server's default timeouts to every Knative
// Service's timeoutSeconds (docs/security.md, "Timeouts"): a slow body is answered 408 by us
// before Knative gives up on the request, a handler may take as long as Knative waits without
// its answer being cut, and the queue-proxy drops an idle connection before we close it.
func TestServerTimeoutsFitKnative(t *testing.T) {
	t.Parallel()
	var cfg platform.ServerConfig
	require.NoError(t, platform.LoadConfig(context.Background(), envconfig.MapLookuper(nil), &cfg))
	services := 0
	err := fs.WalkDir(knative.Manifests, "base", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		raw, err := fs.ReadFile(knative.Manifests, path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(strings.NewReader(string(raw)))
		for {
			var doc struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Metadata   struct{ Name string }
				Spec       struct {
					Template struct {
						Spec struct {
							TimeoutSeconds int `yaml:"timeoutSeconds"`
							// A Service whose handler runs longer than the default write
							// timeout (cleanup-worker's run) sets its own HTTP_WRITE_TIMEOUT.
							Containers []struct {
								Env []struct{ Name, Value string }
							}
						}
					}
				}
			}
			if err := dec.Decode(&doc); err != nil {
				break
			}
			if doc.Kind != "Service" || !strings.HasPrefix(doc.APIVersion, "serving.knative.dev/") {
				continue
			}
			services++
			timeout := time.Duration(doc.Spec.Template.Spec.TimeoutSeconds) * time.Second
			require.Positive(t, timeout, "%s states no timeoutSeconds", doc.Metadata.Name)
			assert.Less(t, cfg.ReadTimeout, timeout, "%s: HTTP_READ_TIMEOUT must answer a slow body before Knative's timeout", doc.Metadata.Name)
			write := cfg.WriteTimeout
			for _, c := range doc.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					if e.Name == "HTTP_WRITE_TIMEOUT" {
						write, err = time.ParseDuration(e.Value)
						require.NoError(t, err, "%s: HTTP_WRITE_TIMEOUT", doc.Metadata.Name)
					}
				}
			}
			assert.Greater(t, write, timeout, "%s: HTTP_WRITE_TIMEOUT must not cut a handler Knative still waits for", doc.Metadata.Name)
		}
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, services, "no Knative Service found in knative/base")
	assert.Greater(t, cfg.IdleTimeout, queueProxyIdle, "HTTP_IDLE_TIMEOUT must outlast the queue-proxy's idle connections")
	assert.LessOrEqual(t, cfg.ReadHeaderTimeout, cfg.ReadTimeout)
}
