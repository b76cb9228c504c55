package devissuer_test

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// testClient is the function whose OAuth client the tests use.
const testClient = "reservations-api"

// testKey is made once per test binary: RSA key generation is slow.
var testKey = sync.OnceValues(devissuer.GenerateKey)

// server is a development issuer served over HTTP, and a verifier that trusts it the way
// every function does (discovering nothing, fetching the JWKS below the issuer URL).
type server struct {
	issuer   *devissuer.Issuer
	key      *rsa.PrivateKey
	srv      *httptest.Server
	verifier *auth.Verifier
}

func newServer(t *testing.T) *server {
	t.Helper()
	key, err := testKey()
	require.NoError(t, err)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss := devissuer.New(srv.URL+devissuer.RealmPath, key)
	iss.AddClients(testClient)
	mux.Handle(devissuer.RealmPath+"/", iss.Handler())
	v, err := auth.NewVerifier(auth.Config{
		IssuerURL: iss.URL(), Audience: devissuer.Audience, Algorithms: []string{"RS256"},
		Skew: 30 * time.Second, KeyRefreshInterval: 10 * time.Second,
	}, srv.Client())
	require.NoError(t, err)
	return &server{issuer: iss, key: key, srv: srv, verifier: v}
}

func (s *server) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := s.srv.Client().Get(s.issuer.URL() + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

// tokenResponse is the token endpoint's answer, success or OAuth 2 error.
type tokenResponse struct {
	Status           int
	CacheControl     string
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// postToken posts form to the token endpoint, with HTTP basic client credentials when
// basicID is not empty.
func (s *server) postToken(t *testing.T, form url.Values, basicID, basicSecret string) tokenResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.issuer.URL()+"/protocol/openid-connect/token", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(basicID, basicSecret)
	}
	resp, err := s.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"), "body: %s", body)
	tr := tokenResponse{Status: resp.StatusCode, CacheControl: resp.Header.Get("Cache-Control")}
	require.NoError(t, json.Unmarshal(body, &tr), "body: %s", body)
	return tr
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var doc map[string]any
	s.getJSON(t, "/.well-known/openid-configuration", &doc)

	assert.Equal(t, s.issuer.URL(), doc["issuer"])
	assert.Equal(t, s.issuer.URL()+"/protocol/openid-connect/certs", doc["jwks_uri"])
	assert.Equal(t, s.issuer.URL()+"/protocol/openid-connect/token", doc["token_endpoint"])
	assert.ElementsMatch(t, []any{"password", "client_credentials", "authorization_code", "refresh_token"}, doc["grant_types_supported"])
	assert.Equal(t, s.issuer.URL()+"/protocol/openid-connect/auth", doc["authorization_endpoint"])
	assert.Equal(t, s.issuer.URL()+"/protocol/openid-connect/logout", doc["end_session_endpoint"])
	assert.Equal(t, []any{"S256"}, doc["code_challenge_methods_supported"])
	assert.Equal(t, []any{"RS256"}, doc["id_token_signing_alg_values_supported"])
	assert.NotEmpty(t, doc["response_types_supported"])
	assert.NotEmpty(t, doc["subject_types_supported"])

	// A standard OIDC client accepts the document, and its JWKS URL is where the verifier
	// looks by default (Keycloak's layout).
	ctx := oidc.ClientContext(context.Background(), s.srv.Client())
	p, err := oidc.NewProvider(ctx, s.issuer.URL())
	require.NoError(t, err)
	assert.Equal(t, s.issuer.URL()+"/protocol/openid-connect/token", p.Endpoint().TokenURL)
	assert.Equal(t, auth.Config{IssuerURL: s.issuer.URL()}.JWKS(), doc["jwks_uri"])
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var set jose.JSONWebKeySet
	s.getJSON(t, "/protocol/openid-connect/certs", &set)

	require.Len(t, set.Keys, 1)
	keys := set.Key(s.issuer.KeyID())
	require.Len(t, keys, 1, "the JWKS holds the signing key's kid %q", s.issuer.KeyID())
	k := keys[0]
	assert.True(t, k.IsPublic(), "the JWKS must not publish private key material")
	assert.Equal(t, "RS256", k.Algorithm)
	assert.Equal(t, "sig", k.Use)
	pub, ok := k.Key.(*rsa.PublicKey)
	require.True(t, ok, "key is %T", k.Key)
	assert.True(t, pub.Equal(&s.key.PublicKey))
}

func TestKeyID(t *testing.T) {
	t.Parallel()
	key, err := testKey()
	require.NoError(t, err)
	a := devissuer.New("http://a.test"+devissuer.RealmPath, key)
	b := devissuer.New("http://b.test"+devissuer.RealmPath, key)
	assert.NotEmpty(t, a.KeyID())
	assert.Equal(t, a.KeyID(), b.KeyID(), "the kid depends on the key only, so it survives a restart")
	assert.Equal(t, "http://a.test"+devissuer.RealmPath, a.URL())

	tok, err := a.TokenFor("alice")
	require.NoError(t, err)
	parsed, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	assert.Equal(t, a.KeyID(), parsed.Signatures[0].Header.KeyID)
}

func TestPasswordGrant(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	require.Len(t, devissuer.Users, 5)
	for _, u := range devissuer.Users {
		t.Run(u.Username, func(t *testing.T) {
			t.Parallel()
			tr := s.postToken(t, url.Values{
				"grant_type": {"password"}, "client_id": {"public-portal"},
				"username": {u.Username}, "password": {u.Username},
			}, "", "")
			require.Equal(t, http.StatusOK, tr.Status, "%+v", tr)
			assert.Equal(t, "Bearer", tr.TokenType)
			assert.Equal(t, 3600, tr.ExpiresIn)
			assert.Equal(t, "no-store", tr.CacheControl)

			caller, err := s.verifier.Verify(context.Background(), tr.AccessToken)
			require.NoError(t, err)
			assert.Equal(t, platform.Caller{Subject: u.Subject, Username: u.Username, CustomerID: u.CustomerID, Roles: u.Roles}, caller)
		})
	}
}

// TestDemoUsers pins the demo accounts the README and the authorization tests rely on.
func TestDemoUsers(t *testing.T) {
	t.Parallel()
	want := map[string]struct {
		customerID string
		role       platform.Role
	}{
		"alice": {devissuer.CustomerAlice, platform.RoleCustomer},
		"bob":   {devissuer.CustomerBob, platform.RoleCustomer},
		"carla": {"", platform.RoleAgent},
		"frank": {"", platform.RoleFleet},
		"ada":   {"", platform.RoleAdmin},
	}
	svc := devissuer.ServiceAccount(testClient)
	subjects := map[string]bool{svc.Subject: true}
	for _, u := range devissuer.Users {
		w, ok := want[u.Username]
		require.True(t, ok, "unexpected demo user %q", u.Username)
		assert.Equal(t, w.customerID, u.CustomerID, u.Username)
		assert.Equal(t, []platform.Role{w.role}, u.Roles, u.Username)
		assert.False(t, subjects[u.Subject], "subject of %s is not unique", u.Username)
		subjects[u.Subject] = true
	}
	assert.Equal(t, []platform.Role{platform.RoleService}, svc.Roles)
	assert.Equal(t, "service-account-"+testClient, svc.Username, "Keycloak's name for a client's service account")
	assert.NotEqual(t, svc.Subject, devissuer.ServiceAccount("vehicles-api").Subject, "one identity per function")
}

func TestTokenEndpointRefusals(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	cases := []struct {
		name        string
		form        url.Values
		basicID     string
		basicSecret string
		status      int
		code        string
	}{
		{"wrong password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"bob"}}, "", "", http.StatusUnauthorized, "invalid_grant"},
		{"empty password", url.Values{"grant_type": {"password"}, "username": {"alice"}}, "", "", http.StatusUnauthorized, "invalid_grant"},
		{"unknown user", url.Values{"grant_type": {"password"}, "username": {"mallory"}, "password": {"mallory"}}, "", "", http.StatusUnauthorized, "invalid_grant"},
		{"user name in another case", url.Values{"grant_type": {"password"}, "username": {"Alice"}, "password": {"Alice"}}, "", "", http.StatusUnauthorized, "invalid_grant"},
		{"service account by password", url.Values{"grant_type": {"password"}, "username": {"service-account-" + testClient}, "password": {"service-account-" + testClient}}, "", "", http.StatusUnauthorized, "invalid_grant"},
		{"wrong client secret in the form", url.Values{"grant_type": {"client_credentials"}, "client_id": {testClient}, "client_secret": {"guess"}}, "", "", http.StatusUnauthorized, "unauthorized_client"},
		{"wrong client secret by basic auth", url.Values{"grant_type": {"client_credentials"}}, testClient, "guess", http.StatusUnauthorized, "unauthorized_client"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"public-portal"}, "client_secret": {devissuer.ClientSecret("public-portal")}}, "", "", http.StatusUnauthorized, "unauthorized_client"},
		{"no client credentials", url.Values{"grant_type": {"client_credentials"}}, "", "", http.StatusUnauthorized, "unauthorized_client"},
		{"unsupported grant", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"x"}}, "", "", http.StatusBadRequest, "unsupported_grant_type"},
		{"unknown code", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"public-portal"}}, "", "", http.StatusBadRequest, "invalid_grant"},
		{"forged refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x.y.z"}, "client_id": {"public-portal"}}, "", "", http.StatusBadRequest, "invalid_grant"},
		{"no grant type", url.Values{"username": {"alice"}, "password": {"alice"}}, "", "", http.StatusBadRequest, "unsupported_grant_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := s.postToken(t, tc.form, tc.basicID, tc.basicSecret)
			assert.Equal(t, tc.status, tr.Status)
			assert.Equal(t, tc.code, tr.Error)
			assert.NotEmpty(t, tr.ErrorDescription)
			assert.Empty(t, tr.AccessToken)
		})
	}
}

func TestClientCredentialsGrant(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	cases := []struct {
		name        string
		form        url.Values
		basicID     string
		basicSecret string
	}{
		{"credentials in the form", url.Values{"grant_type": {"client_credentials"},
			"client_id": {testClient}, "client_secret": {devissuer.ClientSecret(testClient)}}, "", ""},
		{"credentials by basic auth", url.Values{"grant_type": {"client_credentials"}},
			testClient, devissuer.ClientSecret(testClient)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := s.postToken(t, tc.form, tc.basicID, tc.basicSecret)
			require.Equal(t, http.StatusOK, tr.Status, "%+v", tr)
			assert.Equal(t, "Bearer", tr.TokenType)
			caller, err := s.verifier.Verify(context.Background(), tr.AccessToken)
			require.NoError(t, err)
			assert.Equal(t, devissuer.ServiceAccount(testClient).Subject, caller.Subject)
			assert.Equal(t, testClient, caller.Service, "a function's token names the function")
			assert.Empty(t, caller.Roles, "a function holds no person's roles")
			assert.Empty(t, caller.CustomerID)
		})
	}
}

func TestTokenEndpointMethods(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	resp, err := s.srv.Client().Get(s.issuer.URL() + "/protocol/openid-connect/token")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestTokenFor(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	cases := []struct {
		user    string
		subject string
		role    platform.Role
	}{
		{"alice", devissuer.Users[0].Subject, platform.RoleCustomer},
		{"ada", devissuer.Users[4].Subject, platform.RoleAdmin},
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			t.Parallel()
			tok, err := s.issuer.TokenFor(tc.user)
			require.NoError(t, err)
			caller, err := s.verifier.Verify(context.Background(), tok)
			require.NoError(t, err)
			assert.Equal(t, tc.subject, caller.Subject)
			assert.Equal(t, []platform.Role{tc.role}, caller.Roles)
		})
	}
	tok, err := s.issuer.TokenFor("service:" + testClient)
	require.NoError(t, err)
	caller, err := s.verifier.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, platform.Caller{Subject: devissuer.ServiceAccount(testClient).Subject,
		Username: "service-account-" + testClient, Service: testClient}, caller)
	_, err = s.issuer.TokenFor("mallory")
	require.Error(t, err)
}

func TestClaimsFor(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	before := time.Now().Unix()
	c := s.issuer.ClaimsFor(devissuer.Users[0])
	assert.Equal(t, s.issuer.URL(), c["iss"])
	assert.Equal(t, []string{devissuer.Audience}, c["aud"])
	assert.Equal(t, devissuer.CustomerAlice, c["customer_id"])
	exp, ok := c["exp"].(int64)
	require.True(t, ok, "exp is %T", c["exp"])
	assert.InDelta(t, before+3600, exp, 5)
	nbf, ok := c["nbf"].(int64)
	require.True(t, ok, "nbf is %T", c["nbf"])
	assert.LessOrEqual(t, nbf, time.Now().Unix())

	_, hasCustomer := s.issuer.ClaimsFor(devissuer.Users[2])["customer_id"]
	assert.False(t, hasCustomer, "staff tokens carry no customer id")
}

func TestLoadOrCreateKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nested", "dir", "issuer.pem")

	first, err := devissuer.LoadOrCreateKey(path)
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the private key is readable by its owner only")

	second, err := devissuer.LoadOrCreateKey(path)
	require.NoError(t, err)
	assert.True(t, first.Equal(second), "the second call loads the key the first one stored")
	assert.Equal(t, devissuer.New("x", first).KeyID(), devissuer.New("x", second).KeyID())
}

func TestLoadOrCreateKeyRefusesGarbage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		content string
	}{
		{"not PEM", "hello"},
		{"PEM that is no RSA key", "-----BEGIN RSA PRIVATE KEY-----\naGVsbG8=\n-----END RSA PRIVATE KEY-----\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "issuer.pem")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
			_, err := devissuer.LoadOrCreateKey(path)
			require.Error(t, err)
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tc.content, string(raw), "a file that is not a key is never overwritten")
		})
	}
}
