// Package authtest gives tests a working identity setup: a development issuer in-process, a
// real auth.Verifier that fetches the issuer's keys from it, and tokens for every demo user.
package authtest

import (
	"crypto/rsa"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// IssuerURL is the issuer tests use; nothing listens there, keys are fetched in-process.
const IssuerURL = "http://issuer.test" + devissuer.RealmPath

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyErr  error
)

// Identity is an issuer and a verifier that trusts it.
type Identity struct {
	Issuer   *devissuer.Issuer
	Verifier *auth.Verifier
	// Config is the verifier's configuration (issuer URL, audience).
	Config auth.Config
	// KeyClient fetches the issuer's keys in-process.
	KeyClient *http.Client
}

// New returns an identity setup; the RSA key is made once per test binary.
func New(tb testing.TB) *Identity {
	tb.Helper()
	keyOnce.Do(func() { key, keyErr = devissuer.GenerateKey() })
	if keyErr != nil {
		tb.Fatal(keyErr)
	}
	iss := devissuer.New(IssuerURL, key)
	keys := platform.NewTransport(nil, nil)
	u, _ := url.Parse(IssuerURL)
	keys.Mount(u.Hostname(), iss.Handler())
	client := &http.Client{Transport: keys}
	cfg := auth.Config{IssuerURL: IssuerURL, Audience: devissuer.Audience, Algorithms: []string{"RS256"}, Skew: 30 * time.Second}
	v, err := auth.NewVerifier(cfg, client)
	if err != nil {
		tb.Fatal(err)
	}
	return &Identity{Issuer: iss, Verifier: v, Config: cfg, KeyClient: client}
}

// Token returns a valid token of a demo user ("alice", "bob", "carla", "frank", "ada") or
// of the service identity ("service").
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
