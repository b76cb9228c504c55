package auth_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// otherKeys are RSA keys the verifier under test does not trust at first: an attacker's key,
// or the issuer's next key after a rotation. Made once per test binary (RSA keys are slow).
var otherKeys = sync.OnceValues(func() ([]*rsa.PrivateKey, error) {
	keys := make([]*rsa.PrivateKey, 2)
	for i := range keys {
		k, err := devissuer.GenerateKey()
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
})

func otherKey(t *testing.T, i int) *rsa.PrivateKey {
	t.Helper()
	keys, err := otherKeys()
	require.NoError(t, err)
	return keys[i]
}

// frank is the demo fleet manager; the test API's route admits fleet managers.
func frank(t *testing.T) devissuer.User {
	t.Helper()
	for _, u := range devissuer.Users {
		if u.Username == "frank" {
			return u
		}
	}
	t.Fatal("no demo user frank")
	return devissuer.User{}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return b64(raw)
}

// handJWT builds a compact JWS by hand, so tests can make tokens no well-behaved library
// would: sign gets the signing input and returns the signature bytes (nil: none).
func handJWT(t *testing.T, header map[string]any, c devissuer.Claims, sign func(input []byte) []byte) string {
	t.Helper()
	input := b64JSON(t, header) + "." + b64JSON(t, c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64(sig)
}

func hs256(secret []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

// joseSign signs c with key and alg, putting kid into the header when not empty.
func joseSign(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, c devissuer.Claims) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	require.NoError(t, err)
	payload, err := json.Marshal(c)
	require.NoError(t, err)
	obj, err := signer.Sign(payload)
	require.NoError(t, err)
	raw, err := obj.CompactSerialize()
	require.NoError(t, err)
	return raw
}

func mint(t *testing.T, iss *devissuer.Issuer, c devissuer.Claims) string {
	t.Helper()
	tok, err := iss.Mint(c)
	require.NoError(t, err)
	return tok
}

// with returns a copy of c with the given claims set (a nil value deletes the claim).
func with(c devissuer.Claims, kv ...any) devissuer.Claims {
	out := devissuer.Claims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

// publicKeyOf returns the RSA public key the JWKS of the authtest issuer publishes.
func publicKeyOf(t *testing.T, id *authtest.Identity) *rsa.PublicKey {
	t.Helper()
	resp, err := id.KeyClient.Get(id.Config.JWKS())
	require.NoError(t, err)
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	keys := set.Key(id.Issuer.KeyID())
	require.Len(t, keys, 1)
	pub, ok := keys[0].Key.(*rsa.PublicKey)
	require.True(t, ok, "JWKS key is %T", keys[0].Key)
	return pub
}

// fleetAPI is a one-route API only fleet managers (and admins) may call; the handler answers
// the caller it was given.
type fleetAPI struct{ calls atomic.Int64 }

func (a *fleetAPI) Routes() []platform.Route {
	return []platform.Route{{
		Name: "fleet", Method: http.MethodGet, Path: "/api/fleet",
		Access: platform.Allow(platform.RoleFleet),
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			a.calls.Add(1)
			return platform.WriteJSON(w, http.StatusOK, platform.CallerFrom(r.Context()))
		},
	}}
}

// serveFleet serves the API as every host does and sends one GET with the given
// Authorization header (none when empty).
func serveFleet(t *testing.T, v *auth.Verifier, api *fleetAPI, authorization string) *http.Response {
	t.Helper()
	h := platform.Observe(platform.NewLogger(io.Discard, "error", "test"), platform.Handler(api, v))
	req := httptest.NewRequest(http.MethodGet, "/api/fleet", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// readProblem checks that resp is a problem+json document with status and returns it.
func readProblem(t *testing.T, resp *http.Response, status int) platform.Problem {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, "body: %s", body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p platform.Problem
	require.NoError(t, json.Unmarshal(body, &p), "body: %s", body)
	require.Equal(t, status, p.Status)
	require.Equal(t, http.StatusText(status), p.Title)
	return p
}

// TestRejectedTokens is the acceptance table of the token cases: each is refused by Verify
// with an unauthorized error and, through the host's handler chain, with a 401 problem+json
// and a Bearer challenge — the handler never runs.
func TestRejectedTokens(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	iss := id.Issuer
	good := iss.ClaimsFor(frank(t))
	now := time.Now()
	pub := publicKeyOf(t, id)
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pkixPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)})
	attacker := devissuer.New(iss.URL(), otherKey(t, 0))
	noneHeader := map[string]any{"alg": "none", "typ": "JWT", "kid": iss.KeyID()}
	hsHeader := map[string]any{"alg": "HS256", "typ": "JWT", "kid": iss.KeyID()}

	// A token whose claims were changed after signing.
	signed := mint(t, iss, good)
	parts := strings.Split(signed, ".")
	require.Len(t, parts, 3)
	tampered := parts[0] + "." + b64JSON(t, with(good, "realm_access", map[string]any{"roles": []string{"admin"}})) + "." + parts[2]

	cases := []struct {
		name  string
		token string
		// why is a fragment of the error's text naming the check that refused the token,
		// so a case cannot pass by being refused for some other reason.
		why string
	}{
		{"expired beyond the skew", mint(t, iss, with(good, "exp", now.Add(-2*time.Minute).Unix())), "expired"},
		{"not yet valid beyond the skew", mint(t, iss, with(good, "nbf", now.Add(2*time.Minute).Unix())), "not valid yet"},
		{"without exp", mint(t, iss, with(good, "exp", nil)), "no expiry"},
		{"without sub", mint(t, iss, with(good, "sub", nil)), "no subject"},
		{"wrong issuer", mint(t, iss, with(good, "iss", "https://evil.example.com/realms/"+devissuer.Realm)), "different provider"},
		{"issuer with trailing slash", mint(t, iss, with(good, "iss", iss.URL()+"/")), "different provider"},
		{"wrong audience", mint(t, iss, with(good, "aud", []string{"account"})), "audience"},
		{"no audience", mint(t, iss, with(good, "aud", nil)), "audience"},
		{"alg none without signature", handJWT(t, noneHeader, good, nil), `"none"`},
		{"alg none with the original signature", handJWT(t, noneHeader, good, nil) + parts[2], `"none"`},
		{"HS256 keyed with the public key's PKIX PEM", handJWT(t, hsHeader, good, hs256(pkixPEM)), "HS256"},
		{"HS256 keyed with the public key's PKCS#1 PEM", handJWT(t, hsHeader, good, hs256(pkcs1PEM)), "HS256"},
		{"HS256 keyed with the public key's DER", handJWT(t, hsHeader, good, hs256(pkix)), "HS256"},
		{"HS256 keyed with the modulus", handJWT(t, hsHeader, good, hs256(pub.N.Bytes())), "HS256"},
		{"unknown kid signed by another key", mint(t, attacker, good), "does not publish"},
		{"the issuer's kid signed by another key", joseSign(t, otherKey(t, 0), jose.RS256, iss.KeyID(), good), "does not verify"},
		{"no kid signed by another key", joseSign(t, otherKey(t, 0), jose.RS256, "", good), "does not verify"},
		{"claims changed after signing", tampered, "does not verify"},
		{"garbage", "garbage", "malformed"},
		{"two segments", parts[0] + "." + parts[1], "malformed"},
		{"four segments", signed + ".x", "malformed"},
		{"bad base64", "!!!." + parts[1] + "." + parts[2], "malformed"},
		{"header not JSON", b64([]byte("not json")) + "." + parts[1] + "." + parts[2], "malformed"},
		{"payload not JSON", parts[0] + "." + b64([]byte("not json")) + "." + parts[2], "does not verify"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := id.Verifier.Verify(context.Background(), tc.token)
			require.Error(t, err)
			assert.Equal(t, platform.KindUnauthorized, platform.KindOf(err))
			assert.Contains(t, err.Error(), tc.why)

			api := &fleetAPI{}
			resp := serveFleet(t, id.Verifier, api, "Bearer "+tc.token)
			p := readProblem(t, resp, http.StatusUnauthorized)
			assert.Equal(t, platform.ProblemTypeBase+string(platform.KindUnauthorized), p.Type)
			assert.Equal(t, `Bearer error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
			assert.Zero(t, api.calls.Load(), "the handler ran for a refused token")
		})
	}
}

// TestAlgorithmAllowList signs with the very key the issuer publishes, under algorithms the
// verifier does not allow: only the allow-list stands in the way.
func TestAlgorithmAllowList(t *testing.T) {
	t.Parallel()
	key := otherKey(t, 1)
	jwks := newJWKSServer(t, devissuer.New(issuerURL, key))
	v := jwks.verifier(t, func(c *auth.Config) { c.Algorithms = []string{"RS256"} })
	good := jwks.current().ClaimsFor(frank(t))
	kid := jwks.current().KeyID()

	_, err := v.Verify(context.Background(), joseSign(t, key, jose.RS256, kid, good))
	require.NoError(t, err, "control: RS256 with the issuer's key is accepted")

	for _, alg := range []jose.SignatureAlgorithm{jose.RS384, jose.RS512, jose.PS256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(context.Background(), joseSign(t, key, alg, kid, good))
			require.Error(t, err)
			assert.Equal(t, platform.KindUnauthorized, platform.KindOf(err))
			assert.Contains(t, err.Error(), string(alg))
		})
	}
}

// TestAuthorizationHeader covers the header itself: missing, another scheme, empty bearer.
func TestAuthorizationHeader(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	token := id.Token(t, "frank")

	cases := []struct {
		name          string
		authorization string
		status        int
		challenge     string
	}{
		// The Bearer challenge of a missing token: see TestMissingTokenChallenge.
		{"missing on a protected route", "", http.StatusUnauthorized, ""},
		{"Basic credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte("frank:frank")), http.StatusUnauthorized, `Bearer error="invalid_token"`},
		{"the token without a scheme", token, http.StatusUnauthorized, `Bearer error="invalid_token"`},
		{"Bearer without a token", "Bearer ", http.StatusUnauthorized, `Bearer error="invalid_token"`},
		{"Bearer alone", "Bearer", http.StatusUnauthorized, `Bearer error="invalid_token"`},
		{"lower-case scheme", "bearer " + token, http.StatusOK, ""},
		{"extra spaces", "Bearer   " + token + " ", http.StatusOK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := &fleetAPI{}
			resp := serveFleet(t, id.Verifier, api, tc.authorization)
			if tc.status == http.StatusOK {
				require.Equal(t, http.StatusOK, resp.StatusCode)
				assert.EqualValues(t, 1, api.calls.Load())
				return
			}
			readProblem(t, resp, tc.status)
			assert.Zero(t, api.calls.Load())
			// RFC 6750 §3: a 401 for a bearer-protected resource carries a Bearer challenge.
			assert.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), tc.challenge),
				"WWW-Authenticate is %q, want prefix %q", resp.Header.Get("WWW-Authenticate"), tc.challenge)
		})
	}
}

// TestMissingTokenChallenge: RFC 6750 §3 — a 401 from a bearer-protected resource carries
// a WWW-Authenticate challenge even when the request had no credentials at all.
func TestMissingTokenChallenge(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	resp := serveFleet(t, id.Verifier, &fleetAPI{}, "")
	readProblem(t, resp, http.StatusUnauthorized)
	assert.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer"),
		"WWW-Authenticate is %q", resp.Header.Get("WWW-Authenticate"))
}

// TestAcceptedTokens covers the positive side: the caller the handler sees, the skew, the
// role mapping.
func TestAcceptedTokens(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	iss := id.Issuer
	u := frank(t)
	good := iss.ClaimsFor(u)
	now := time.Now()

	cases := []struct {
		name   string
		claims devissuer.Claims
		want   platform.Caller
	}{
		{"a demo user's token", good,
			platform.Caller{Subject: u.Subject, Username: "frank", Roles: []platform.Role{platform.RoleFleet}}},
		{"expired 10 s ago, within the 30 s skew", with(good, "exp", now.Add(-10*time.Second).Unix()),
			platform.Caller{Subject: u.Subject, Username: "frank", Roles: []platform.Role{platform.RoleFleet}}},
		{"valid from 10 s on, within the 30 s skew", with(good, "nbf", now.Add(10*time.Second).Unix()),
			platform.Caller{Subject: u.Subject, Username: "frank", Roles: []platform.Role{platform.RoleFleet}}},
		{"without nbf", with(good, "nbf", nil),
			platform.Caller{Subject: u.Subject, Username: "frank", Roles: []platform.Role{platform.RoleFleet}}},
		{"audience as a single string", with(good, "aud", devissuer.Audience),
			platform.Caller{Subject: u.Subject, Username: "frank", Roles: []platform.Role{platform.RoleFleet}}},
		{"audience among others", with(good, "aud", []string{"account", devissuer.Audience}),
			platform.Caller{Subject: u.Subject, Username: "frank", Roles: []platform.Role{platform.RoleFleet}}},
		{"customer id and Keycloak's default roles dropped", with(good,
			"customer_id", devissuer.CustomerAlice,
			"realm_access", map[string]any{"roles": []string{
				"offline_access", "fleet-manager", "uma_authorization", "default-roles-orange-car-rental", "customer", "Admin", "superuser",
			}}),
			platform.Caller{Subject: u.Subject, Username: "frank", CustomerID: devissuer.CustomerAlice,
				Roles: []platform.Role{platform.RoleFleet, platform.RoleCustomer}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			token := mint(t, iss, tc.claims)
			got, err := id.Verifier.Verify(context.Background(), token)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)

			api := &fleetAPI{}
			resp := serveFleet(t, id.Verifier, api, "Bearer "+token)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
			var seen platform.Caller
			require.NoError(t, json.Unmarshal(body, &seen))
			assert.Equal(t, tc.want, seen)
		})
	}
}

// TestRolesGuardRoutes: a valid token without a fitting role is 403, not 401; an unknown
// role in the token grants nothing.
func TestRolesGuardRoutes(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	cases := []struct {
		name   string
		token  string
		status int
	}{
		{"customer", id.Token(t, "alice"), http.StatusForbidden},
		{"agent", id.Token(t, "carla"), http.StatusForbidden},
		{"fleet manager", id.Token(t, "frank"), http.StatusOK},
		{"admin", id.Token(t, "ada"), http.StatusOK},
		{"unknown role spelled like one", mint(t, id.Issuer, with(id.Issuer.ClaimsFor(frank(t)),
			"realm_access", map[string]any{"roles": []string{"Fleet-Manager", "fleet-manager "}})), http.StatusForbidden},
		{"roles outside realm_access", mint(t, id.Issuer, with(id.Issuer.ClaimsFor(frank(t)),
			"realm_access", nil, "roles", []string{"fleet-manager"})), http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := &fleetAPI{}
			resp := serveFleet(t, id.Verifier, api, "Bearer "+tc.token)
			if tc.status == http.StatusOK {
				require.Equal(t, http.StatusOK, resp.StatusCode)
				return
			}
			readProblem(t, resp, tc.status)
			assert.Zero(t, api.calls.Load())
		})
	}
}

const issuerURL = "http://issuer.test" + devissuer.RealmPath

// jwksServer serves whichever issuer is current, in-process at issuerURL's host, and counts
// the requests for its JWKS.
type jwksServer struct {
	mu     sync.Mutex
	issuer *devissuer.Issuer
	status int // when not 0, the JWKS answers this status instead
	hits   atomic.Int64
	client *http.Client
}

func newJWKSServer(t *testing.T, iss *devissuer.Issuer) *jwksServer {
	t.Helper()
	s := &jwksServer{issuer: iss}
	transport := platform.NewTransport(nil, nil)
	transport.Mount("issuer.test", s)
	s.client = &http.Client{Transport: transport}
	return s
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	iss, status := s.issuer, s.status
	s.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/certs") {
		s.hits.Add(1)
		if status != 0 {
			w.WriteHeader(status)
			return
		}
	}
	iss.Handler().ServeHTTP(w, r)
}

func (s *jwksServer) current() *devissuer.Issuer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issuer
}

func (s *jwksServer) use(iss *devissuer.Issuer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issuer = iss
}

func (s *jwksServer) fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

func (s *jwksServer) verifier(t *testing.T, tweak func(*auth.Config)) *auth.Verifier {
	t.Helper()
	cfg := auth.Config{
		IssuerURL: issuerURL, Audience: devissuer.Audience, Algorithms: []string{"RS256"},
		Skew: 30 * time.Second, KeyRefreshInterval: 10 * time.Second,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	v, err := auth.NewVerifier(cfg, s.client)
	require.NoError(t, err)
	return v
}

func TestVerifierFetchesKeysLazily(t *testing.T) {
	t.Parallel()
	jwks := newJWKSServer(t, devissuer.New(issuerURL, otherKey(t, 0)))
	v := jwks.verifier(t, nil)
	assert.Zero(t, jwks.hits.Load(), "NewVerifier must not contact the issuer")

	token := mint(t, jwks.current(), jwks.current().ClaimsFor(frank(t)))
	for range 5 {
		_, err := v.Verify(context.Background(), token)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, jwks.hits.Load(), "known keys are not fetched again")
}

// TestKeyRotation: the issuer starts signing with a new key; the first token with the new kid
// makes the verifier fetch the JWKS once more, and it is accepted.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	const interval = 100 * time.Millisecond
	oldIssuer := devissuer.New(issuerURL, otherKey(t, 0))
	newIssuer := devissuer.New(issuerURL, otherKey(t, 1))
	require.NotEqual(t, oldIssuer.KeyID(), newIssuer.KeyID())
	jwks := newJWKSServer(t, oldIssuer)
	v := jwks.verifier(t, func(c *auth.Config) { c.KeyRefreshInterval = interval })
	u := frank(t)

	_, err := v.Verify(context.Background(), mint(t, oldIssuer, oldIssuer.ClaimsFor(u)))
	require.NoError(t, err)
	require.EqualValues(t, 1, jwks.hits.Load())

	jwks.use(newIssuer)
	time.Sleep(2 * interval) // the last fetch is older than the refresh interval
	caller, err := v.Verify(context.Background(), mint(t, newIssuer, newIssuer.ClaimsFor(u)))
	require.NoError(t, err, "a token signed with the rotated key is accepted")
	assert.Equal(t, u.Subject, caller.Subject)
	assert.EqualValues(t, 2, jwks.hits.Load(), "the new kid refetched the JWKS exactly once")

	// The new key is now known: more tokens with it fetch nothing.
	for range 10 {
		_, err := v.Verify(context.Background(), mint(t, newIssuer, newIssuer.ClaimsFor(u)))
		require.NoError(t, err)
	}
	assert.EqualValues(t, 2, jwks.hits.Load())
}

// TestUnknownKidFloodIsThrottled: a burst of tokens with made-up key ids costs the issuer at
// most one JWKS request per refresh interval.
func TestUnknownKidFloodIsThrottled(t *testing.T) {
	t.Parallel()
	const interval = 300 * time.Millisecond
	iss := devissuer.New(issuerURL, otherKey(t, 0))
	jwks := newJWKSServer(t, iss)
	v := jwks.verifier(t, func(c *auth.Config) { c.KeyRefreshInterval = interval })
	good := iss.ClaimsFor(frank(t))

	_, err := v.Verify(context.Background(), mint(t, iss, good))
	require.NoError(t, err)
	require.EqualValues(t, 1, jwks.hits.Load())
	time.Sleep(interval + 50*time.Millisecond)

	// Tokens signed properly by the attacker's key, each with a random kid.
	attackerKey := otherKey(t, 1)
	tokens := make([]string, 100)
	for i := range tokens {
		kid := make([]byte, 8)
		_, _ = rand.Read(kid)
		tokens[i] = joseSign(t, attackerKey, jose.RS256, hex.EncodeToString(kid), good)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for _, tok := range tokens {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tok); err == nil || platform.KindOf(err) != platform.KindUnauthorized {
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	assert.Zero(t, accepted.Load(), "every made-up kid is refused as unauthorized")
	burstFetches := jwks.hits.Load() - 1
	allowed := 1 + int64(elapsed/interval)
	assert.GreaterOrEqual(t, burstFetches, int64(1), "the interval had passed: the first unknown kid may refetch")
	assert.LessOrEqual(t, burstFetches, allowed, "%d JWKS fetches in %s for 100 unknown kids", burstFetches, elapsed)

	// The real issuer's tokens are still accepted without any further fetch.
	before := jwks.hits.Load()
	_, err = v.Verify(context.Background(), mint(t, iss, good))
	require.NoError(t, err)
	assert.Equal(t, before, jwks.hits.Load())
}

// TestIssuerUnreachable: when the JWKS cannot be fetched, tokens are refused as unauthorized
// (401), not as an internal error, and the cause is not shown to the caller.
func TestIssuerUnreachable(t *testing.T) {
	t.Parallel()
	iss := devissuer.New(issuerURL, otherKey(t, 0))
	jwks := newJWKSServer(t, iss)
	jwks.fail(http.StatusServiceUnavailable)
	v := jwks.verifier(t, nil)
	token := mint(t, iss, iss.ClaimsFor(frank(t)))

	_, err := v.Verify(context.Background(), token)
	require.Error(t, err)
	assert.Equal(t, platform.KindUnauthorized, platform.KindOf(err))

	api := &fleetAPI{}
	p := readProblem(t, serveFleet(t, v, api, "Bearer "+token), http.StatusUnauthorized)
	assert.NotContains(t, p.Detail, "503")
	assert.NotContains(t, p.Detail, "issuer.test")
	assert.Zero(t, api.calls.Load())
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := auth.Config{
		IssuerURL: "https://keycloak.example.com/realms/orange-car-rental", Audience: "orange-api",
		Algorithms: []string{"RS256", "ES256"}, Skew: 30 * time.Second, KeyRefreshInterval: 10 * time.Second,
	}
	cases := []struct {
		name    string
		tweak   func(*auth.Config)
		wantErr string
	}{
		{"valid", func(*auth.Config) {}, ""},
		{"http issuer (dev)", func(c *auth.Config) { c.IssuerURL = "http://localhost:8080/realms/orange-car-rental" }, ""},
		{"every asymmetric algorithm", func(c *auth.Config) {
			c.Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
		}, ""},
		{"no skew", func(c *auth.Config) { c.Skew = 0 }, ""},
		{"five minutes of skew", func(c *auth.Config) { c.Skew = 5 * time.Minute }, ""},
		{"missing issuer", func(c *auth.Config) { c.IssuerURL = "" }, "OIDC_ISSUER_URL is required"},
		{"issuer without scheme", func(c *auth.Config) { c.IssuerURL = "keycloak.example.com/realms/x" }, "OIDC_ISSUER_URL must be an http(s) URL"},
		{"ftp issuer", func(c *auth.Config) { c.IssuerURL = "ftp://keycloak.example.com" }, "OIDC_ISSUER_URL must be an http(s) URL"},
		{"empty audience", func(c *auth.Config) { c.Audience = "" }, "OIDC_AUDIENCE"},
		{"HS256", func(c *auth.Config) { c.Algorithms = []string{"RS256", "HS256"} }, `"HS256"`},
		{"HS512", func(c *auth.Config) { c.Algorithms = []string{"HS512"} }, `"HS512"`},
		{"none", func(c *auth.Config) { c.Algorithms = []string{"none"} }, `"none"`},
		{"lower-case rs256", func(c *auth.Config) { c.Algorithms = []string{"rs256"} }, `"rs256"`},
		{"negative skew", func(c *auth.Config) { c.Skew = -time.Second }, "OIDC_CLOCK_SKEW"},
		{"skew over five minutes", func(c *auth.Config) { c.Skew = 5*time.Minute + time.Second }, "OIDC_CLOCK_SKEW"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			cfg.Algorithms = append([]string(nil), valid.Algorithms...)
			tc.tweak(&cfg)
			err := cfg.Validate()
			_, newErr := auth.NewVerifier(cfg, nil)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.NoError(t, newErr)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			require.Error(t, newErr, "NewVerifier refuses what Validate refuses")
		})
	}
}

func TestConfigJWKS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  auth.Config
		want string
	}{
		{"Keycloak's path below the issuer", auth.Config{IssuerURL: "https://kc.example.com/realms/r"}, "https://kc.example.com/realms/r/protocol/openid-connect/certs"},
		{"issuer with trailing slash", auth.Config{IssuerURL: "https://kc.example.com/realms/r/"}, "https://kc.example.com/realms/r/protocol/openid-connect/certs"},
		{"explicit URL", auth.Config{IssuerURL: "https://kc.example.com/realms/r", JWKSURL: "http://keycloak.auth.svc/realms/r/certs"}, "http://keycloak.auth.svc/realms/r/certs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.cfg.JWKS())
		})
	}
}
