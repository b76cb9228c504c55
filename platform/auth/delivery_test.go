package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// TestDeliveryAuthentication: a receiver admits only the event platform's deliveries that
// are addressed to it and come from its own senders; every other token is refused before
// the handler runs — 401 when it is no valid delivery to this receiver, 403 when it is one
// from a sender the receiver does not expect.
func TestDeliveryAuthentication(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	const service = "payments-api"
	expected := platform.Trigger("payments-api-reservation-created")
	other := platform.Trigger("vehicles-api-reservation-created")
	aud := auth.ServiceAudience(authtest.Namespace, service)
	sub := devissuer.Subject(authtest.Namespace, expected.ServiceAccount())

	key, err := devissuer.GenerateKey()
	require.NoError(t, err)
	rogue := devissuer.NewCluster(authtest.ClusterURL, key) // same issuer URL, another key
	elsewhere := devissuer.NewCluster("http://other-cluster.test"+devissuer.ClusterPath, key)
	mint := func(c *devissuer.Cluster, claims devissuer.Claims) string {
		tok, err := c.MintClaims(claims)
		require.NoError(t, err)
		return "Bearer " + tok
	}
	now := time.Now()
	claims := func(sub, aud string, exp time.Time) devissuer.Claims {
		return devissuer.Claims{"iss": authtest.ClusterURL, "sub": sub, "aud": []string{aud}, "iat": now.Unix(), "exp": exp.Unix()}
	}
	cases := []struct {
		name   string
		header string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"not a bearer token", "Basic Zm9vOmJhcg==", http.StatusUnauthorized},
		{"garbage", "Bearer not.a.jwt", http.StatusUnauthorized},
		{"token of another issuer", mint(elsewhere, devissuer.Claims{"iss": elsewhere.URL(), "sub": sub, "aud": []string{aud}, "exp": now.Add(time.Hour).Unix()}), http.StatusUnauthorized},
		{"our issuer's URL, another key", mint(rogue, claims(sub, aud, now.Add(time.Hour))), http.StatusUnauthorized},
		{"wrong audience (the Broker's)", "Bearer " + must(id.Cluster.Token(sub, auth.BrokerAudience(authtest.Namespace, "default"))), http.StatusUnauthorized},
		{"wrong audience (another receiver's)", id.DeliveryBearer(t, expected, "vehicles-api"), http.StatusUnauthorized},
		{"expired", mint(id.Cluster, claims(sub, aud, now.Add(-time.Hour))), http.StatusUnauthorized},
		{"no expiry", mint(id.Cluster, devissuer.Claims{"iss": authtest.ClusterURL, "sub": sub, "aud": []string{aud}}), http.StatusUnauthorized},
		{"a person's token", id.Bearer(t, "ada"), http.StatusForbidden},
		{"a function's own token", id.Bearer(t, "service:reservations-api"), http.StatusForbidden},
		{"right token, unexpected sender", id.DeliveryBearer(t, other, service), http.StatusForbidden},
		{"right sender name, another namespace", "Bearer " + must(id.Cluster.Token(devissuer.Subject("elsewhere", expected.ServiceAccount()), aud)), http.StatusForbidden},
		{"a plain service account", "Bearer " + must(id.Cluster.Token(devissuer.Subject(authtest.Namespace, service), aud)), http.StatusForbidden},
		{"right sender", id.DeliveryBearer(t, expected, service), http.StatusAccepted},
	}
	ran := 0
	api := platform.RouteTable{{Name: "receiveEvent", Method: http.MethodPost, Path: "/cloudevents", Access: platform.Deliveries(expected),
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			ran++
			w.WriteHeader(http.StatusAccepted)
			return nil
		}}}
	h := platform.Handler(api, id.Authenticator(service))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ran
			req := httptest.NewRequest(http.MethodPost, "/cloudevents", strings.NewReader("{}"))
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.status != http.StatusAccepted {
				assert.Equal(t, before, ran, "a refused delivery never reaches the handler")
				assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
			}
		})
	}
}

// TestDeliveryTokenOnPeopleRoutes: a delivery's token opens no door but a receiver's.
func TestDeliveryTokenOnPeopleRoutes(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	sender := platform.Trigger("payments-api-reservation-created")
	api := platform.RouteTable{
		{Name: "admins", Method: http.MethodGet, Path: "/admins", Access: platform.Allow(),
			Handler: func(w http.ResponseWriter, r *http.Request) error { return nil }},
		{Name: "granted", Method: http.MethodGet, Path: "/granted", Access: platform.Allow(platform.RoleCustomer).AndServices("payments-api"),
			Handler: func(w http.ResponseWriter, r *http.Request) error { return nil }},
	}
	h := platform.Handler(api, id.Authenticator("payments-api"))
	for _, path := range []string{"/admins", "/granted"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", id.DeliveryBearer(t, sender, "payments-api"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusForbidden, rec.Code, path)
	}
}

// TestServiceTokenShape: a token with the service role is a function's only when it is its
// client's service account (Keycloak's service-account-<client>), and carries nothing else.
func TestServiceTokenShape(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	alice := id.Issuer.ClaimsFor(devissuer.Users[0])
	alice["realm_access"] = map[string]any{"roles": []string{"customer", "service"}}
	alice["azp"] = "reservations-api"
	tok, err := id.Issuer.Mint(alice)
	require.NoError(t, err)
	_, err = id.Verifier.Verify(context.Background(), tok)
	require.Error(t, err, "a person's token with the service role is refused")

	svc := id.Issuer.ClaimsFor(devissuer.ServiceAccount("reservations-api"))
	svc["realm_access"] = map[string]any{"roles": []string{"service", "admin"}}
	tok, err = id.Issuer.Mint(svc)
	require.NoError(t, err)
	caller, err := id.Verifier.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, "reservations-api", caller.Service)
	assert.Empty(t, caller.Roles, "a function's token never also grants a person's roles")
}

// TestPartnerTokenShape: a partner's token is a client's service account holding the partner
// role and nothing else: a person's roles given to the partner's client are dropped (so a
// partner passes no route that admits them, nor the admins' everywhere), and a person's
// token with the partner role is refused.
func TestPartnerTokenShape(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	alice := id.Issuer.ClaimsFor(devissuer.Users[0])
	alice["realm_access"] = map[string]any{"roles": []string{"customer", "partner"}}
	alice["azp"] = devissuer.DevPartner
	tok, err := id.Issuer.Mint(alice)
	require.NoError(t, err)
	_, err = id.Verifier.Verify(context.Background(), tok)
	require.Error(t, err, "a person's token with the partner role is refused")

	p := id.Issuer.ClaimsFor(devissuer.PartnerAccount(devissuer.DevPartner))
	p["realm_access"] = map[string]any{"roles": []string{"partner", "admin", "fleet-manager", "customer"}}
	p["customer_id"] = devissuer.CustomerAlice
	tok, err = id.Issuer.Mint(p)
	require.NoError(t, err)
	caller, err := id.Verifier.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, []platform.Role{platform.RolePartner}, caller.Roles)
	assert.Empty(t, caller.CustomerID)
	assert.Empty(t, caller.Service)
	assert.False(t, caller.Staff())

	plain, err := id.Issuer.TokenFor("partner:" + devissuer.DevPartner)
	require.NoError(t, err)
	caller, err = id.Verifier.Verify(context.Background(), plain)
	require.NoError(t, err)
	assert.Equal(t, []platform.Role{platform.RolePartner}, caller.Roles)
	assert.Equal(t, "service-account-"+devissuer.DevPartner, caller.Username)
}

// TestServiceTokensAreReused: a function fetches its token once and reuses it for every call
// until shortly before it expires.
func TestServiceTokensAreReused(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	tokens := id.ServiceTokens("vehicles-api")
	var seen string
	for range 100 {
		tok, err := tokens.Token()
		require.NoError(t, err)
		if seen == "" {
			seen = tok.AccessToken
		}
		assert.Equal(t, seen, tok.AccessToken)
	}
	assert.Equal(t, 1, id.Issuer.TokenRequests("vehicles-api"))
	caller, err := id.Verifier.Verify(context.Background(), seen)
	require.NoError(t, err)
	assert.Equal(t, "vehicles-api", caller.Service)

	assert.Nil(t, auth.NewTokenSource(auth.ClientConfig{}, authtest.IssuerURL, "x", nil), "no secret, no identity")
	wrong := auth.NewTokenSource(auth.ClientConfig{ClientSecret: "guess"}, authtest.IssuerURL, "vehicles-api", id.KeyClient)
	_, err = wrong.Token()
	require.Error(t, err)
	var _ oauth2.TokenSource = wrong
}

// TestDeliveryDiscovery: without a JWKS URL the verifier finds the keys through the issuer's
// discovery document, as it does against a Kubernetes API server.
func TestDeliveryDiscovery(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	v, err := auth.NewDeliveryVerifier(id.Events, auth.ServiceAudience("orange", "x"), "orange", id.KeyClient)
	require.NoError(t, err)
	tok, err := id.Cluster.Token(devissuer.Subject("orange", "sa"), auth.ServiceAudience("orange", "x"))
	require.NoError(t, err)
	caller, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, platform.Caller{Subject: "system:serviceaccount:orange:sa", Sender: "sa"}, caller)

}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// TestCachedDeliveryTokenKeepsItsAudience: a token verified (and remembered) by one
// receiver is still refused by another.
func TestCachedDeliveryTokenKeepsItsAudience(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	sender := platform.Trigger("payments-api-reservation-created")
	tok := strings.TrimPrefix(id.DeliveryBearer(t, sender, "payments-api"), "Bearer ")
	payments := id.Deliveries.ForAudience(auth.ServiceAudience(authtest.Namespace, "payments-api"))
	fleet := id.Deliveries.ForAudience(auth.ServiceAudience(authtest.Namespace, "vehicles-api"))
	for range 3 {
		_, err := payments.Verify(context.Background(), tok)
		require.NoError(t, err)
		_, err = fleet.Verify(context.Background(), tok)
		require.Error(t, err)
	}
}

// TestClientSecretNeverOverPlainHTTP: a function sends its client secret to a token endpoint
// on the network only over https.
func TestClientSecretNeverOverPlainHTTP(t *testing.T) {
	t.Parallel()
	called := false
	client := &http.Client{Transport: roundTripper(func(*http.Request) (*http.Response, error) {
		called = true
		return nil, errors.New("must not be reached")
	})}
	src := auth.NewTokenSource(auth.ClientConfig{ClientSecret: "s3cret", TokenURL: "http://keycloak.example.com/token"}, "", "reservations-api", client)
	_, err := src.Token()
	require.ErrorContains(t, err, "OIDC_TOKEN_URL")
	assert.False(t, called, "the secret went out")
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
