// Package auth verifies the OIDC bearer tokens of Keycloak (or the development issuer of
// `orange dev`) and turns them into a platform.Caller. The JWT work — parsing, signature,
// issuer, audience, algorithm allow-list — is github.com/coreos/go-oidc's; this package adds
// the key-set refresh policy, expiry with a small clock skew, and the mapping of Keycloak's
// claims to roles.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/orangecarrental/orange/platform"
)

// Config is how a function finds and trusts the token issuer.
type Config struct {
	// IssuerURL is the `iss` every token must carry, e.g.
	// https://keycloak.example.com/realms/orange-car-rental.
	IssuerURL string `env:"OIDC_ISSUER_URL"`
	// Audience must be among a token's `aud` (Keycloak: an audience mapper on the clients).
	Audience string `env:"OIDC_AUDIENCE, default=orange-api"`
	// JWKSURL is where the keys are; default is Keycloak's path below the issuer. Set it when
	// functions reach Keycloak by a cluster-local address other than the public issuer URL.
	JWKSURL string `env:"OIDC_JWKS_URL"`
	// Algorithms is the allow-list of signature algorithms; "none" and HMAC are never allowed.
	Algorithms []string `env:"OIDC_ALGORITHMS, default=RS256,ES256"`
	// Skew is the clock skew tolerated on exp and nbf.
	Skew time.Duration `env:"OIDC_CLOCK_SKEW, default=30s"`
	// KeyRefreshInterval bounds how often an unknown key id may refetch the JWKS.
	KeyRefreshInterval time.Duration `env:"OIDC_KEY_REFRESH_INTERVAL, default=10s"`
	// AllowHTTPHosts are hosts whose keys may be fetched over plain http besides loopback,
	// cluster-local and *.test names (CheckKeyURL) — a development Keycloak, say.
	AllowHTTPHosts []string `env:"OIDC_ALLOW_HTTP_HOSTS"`
}

// Validate checks the settings.
func (c Config) Validate() error {
	if c.IssuerURL == "" {
		return errors.New("OIDC_ISSUER_URL is required: every function verifies its callers' tokens")
	}
	if !strings.HasPrefix(c.IssuerURL, "https://") && !strings.HasPrefix(c.IssuerURL, "http://") {
		return fmt.Errorf("OIDC_ISSUER_URL must be an http(s) URL, got %q", c.IssuerURL)
	}
	if c.Audience == "" {
		return errors.New("OIDC_AUDIENCE must not be empty")
	}
	for _, a := range c.Algorithms {
		if _, ok := asymmetric[a]; !ok {
			return fmt.Errorf("OIDC_ALGORITHMS: %q is not an allowed asymmetric signature algorithm", a)
		}
	}
	if c.Skew < 0 || c.Skew > 5*time.Minute {
		return fmt.Errorf("OIDC_CLOCK_SKEW must be between 0 and 5m, got %s", c.Skew)
	}
	if c.KeyRefreshInterval < 0 {
		return fmt.Errorf("OIDC_KEY_REFRESH_INTERVAL must not be negative, got %s", c.KeyRefreshInterval)
	}
	if err := CheckKeyURL(c.JWKS(), c.AllowHTTPHosts); err != nil {
		if c.JWKSURL == "" {
			return fmt.Errorf("OIDC_ISSUER_URL: the keys below it: %w (set OIDC_JWKS_URL or OIDC_ALLOW_HTTP_HOSTS)", err)
		}
		return fmt.Errorf("OIDC_JWKS_URL: %w", err)
	}
	return nil
}

// JWKS returns the key set URL.
func (c Config) JWKS() string {
	if c.JWKSURL != "" {
		return c.JWKSURL
	}
	return strings.TrimSuffix(c.IssuerURL, "/") + "/protocol/openid-connect/certs"
}

var asymmetric = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true,
}

// allAlgorithms lets the key set parse what go-oidc has already allowed.
var allAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// Verifier checks bearer tokens.
type Verifier struct {
	cfg      Config
	verifier *oidc.IDTokenVerifier
	now      func() time.Time
	cache    *verified
}

// NewVerifier returns a verifier that fetches keys with client (http.DefaultClient when nil)
// on first use; it does not contact the issuer now, so a function starts even while
// Keycloak is still coming up.
func NewVerifier(cfg Config, client *http.Client) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.KeyRefreshInterval == 0 {
		cfg.KeyRefreshInterval = 10 * time.Second
	}
	ks := &keySet{url: cfg.JWKS(), client: guardRedirects(client, cfg.AllowHTTPHosts), minRefresh: cfg.KeyRefreshInterval,
		allowHTTP: cfg.AllowHTTPHosts}
	v := oidc.NewVerifier(cfg.IssuerURL, ks, &oidc.Config{
		ClientID:             cfg.Audience,
		SupportedSigningAlgs: cfg.Algorithms,
		// Expiry and not-before are checked below with our skew: go-oidc allows none on exp
		// and five minutes on nbf.
		SkipExpiryCheck: true,
	})
	return &Verifier{cfg: cfg, verifier: v, now: time.Now, cache: newVerified()}, nil
}

// claims are the parts of a Keycloak access token the system reads.
type claims struct {
	Subject         string   `json:"sub"`
	Username        string   `json:"preferred_username"`
	AuthorizedParty string   `json:"azp"`
	CustomerID      string   `json:"customer_id"`
	Expiry          *float64 `json:"exp"`
	NotBefore       *float64 `json:"nbf"`
	RealmAccess     struct {
		Roles []string `json:"roles"`
	} `json:"realm_access"`
}

// Verify checks raw and returns its caller, or an unauthorized *platform.Error saying why not.
func (v *Verifier) Verify(ctx context.Context, raw string) (platform.Caller, error) {
	now := v.now()
	if c, ok := v.cache.get(raw, now); ok {
		return c, nil
	}
	c, exp, err := v.verifyToken(ctx, raw, now)
	if err == nil {
		v.cache.put(raw, c, exp.Add(v.cfg.Skew), now)
	}
	return c, err
}

// verifyToken does Verify's work — signature, issuer, audience, times, roles — and returns
// the caller and the token's expiry.
func (v *Verifier) verifyToken(ctx context.Context, raw string, now time.Time) (platform.Caller, time.Time, error) {
	if !compact(raw) {
		return platform.Caller{}, time.Time{}, unauthorized("the token is malformed: not a JWT in compact serialization", nil)
	}
	tok, err := v.verifier.Verify(ctx, raw)
	if err != nil {
		return platform.Caller{}, time.Time{}, unauthorized("the token is not valid", err)
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return platform.Caller{}, time.Time{}, unauthorized("the token's claims are malformed", err)
	}
	if err := checkTimes(now, c.Expiry, c.NotBefore, v.cfg.Skew); err != nil {
		return platform.Caller{}, time.Time{}, err
	}
	if c.Subject == "" {
		return platform.Caller{}, time.Time{}, unauthorized("the token has no subject", nil)
	}
	caller := platform.Caller{Subject: c.Subject, Username: c.Username, CustomerID: c.CustomerID}
	for _, r := range c.RealmAccess.Roles {
		switch role := platform.Role(r); role {
		case platform.RoleCustomer, platform.RoleAgent, platform.RoleFleet, platform.RoleAdmin, platform.RolePartner:
			caller.Roles = append(caller.Roles, role)
		case platform.RoleService:
			caller.Service = c.AuthorizedParty
		}
	}
	if caller.Service != "" || slices.Contains(c.RealmAccess.Roles, string(platform.RoleService)) {
		// A function's own identity: the service account of its OAuth client, which Keycloak
		// names service-account-<client id>. Nothing else rides on such a token.
		if c.AuthorizedParty == "" || c.Username != ServiceAccountUsername(c.AuthorizedParty) {
			return platform.Caller{}, time.Time{}, unauthorized("the token holds the service role but is not a client's service account", nil)
		}
		caller = platform.Caller{Subject: c.Subject, Username: c.Username, Service: c.AuthorizedParty}
	} else if caller.Has(platform.RolePartner) {
		// A partner is an external system signed in with its client's credentials: only a
		// client's service account holds the role, and nothing else rides on its token, so a
		// partner whose client was also given a person's role (admin, fleet-manager…) is
		// admitted only where a route names the partner role (sync-worker's /api/events).
		if c.AuthorizedParty == "" || c.Username != ServiceAccountUsername(c.AuthorizedParty) {
			return platform.Caller{}, time.Time{}, unauthorized("the token holds the partner role but is not a client's service account", nil)
		}
		caller = platform.Caller{Subject: c.Subject, Username: c.Username, Roles: []platform.Role{platform.RolePartner}}
	}
	return caller, unix(*c.Expiry), nil
}

// compact reports whether raw is a JWS in compact serialization, the only form a JWT takes
// (RFC 7519 §1): three base64url parts. go-jose (under go-oidc) also parses the JWS JSON
// serialization, so a signed token re-wrapped as JSON was accepted.
func compact(raw string) bool {
	return strings.Count(raw, ".") == 2 && !strings.ContainsFunc(raw, func(r rune) bool {
		return !(r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
}

// ServiceAccountUsername is the username Keycloak gives the service account of client id.
func ServiceAccountUsername(clientID string) string {
	return "service-account-" + strings.ToLower(clientID)
}

// checkTimes holds a token to its exp (required) and nbf, with skew either way.
func checkTimes(now time.Time, exp, nbf *float64, skew time.Duration) error {
	if exp == nil {
		return unauthorized("the token has no expiry", nil)
	}
	if now.After(unix(*exp).Add(skew)) {
		return unauthorized("the token has expired", nil)
	}
	if nbf != nil && now.Add(skew).Before(unix(*nbf)) {
		return unauthorized("the token is not valid yet", nil)
	}
	return nil
}

func unix(f float64) time.Time { return time.Unix(0, int64(f*float64(time.Second))) }

func unauthorized(msg string, cause error) error {
	return &platform.Error{Kind: platform.KindUnauthorized, Message: msg, Err: cause}
}

// Authenticate implements platform.Authenticator over the Authorization header.
func (v *Verifier) Authenticate(ctx context.Context, r *http.Request) (platform.Caller, error) {
	token, err := bearer(r)
	if token == "" || err != nil {
		return platform.Caller{}, err
	}
	return v.Verify(ctx, token)
}

// bearer returns the request's bearer token: "" without an Authorization header, an
// unauthorized error for one of another shape.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", unauthorized("the Authorization header must be \"Bearer <token>\"", nil)
	}
	return strings.TrimSpace(token), nil
}
