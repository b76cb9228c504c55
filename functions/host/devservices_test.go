package host

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orangecarrental/orange/platform"
)

// TestDevServicesLoopbackOnly: /dev/services/<service>/<path> forwards to the function as a
// pod inside the cluster would (its path, query, body and the caller's token, which the
// function checks), but only for a loopback peer and a loopback Host — also when
// ORANGE_LISTEN exposes the port — and only to the functions of this process.
func TestDevServicesLoopbackOnly(t *testing.T) {
	t.Parallel()
	tr := platform.NewTransport(nil, nil)
	tr.Mount("cleanup-worker", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer delivery" { // the function's own check
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Host+" "+r.URL.RequestURI()+" "+string(body))
		w.WriteHeader(http.StatusTeapot)
	}))
	mux := http.NewServeMux()
	mux.Handle("POST "+DevServicesPath+"{service}/{path...}", devServices(tr, []string{"cleanup-worker"}))

	cases := []struct {
		name, remote, host, path, token string
		exposed                         bool
		status                          int
	}{
		{"loopback", "127.0.0.1:50000", "localhost:8080", "cleanup-worker/cloudevents?x=1", "delivery", false, http.StatusTeapot},
		{"IPv6 loopback", "[::1]:50000", "[::1]:8080", "cleanup-worker/cloudevents?x=1", "delivery", false, http.StatusTeapot},
		{"exposed, from loopback", "127.0.0.1:50000", "127.0.0.1:8080", "cleanup-worker/cloudevents?x=1", "delivery", true, http.StatusTeapot},
		{"no token: the function refuses", "127.0.0.1:50000", "localhost:8080", "cleanup-worker/cloudevents", "", false, http.StatusUnauthorized},
		{"another machine, exposed", "192.168.1.7:50000", "localhost:8080", "cleanup-worker/cloudevents", "delivery", true, http.StatusForbidden},
		{"another machine, exposed, its own Host", "192.168.1.7:50000", "devbox.lan:8080", "cleanup-worker/cloudevents", "delivery", true, http.StatusForbidden},
		{"a rebound name", "127.0.0.1:50000", "rebind.attacker.example:8080", "cleanup-worker/cloudevents", "delivery", false, http.StatusForbidden},
		{"a rebound name, exposed", "127.0.0.1:50000", "rebind.attacker.example:8080", "cleanup-worker/cloudevents", "delivery", true, http.StatusForbidden},
		{"the in-process peer", "in-process", "localhost:8080", "cleanup-worker/cloudevents", "delivery", false, http.StatusForbidden},
		{"not a function here", "127.0.0.1:50000", "localhost:8080", "payments-api/cloudevents", "delivery", false, http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, "http://x"+DevServicesPath+tc.path, strings.NewReader("ping"))
			req.RemoteAddr, req.Host = tc.remote, tc.host
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			guardDevPages(mux, tc.exposed).ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			switch rec.Code {
			case http.StatusTeapot:
				assert.Equal(t, "cleanup-worker /cloudevents?x=1 ping", rec.Header().Get("X-Seen"))
			case http.StatusForbidden, http.StatusNotFound:
				assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
			}
		})
	}
}
