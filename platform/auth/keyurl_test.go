package auth_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// onThePath stands for whoever sits between a function and the issuer's host: it answers
// every plain-http request with its own key set (and discovery document), and counts them.
// Over https it is the real issuer, which may redirect.
type onThePath struct {
	real, attacker http.Handler
	served         atomic.Int64 // plain-http answers given
}

func (o *onThePath) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Scheme == "http" {
		o.served.Add(1)
		o.attacker.ServeHTTP(w, r)
		return
	}
	o.real.ServeHTTP(w, r)
}

// TestKeySetsOverPlainHTTPAreRefused is the key-set finding of issue 11: keys were fetched
// over whatever scheme was configured or discovered, so anyone on the path of a plain-http
// fetch could serve their own key and sign any token — here an admin's, and a delivery
// confirming a payment. Now key sets (and the discovery document that names them) come over
// https, unless the host is loopback, cluster-local, a *.test name or explicitly allowed: a
// misconfigured verifier refuses to start, a discovered or redirected http URL is not
// fetched, and the forged token is refused.
func TestKeySetsOverPlainHTTPAreRefused(t *testing.T) {
	t.Parallel()
	const host = "keycloak.example.com"
	attackerKey, err := devissuer.GenerateKey()
	require.NoError(t, err)
	realKey, err := devissuer.GenerateKey()
	require.NoError(t, err)
	people := func(scheme string) string { return scheme + "://" + host + devissuer.RealmPath }
	cluster := func(scheme string) string { return scheme + "://" + host + devissuer.ClusterPath }

	// The attacker's key set, and a discovery document pointing at it.
	forger := devissuer.New(people("https"), attackerKey)
	forgerCluster := devissuer.NewCluster(cluster("https"), attackerKey)
	attacker := http.NewServeMux()
	attacker.Handle(devissuer.RealmPath+"/", forger.Handler())
	attacker.Handle(devissuer.ClusterPath+"/", forgerCluster.Handler(devissuer.ClusterPath))
	attacker.HandleFunc("GET "+devissuer.ClusterPath+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = platform.WriteJSON(w, http.StatusOK, map[string]any{"issuer": cluster("http"), "jwks_uri": cluster("http") + "/openid/v1/jwks"})
	})
	jwks := func(key *devissuer.Issuer) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { key.Handler().ServeHTTP(w, r) }
	}
	realIssuer := devissuer.New(people("https"), realKey)

	forgedAdmin := func(issuer string) string {
		c := forger.ClaimsFor(devissuer.Users[4]) // ada, the admin
		c["iss"] = issuer
		tok, err := forger.Mint(c)
		require.NoError(t, err)
		return tok
	}
	const receiver = "reservations-api"
	aud := auth.ServiceAudience(auth.DefaultNamespace, receiver)
	forgedDelivery := func(issuer string) string {
		tok, err := forgerCluster.MintClaims(devissuer.Claims{"iss": issuer, "sub": devissuer.Subject(auth.DefaultNamespace, "reservations-api-payment-authorized-oidc-eventing.knative.dev-trigger"),
			"aud": []string{aud}, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
		require.NoError(t, err)
		return tok
	}

	cases := []struct {
		name string
		// real is what the issuer's host answers over https.
		real http.Handler
		// verify builds a verifier over client and checks the forged token with it.
		verify func(client *http.Client) (platform.Caller, error)
		// startErr names the variable a refusal at start must name; "" when the refusal comes
		// at verification (the URL is only known then).
		startErr string
	}{
		{
			name: "people: an http issuer on a public host (keys below it)",
			verify: func(client *http.Client) (platform.Caller, error) {
				v, err := auth.NewVerifier(auth.Config{IssuerURL: people("http"), Audience: devissuer.Audience, Algorithms: []string{"RS256"}}, client)
				if err != nil {
					return platform.Caller{}, err
				}
				return v.Verify(context.Background(), forgedAdmin(people("http")))
			},
			startErr: "OIDC_ISSUER_URL",
		},
		{
			name: "people: OIDC_JWKS_URL over http to a public host",
			verify: func(client *http.Client) (platform.Caller, error) {
				v, err := auth.NewVerifier(auth.Config{IssuerURL: people("https"), JWKSURL: people("http") + "/protocol/openid-connect/certs",
					Audience: devissuer.Audience, Algorithms: []string{"RS256"}}, client)
				if err != nil {
					return platform.Caller{}, err
				}
				return v.Verify(context.Background(), forgedAdmin(people("https")))
			},
			startErr: "OIDC_JWKS_URL",
		},
		{
			name: "people: an https key set that redirects to http",
			real: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, people("http")+"/protocol/openid-connect/certs", http.StatusFound)
			}),
			verify: func(client *http.Client) (platform.Caller, error) {
				v, err := auth.NewVerifier(auth.Config{IssuerURL: people("https"), Audience: devissuer.Audience, Algorithms: []string{"RS256"}}, client)
				if err != nil {
					return platform.Caller{}, err
				}
				return v.Verify(context.Background(), forgedAdmin(people("https")))
			},
		},
		{
			name: "deliveries: an http cluster issuer on a public host",
			verify: func(client *http.Client) (platform.Caller, error) {
				d, err := auth.NewDeliveryVerifier(auth.DeliveryConfig{IssuerURL: cluster("http")}, aud, auth.DefaultNamespace, client)
				if err != nil {
					return platform.Caller{}, err
				}
				return d.Verify(context.Background(), forgedDelivery(cluster("http")))
			},
			startErr: "EVENTS_OIDC_ISSUER_URL",
		},
		{
			name: "deliveries: EVENTS_OIDC_JWKS_URL over http to a public host",
			verify: func(client *http.Client) (platform.Caller, error) {
				d, err := auth.NewDeliveryVerifier(auth.DeliveryConfig{IssuerURL: cluster("https"), JWKSURL: cluster("http") + "/openid/v1/jwks"},
					aud, auth.DefaultNamespace, client)
				if err != nil {
					return platform.Caller{}, err
				}
				return d.Verify(context.Background(), forgedDelivery(cluster("https")))
			},
			startErr: "EVENTS_OIDC_JWKS_URL",
		},
		{
			name: "deliveries: an https discovery document naming an http jwks_uri",
			real: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = platform.WriteJSON(w, http.StatusOK, map[string]any{"issuer": cluster("https"), "jwks_uri": cluster("http") + "/openid/v1/jwks"})
			}),
			verify: func(client *http.Client) (platform.Caller, error) {
				d, err := auth.NewDeliveryVerifier(auth.DeliveryConfig{IssuerURL: cluster("https")}, aud, auth.DefaultNamespace, client)
				if err != nil {
					return platform.Caller{}, err
				}
				return d.Verify(context.Background(), forgedDelivery(cluster("https")))
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			real := tc.real
			if real == nil {
				real = jwks(realIssuer)
			}
			path := &onThePath{real: real, attacker: attacker}
			keys := platform.NewTransport(nil, nil)
			keys.Mount(host, path)
			caller, err := tc.verify(&http.Client{Transport: keys, Timeout: 5 * time.Second})
			require.Error(t, err, "the forged token was accepted as %+v", caller)
			if tc.startErr != "" {
				assert.Contains(t, err.Error(), tc.startErr, "the refusal names the variable")
				assert.Contains(t, err.Error(), "https")
			} else {
				assert.Equal(t, platform.KindUnauthorized, platform.KindOf(err))
			}
			assert.Zero(t, path.served.Load(), "nothing is fetched over plain http")
		})
	}
}

// TestKeySetsOverHTTPAreRefusedAtStart: the hosts start refuses, through their variables.
func TestKeySetsOverHTTPAreRefusedAtStart(t *testing.T) {
	t.Parallel()
	_, err := auth.NewVerifier(auth.Config{IssuerURL: "https://kc.example.com/realms/r", JWKSURL: "http://kc.example.com/certs",
		Audience: "orange-api", Algorithms: []string{"RS256"}}, nil)
	require.Error(t, err)
	_, err = auth.NewVerifier(auth.Config{IssuerURL: "https://kc.example.com/realms/r", JWKSURL: "http://kc.example.com/certs",
		Audience: "orange-api", Algorithms: []string{"RS256"}, AllowHTTPHosts: []string{"kc.example.com"}}, nil)
	require.NoError(t, err, "a host explicitly allowed may serve keys over http")
	_, err = auth.NewDeliveryVerifier(auth.DeliveryConfig{IssuerURL: "http://oidc.example.com"}, "aud", "orange", nil)
	require.Error(t, err)
	_, err = auth.NewDeliveryVerifier(auth.DeliveryConfig{IssuerURL: "http://oidc.example.com", AllowHTTPHosts: []string{"OIDC.example.com"}}, "aud", "orange", nil)
	require.NoError(t, err)
	_, err = auth.NewDeliveryVerifier(auth.DeliveryConfig{IssuerURL: "https://kubernetes.default.svc.cluster.local"}, "aud", "orange", nil)
	require.NoError(t, err, "the default issuer is https")
}

func TestCheckKeyURL(t *testing.T) {
	t.Parallel()
	allowed := []string{
		"https://keycloak.example.com/realms/r/protocol/openid-connect/certs",
		"https://10.0.0.5/keys",
		"http://localhost:8080/realms/orange-car-rental/protocol/openid-connect/certs",
		"http://LOCALHOST/x",
		"http://orange.localhost:8080/x",
		"http://127.0.0.1:41234/x",
		"http://127.1.2.3/x",
		"http://[::1]:8080/x",
		"http://keycloak.keycloak.svc.cluster.local/realms/r/protocol/openid-connect/certs",
		"http://keycloak.keycloak.svc/x",
		"http://keycloak.keycloak.svc.cluster.local./x",
		"http://issuer.test/realms/r",
		"http://cluster.test/dev/cluster-issuer/openid/v1/jwks",
	}
	for _, u := range allowed {
		assert.NoError(t, auth.CheckKeyURL(u, nil), u)
	}
	refused := []string{
		"http://keycloak.example.com/realms/r/protocol/openid-connect/certs",
		"http://10.0.0.5/keys",           // a private address is not a private path
		"http://192.168.1.10:8080/keys",  //
		"http://keycloak/realms/r",       // a bare name: allow it explicitly
		"http://svc/x",                   //
		"http://test/x",                  //
		"http://localhost.example.com/x", // look-alikes
		"http://127.0.0.1.nip.io/x",      //
		"http://evil.svc.cluster.local.example.com/x",
		"http://keycloak.svc.example.com/x",
		"ftp://keycloak.example.com/keys",
		"keycloak.example.com/keys",
		"/realms/r/certs",
		"",
	}
	for _, u := range refused {
		assert.Error(t, auth.CheckKeyURL(u, nil), u)
	}
	assert.NoError(t, auth.CheckKeyURL("http://keycloak:8080/realms/r", []string{"keycloak"}), "explicitly allowed")
	assert.NoError(t, auth.CheckKeyURL("http://10.0.0.5/keys", []string{" 10.0.0.5 "}), "explicitly allowed")
	assert.Error(t, auth.CheckKeyURL("http://keycloak.example.com/x", []string{"keycloak"}), "allowing a name allows that name only")
	err := auth.CheckKeyURL("http://keycloak.example.com/x", nil)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "https"), err.Error())
}
