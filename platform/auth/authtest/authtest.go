// Package authtest gives tests a working identity setup: a development issuer in-process, a
// real auth.Verifier that fetches the issuer's keys from it, and tokens for every demo user.
package authtest

import (
	"crypto/rsa"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// IssuerURL is the issuer tests use; nothing listens there, keys are fetched in-process.
const IssuerURL = "http://issuer.test" + devissuer.RealmPath

// ClusterURL is the cluster service-account issuer tests use, fetched in-process as well.
const ClusterURL = "http://cluster.test" + devissuer.ClusterPath

// Namespace is where the tests' functions and senders live.
const Namespace = auth.DefaultNamespace

var (
	keyOnce               sync.Once
	key, clusterKey       *rsa.PrivateKey
	keyErr, clusterKeyErr error
)

// Identity is an issuer of people's and functions' tokens, a cluster issuer of event
// deliveries' tokens, and verifiers that trust them.
type Identity struct {
	Issuer   *devissuer.Issuer
	Verifier *auth.Verifier
	// Config is the verifier's configuration (issuer URL, audience).
	Config auth.Config
	// KeyClient fetches either issuer's keys, and service tokens, in-process.
	KeyClient *http.Client
	// Cluster signs event deliveries; Deliveries verifies them (see ForAudience) and Events
	// is its configuration.
	Cluster    *devissuer.Cluster
	Deliveries *auth.DeliveryVerifier
	Events     auth.DeliveryConfig
}

// New returns an identity setup; the RSA keys are made once per test binary.
func New(tb testing.TB) *Identity {
	tb.Helper()
	keyOnce.Do(func() {
		key, keyErr = devissuer.GenerateKey()
		clusterKey, clusterKeyErr = devissuer.GenerateKey()
	})
	if err := errors.Join(keyErr, clusterKeyErr); err != nil {
		tb.Fatal(err)
	}
	iss := devissuer.New(IssuerURL, key)
	cluster := devissuer.NewCluster(ClusterURL, clusterKey)
	keys := platform.NewTransport(nil, nil)
	u, _ := url.Parse(IssuerURL)
	keys.Mount(u.Hostname(), iss.Handler())
	c, _ := url.Parse(ClusterURL)
	keys.Mount(c.Hostname(), cluster.Handler(devissuer.ClusterPath))
	client := &http.Client{Transport: keys}
	cfg := auth.Config{IssuerURL: IssuerURL, Audience: devissuer.Audience, Algorithms: []string{"RS256"}, Skew: 30 * time.Second}
	v, err := auth.NewVerifier(cfg, client)
	if err != nil {
		tb.Fatal(err)
	}
	events := auth.DeliveryConfig{IssuerURL: ClusterURL}
	d, err := auth.NewDeliveryVerifier(events, auth.BrokerAudience(Namespace, auth.DefaultBroker), Namespace, client)
	if err != nil {
		tb.Fatal(err)
	}
	return &Identity{Issuer: iss, Verifier: v, Config: cfg, KeyClient: client, Cluster: cluster, Deliveries: d, Events: events}
}

// Authenticator is what a host puts in front of service: people's and functions' tokens,
// and event deliveries addressed to service.
func (i *Identity) Authenticator(service string) auth.Authenticator {
	return auth.Authenticator{People: i.Verifier, Deliveries: i.Deliveries.ForAudience(auth.ServiceAudience(Namespace, service))}
}

// Token returns a valid token of a demo user ("alice", "bob", "carla", "frank", "ada") or
// of a function's own identity ("service:reservations-api").
func (i *Identity) Token(tb testing.TB, user string) string {
	tb.Helper()
	tok, err := i.Issuer.TokenFor(user)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// Bearer is Token as an Authorization header value.
func (i *Identity) Bearer(tb testing.TB, user string) string {
	tb.Helper()
	return "Bearer " + i.Token(tb, user)
}

// DeliveryBearer is the Authorization header the event platform sends with sender's
// delivery to service.
func (i *Identity) DeliveryBearer(tb testing.TB, sender platform.Sender, service string) string {
	tb.Helper()
	tok, err := i.Cluster.Token(devissuer.Subject(Namespace, sender.ServiceAccount()), auth.ServiceAudience(Namespace, service))
	if err != nil {
		tb.Fatal(err)
	}
	return "Bearer " + tok
}

// ServiceTokens is the token source a host gives service for its calls: client credentials
// against the development issuer, which learns the client here.
func (i *Identity) ServiceTokens(service string) oauth2.TokenSource {
	i.Issuer.AddClients(service)
	return auth.NewTokenSource(auth.ClientConfig{ClientSecret: devissuer.ClientSecret(service)}, IssuerURL, service, i.KeyClient)
}
