package devissuer

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/orangecarrental/orange/platform"
)

// ClusterPath is where `orange dev` serves its stand-in for the cluster's service-account
// issuer, below its own host.
const ClusterPath = "/dev/cluster-issuer"

// Cluster imitates a Kubernetes cluster's service-account token issuer as Knative Eventing
// uses it for OIDC: an OIDC discovery document and a JWKS at the paths the API server serves
// them, and tokens whose subject is system:serviceaccount:<namespace>:<name> and whose
// audience is the receiver's. The in-process broker and PingSources sign their deliveries
// with it, and relays their events to the Broker, so the checks production runs against the
// cluster's issuer run in `orange dev` and the tests. It is never deployed.
type Cluster struct {
	url string
	key *rsa.PrivateKey
	kid string
	ttl time.Duration

	mu     sync.Mutex
	cached map[[2]string]cachedToken
}

type cachedToken struct {
	raw     string
	renewAt time.Time
}

// NewCluster returns a cluster issuer at url signing with key.
func NewCluster(url string, key *rsa.PrivateKey) *Cluster {
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sum := sha256.Sum256(der)
	return &Cluster{url: strings.TrimSuffix(url, "/"), key: key, kid: hex.EncodeToString(sum[:8]), ttl: time.Hour, cached: map[[2]string]cachedToken{}}
}

// URL is the issuer URL (the tokens' `iss`).
func (c *Cluster) URL() string { return c.url }

// Subject is the subject of a service account's tokens.
func Subject(namespace, serviceAccount string) string {
	return "system:serviceaccount:" + namespace + ":" + serviceAccount
}

// Mint signs a token for subject and audience, shaped like a projected service-account
// token (iss, sub, aud, iat, nbf, exp).
func (c *Cluster) Mint(subject, audience string) (string, error) {
	now := time.Now()
	return c.MintClaims(Claims{
		"iss": c.url, "sub": subject, "aud": []string{audience},
		"iat": now.Unix(), "nbf": now.Add(-time.Second).Unix(), "exp": now.Add(c.ttl).Unix(),
	})
}

// MintClaims signs any claims, so tests can make broken tokens too.
func (c *Cluster) MintClaims(claims Claims) (string, error) { return sign(c.key, c.kid, claims) }

// Token returns a token for subject and audience, reusing one until ten minutes before it
// expires, as Knative's token provider caches them: signing is the costly part of a delivery.
func (c *Cluster) Token(subject, audience string) (string, error) {
	key := [2]string{subject, audience}
	c.mu.Lock()
	t, ok := c.cached[key]
	c.mu.Unlock()
	if ok && time.Now().Before(t.renewAt) {
		return t.raw, nil
	}
	raw, err := c.Mint(subject, audience)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.cached[key] = cachedToken{raw: raw, renewAt: time.Now().Add(c.ttl - 10*time.Minute)}
	c.mu.Unlock()
	return raw, nil
}

// Handler serves discovery and keys at the issuer's path (mount it at ClusterPath), and a
// token endpoint — the stand-in for `kubectl create token <name> --audience <aud>` that
// `orange emit --as` uses: POST form namespace, serviceAccount, audience. Only `orange dev`
// serves it, for the developer at the keyboard, as kubectl would.
func (c *Cluster) Handler(path string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+path+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = platform.WriteJSON(w, http.StatusOK, map[string]any{
			"issuer": c.url, "jwks_uri": c.url + "/openid/v1/jwks",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET "+path+"/openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) {
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &c.key.PublicKey, KeyID: c.kid, Algorithm: "RS256", Use: "sig"}}}
		_ = platform.WriteJSON(w, http.StatusOK, set)
	})
	mux.Handle("POST "+path+"/token", platform.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			return platform.Invalid("the body must be form-encoded")
		}
		ns, sa, aud := r.PostForm.Get("namespace"), r.PostForm.Get("serviceAccount"), r.PostForm.Get("audience")
		if ns == "" || sa == "" || aud == "" || strings.Contains(ns+sa, ":") {
			return platform.Invalid("namespace, serviceAccount and audience are required")
		}
		tok, err := c.Mint(Subject(ns, sa), aud)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		return platform.WriteJSON(w, http.StatusOK, map[string]any{"token": tok, "expiresIn": int(c.ttl.Seconds())})
	}))
	return mux
}

// String names the issuer, for logs.
func (c *Cluster) String() string { return fmt.Sprintf("cluster issuer %s", c.url) }
