package host

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/callcenter"
	"github.com/orangecarrental/orange/functions/publicportal"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

type guestAuth struct{}

func (guestAuth) Authenticate(context.Context, *http.Request) (platform.Caller, error) {
	return platform.Caller{}, nil
}

// countingTransport answers every call 200 {} and counts them: a refused form must call no API.
type countingTransport struct{ calls atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: http.NoBody, Request: r}, nil
}

var pathVar = regexp.MustCompile(`\{[^}]+\}`)

// TestPortalsRefuseFormsWithoutCSRF walks both portals' route tables: every unsafe route
// (each form, sign-out included) refuses a post without the session's CSRF token, and one
// from another site even with a token, with the 403 page and without calling any API.
func TestPortalsRefuseFormsWithoutCSRF(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfg := web.Config{SessionKeys: []string{base64.StdEncoding.EncodeToString(key)}, IssuerURL: "http://localhost:8080/realms/orange",
		Audience: "orange-api", SessionTTL: 12 * time.Hour}
	calls := &countingTransport{}
	deps := platform.Deps{Transport: calls}
	pub, err := publicportal.New(context.Background(), publicportal.Config{Config: cfg}, deps)
	require.NoError(t, err)
	center, err := callcenter.New(context.Background(), callcenter.Config{Config: cfg}, deps)
	require.NoError(t, err)
	unsafe := 0
	for _, api := range []platform.API{pub, center} {
		h := platform.Handler(api, guestAuth{})
		for _, rt := range api.Routes() {
			if rt.Method == "" || rt.Method == http.MethodGet || rt.Method == http.MethodHead {
				continue
			}
			unsafe++
			path := pathVar.ReplaceAllString(rt.Path, "7c1e9a52-8d1f-4a7e-9c55-2b0f3a6d4e10")
			for _, tc := range []struct {
				name  string
				site  string
				token string
			}{
				{"no token", "same-origin", ""},
				{"wrong token", "same-origin", "forged"},
				{"cross-site", "cross-site", "forged"},
			} {
				t.Run(rt.Name+"/"+tc.name, func(t *testing.T) {
					form := url.Values{"csrf": {tc.token}, "reservation": {"7c1e9a52-8d1f-4a7e-9c55-2b0f3a6d4e10"}}
					req := httptest.NewRequest(rt.Method, path, strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Sec-Fetch-Site", tc.site)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					assert.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
					assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")
					assert.Empty(t, rec.Header().Get("Location"), "no redirect")
				})
			}
		}
	}
	assert.GreaterOrEqual(t, unsafe, 20, "both portals' forms were found")
	assert.Zero(t, calls.calls.Load(), "a refused form calls no API")
}
