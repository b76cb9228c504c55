package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/orangecarrental/orange/platform"
)

// Where a pod finds its Kubernetes service account (mounted by default).
const (
	serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	// DefaultNamespace is the namespace of knative/base, used when neither EVENTS_NAMESPACE
	// nor a service-account mount says otherwise (`orange dev`, tests).
	DefaultNamespace = "orange"
	// DefaultBroker is the Broker every producer sends to.
	DefaultBroker = "default"
)

// DeliveryConfig is how a function trusts the event platform: on Knative, Eventing's OIDC
// (the `authentication-oidc` feature) — Triggers, the Broker's dead-letter delivery and
// PingSources send a JWT of the cluster's service-account issuer whose audience is the
// subscriber's and whose subject is the sender's own service account.
type DeliveryConfig struct {
	// IssuerURL is the cluster's service-account issuer (`kubectl get --raw
	// /.well-known/openid-configuration` names it).
	IssuerURL string `env:"EVENTS_OIDC_ISSUER_URL, default=https://kubernetes.default.svc.cluster.local"`
	// JWKSURL is where the issuer's keys are; empty: read from its discovery document.
	JWKSURL string `env:"EVENTS_OIDC_JWKS_URL"`
	// AllowHTTPHosts are hosts whose discovery document and keys may be fetched over plain
	// http besides loopback, cluster-local and *.test names (CheckKeyURL).
	AllowHTTPHosts []string `env:"EVENTS_OIDC_ALLOW_HTTP_HOSTS"`
	// Audience is what deliveries to this function must be addressed to; empty:
	// ServiceAudience(namespace, service), which the Triggers and PingSources name.
	Audience string `env:"EVENTS_OIDC_AUDIENCE"`
	// Namespace is the function's namespace, the only one whose senders it accepts; empty:
	// the pod's own (from its service-account mount), else DefaultNamespace.
	Namespace string `env:"EVENTS_NAMESPACE"`
	// CAFile verifies the issuer's TLS certificate when it exists (the API server's CA).
	CAFile string `env:"EVENTS_OIDC_CA_FILE, default=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"`
	// TokenFile, when it exists, is sent as bearer token when fetching discovery and keys:
	// the API server serves them to service accounts bound to
	// system:service-account-issuer-discovery.
	TokenFile string `env:"EVENTS_OIDC_TOKEN_FILE, default=/var/run/secrets/kubernetes.io/serviceaccount/token"`
}

// Validate checks the settings.
func (c DeliveryConfig) Validate() error {
	if !strings.HasPrefix(c.IssuerURL, "https://") && !strings.HasPrefix(c.IssuerURL, "http://") {
		return fmt.Errorf("EVENTS_OIDC_ISSUER_URL must be an http(s) URL, got %q", c.IssuerURL)
	}
	if c.JWKSURL != "" {
		if err := CheckKeyURL(c.JWKSURL, c.AllowHTTPHosts); err != nil {
			return fmt.Errorf("EVENTS_OIDC_JWKS_URL: %w", err)
		}
		return nil
	}
	// The discovery document says where the keys are: it must come as safely as they do.
	if err := CheckKeyURL(c.IssuerURL, c.AllowHTTPHosts); err != nil {
		return fmt.Errorf("EVENTS_OIDC_ISSUER_URL: its discovery document and keys: %w (set EVENTS_OIDC_ALLOW_HTTP_HOSTS)", err)
	}
	return nil
}

// ResolveNamespace returns the configured namespace, else the pod's, else DefaultNamespace.
func (c DeliveryConfig) ResolveNamespace() string {
	if c.Namespace != "" {
		return c.Namespace
	}
	if raw, err := os.ReadFile(serviceAccountDir + "/namespace"); err == nil && len(strings.TrimSpace(string(raw))) > 0 {
		return strings.TrimSpace(string(raw))
	}
	return DefaultNamespace
}

// ServiceAudience is the OIDC audience of a Knative Service, in Eventing's format
// (knative.dev/eventing pkg/auth GetAudience: <group>/<kind>/<namespace>/<name>). Knative
// Serving publishes no audience for a Service, so every Trigger, dead-letter sink and
// PingSource destination names this one explicitly.
func ServiceAudience(namespace, service string) string {
	return strings.ToLower("serving.knative.dev/service/" + namespace + "/" + service)
}

// BrokerAudience is the OIDC audience of a Broker's ingress, as Eventing sets it.
func BrokerAudience(namespace, broker string) string {
	return strings.ToLower("eventing.knative.dev/broker/" + namespace + "/" + broker)
}

// KeyClient returns the HTTP client that fetches the issuer's discovery document and keys:
// trusting CAFile and sending TokenFile when they exist (in a pod), plain otherwise.
func (c DeliveryConfig) KeyClient() (*http.Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if pem, err := os.ReadFile(c.CAFile); err == nil {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("EVENTS_OIDC_CA_FILE %s holds no certificate", c.CAFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var rt http.RoundTripper = transport
	if _, err := os.Stat(c.TokenFile); err == nil {
		rt = FileBearer(c.TokenFile, transport)
	}
	return &http.Client{Transport: rt, Timeout: 10 * time.Second}, nil
}

// FileBearer returns a transport over next that sends the token in path as bearer token,
// read anew for every request: the kubelet rotates projected service-account tokens.
func FileBearer(path string, next http.RoundTripper) http.RoundTripper {
	return fileBearer{path: path, next: next}
}

type fileBearer struct {
	path string
	next http.RoundTripper
}

func (f fileBearer) RoundTrip(req *http.Request) (*http.Response, error) {
	raw, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.path, err)
	}
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(raw)))
	return f.next.RoundTrip(out)
}

// DeliveryVerifier checks the tokens of event deliveries addressed to one audience.
type DeliveryVerifier struct {
	issuer    string
	namespace string
	keys      *keySet
	verifier  *oidc.IDTokenVerifier
	skew      time.Duration
	now       func() time.Time
	cache     *verified
}

// NewDeliveryVerifier returns a verifier of deliveries to audience from senders in
// namespace, fetching the issuer's keys with client on first use.
func NewDeliveryVerifier(cfg DeliveryConfig, audience, namespace string, client *http.Client) (*DeliveryVerifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if audience == "" || namespace == "" {
		return nil, errors.New("a delivery verifier needs an audience and a namespace")
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	ks := &keySet{url: cfg.JWKSURL, issuer: cfg.IssuerURL, client: guardRedirects(client, cfg.AllowHTTPHosts), minRefresh: 10 * time.Second,
		allowHTTP: cfg.AllowHTTPHosts}
	d := &DeliveryVerifier{issuer: cfg.IssuerURL, namespace: namespace, keys: ks, skew: 30 * time.Second, now: time.Now}
	return d.ForAudience(audience), nil
}

// ForAudience returns a verifier of deliveries to another audience that shares d's keys
// (`orange dev` runs every receiver in one process).
func (d *DeliveryVerifier) ForAudience(audience string) *DeliveryVerifier {
	out := *d
	out.cache = newVerified() // per audience: a token verified for one is not for another
	out.verifier = oidc.NewVerifier(d.issuer, d.keys, &oidc.Config{
		ClientID:             audience,
		SupportedSigningAlgs: []string{"RS256", "ES256"},
		SkipExpiryCheck:      true, // checked with our skew, as for people's tokens
	})
	return &out
}

// Issuer is the URL of the issuer d trusts.
func (d *DeliveryVerifier) Issuer() string { return d.issuer }

// serviceAccountPrefix is how Kubernetes names a service account in a token's subject.
const serviceAccountPrefix = "system:serviceaccount:"

// Verify checks raw and returns the delivering sender: Caller.Sender is the service account
// name when the subject is a service account of d's namespace, the whole subject otherwise
// (which no receiver admits).
func (d *DeliveryVerifier) Verify(ctx context.Context, raw string) (platform.Caller, error) {
	now := d.now()
	if c, ok := d.cache.get(raw, now); ok {
		return c, nil
	}
	c, exp, err := d.verifyToken(ctx, raw, now)
	if err == nil {
		d.cache.put(raw, c, exp.Add(d.skew), now)
	}
	return c, err
}

// verifyToken does Verify's work and returns the sender and the token's expiry.
func (d *DeliveryVerifier) verifyToken(ctx context.Context, raw string, now time.Time) (platform.Caller, time.Time, error) {
	if !compact(raw) {
		return platform.Caller{}, time.Time{}, unauthorized("the delivery's token is malformed: not a JWT in compact serialization", nil)
	}
	tok, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return platform.Caller{}, time.Time{}, unauthorized("the delivery's token is not valid", err)
	}
	var c struct {
		Subject   string   `json:"sub"`
		Expiry    *float64 `json:"exp"`
		NotBefore *float64 `json:"nbf"`
	}
	if err := tok.Claims(&c); err != nil {
		return platform.Caller{}, time.Time{}, unauthorized("the token's claims are malformed", err)
	}
	if err := checkTimes(now, c.Expiry, c.NotBefore, d.skew); err != nil {
		return platform.Caller{}, time.Time{}, err
	}
	if c.Subject == "" {
		return platform.Caller{}, time.Time{}, unauthorized("the token has no subject", nil)
	}
	sender := c.Subject
	if rest, ok := strings.CutPrefix(c.Subject, serviceAccountPrefix+d.namespace+":"); ok && rest != "" && !strings.Contains(rest, ":") {
		sender = rest
	}
	return platform.Caller{Subject: c.Subject, Sender: sender}, unix(*c.Expiry), nil
}

// Authenticator verifies every caller of a function: people and functions by the OIDC
// issuer's tokens (Keycloak), event deliveries by the cluster's service-account issuer
// (when Deliveries is set). A token is routed to the verifier of the issuer it names and
// then fully verified there; a token of any other issuer is refused.
type Authenticator struct {
	People     *Verifier
	Deliveries *DeliveryVerifier
}

// Authenticate implements platform.Authenticator.
func (a Authenticator) Authenticate(ctx context.Context, r *http.Request) (platform.Caller, error) {
	token, err := bearer(r)
	if token == "" || err != nil {
		return platform.Caller{}, err
	}
	// A token either verifier verified already (their caches, keyed by the token) needs no
	// issuer read: that read decodes the whole payload, on every in-process hop and every
	// event delivery.
	if c, ok := a.People.cache.get(token, a.People.now()); ok {
		return c, nil
	}
	if a.Deliveries != nil {
		if c, ok := a.Deliveries.cache.get(token, a.Deliveries.now()); ok {
			return c, nil
		}
	}
	switch iss := unverifiedIssuer(token); {
	case iss == a.People.cfg.IssuerURL:
		return a.People.Verify(ctx, token)
	case a.Deliveries != nil && iss == a.Deliveries.issuer:
		return a.Deliveries.Verify(ctx, token)
	default:
		return platform.Caller{}, unauthorized("the token's issuer is not trusted", nil)
	}
}

// unverifiedIssuer reads a JWT's iss without checking anything: only to pick the verifier
// that then checks everything.
func unverifiedIssuer(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return ""
	}
	return c.Issuer
}

// AuthenticateDelivery verifies a request that can only be an event delivery (a Broker's
// ingress): no token, or a token of another issuer or audience, is unauthorized.
func (d *DeliveryVerifier) AuthenticateDelivery(ctx context.Context, r *http.Request) (platform.Caller, error) {
	token, err := bearer(r)
	if err != nil {
		return platform.Caller{}, err
	}
	if token == "" {
		return platform.Caller{}, unauthorized("a delivery must carry the sender's token (Authorization: Bearer)", nil)
	}
	if c, ok := d.cache.get(token, d.now()); ok {
		return c, nil
	}
	if unverifiedIssuer(token) != d.issuer {
		return platform.Caller{}, unauthorized("the token's issuer is not trusted", nil)
	}
	return d.Verify(ctx, token)
}
