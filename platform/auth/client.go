package auth

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ClientConfig is a function's own OAuth 2.0 client, the identity it calls other functions
// with (client credentials grant; one Keycloak client per function, knative/keycloak).
type ClientConfig struct {
	// ClientID is the client; empty: the function's Knative Service name.
	ClientID string `env:"OIDC_CLIENT_ID"`
	// ClientSecret comes from the function's Kubernetes Secret; it is never logged (the
	// configuration is never printed whole). Empty: the function calls no other function
	// with its own identity, and such calls are refused (401) by the callee.
	ClientSecret string `env:"OIDC_CLIENT_SECRET"`
	// TokenURL is the token endpoint; empty: Keycloak's path below OIDC_ISSUER_URL.
	TokenURL string `env:"OIDC_TOKEN_URL"`
	// AllowHTTPHosts may take the secret over plain http besides loopback, cluster-local and
	// *.test hosts: the same rule and setting as for the issuer's keys (docs/security.md).
	AllowHTTPHosts []string `env:"OIDC_ALLOW_HTTP_HOSTS"`
}

// String hides the secret, should a config ever be printed.
func (c ClientConfig) String() string {
	return fmt.Sprintf("{ClientID:%s ClientSecret:[redacted] TokenURL:%s}", c.ClientID, c.TokenURL)
}

// TokenEndpoint returns the token endpoint for an issuer of Keycloak's shape.
func (c ClientConfig) TokenEndpoint(issuerURL string) string {
	if c.TokenURL != "" {
		return c.TokenURL
	}
	return strings.TrimSuffix(issuerURL, "/") + "/protocol/openid-connect/token"
}

// earlyRefresh is how long before its expiry a service token is replaced, so no call ever
// carries a token that expires on the way.
const earlyRefresh = time.Minute

// NewTokenSource returns the function's service tokens: fetched from the issuer on first
// use with client (http.DefaultClient when nil), then reused by every call until a minute
// before they expire — never fetched per request. Nil when no secret is configured.
func NewTokenSource(cfg ClientConfig, issuerURL, service string, client *http.Client) oauth2.TokenSource {
	if cfg.ClientSecret == "" {
		return nil
	}
	id := cfg.ClientID
	if id == "" {
		id = service
	}
	cc := &clientcredentials.Config{
		ClientID:     id,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     cfg.TokenEndpoint(issuerURL),
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, guardRedirects(client, cfg.AllowHTTPHosts))
	// cc.Token fetches every time; the reuse source is the one cache, with our margin.
	fetch := tokenFunc(func() (*oauth2.Token, error) {
		// The client secret never travels in clear text to a host on the network.
		if err := CheckKeyURL(cc.TokenURL, cfg.AllowHTTPHosts); err != nil {
			return nil, fmt.Errorf("service token for %s: OIDC_TOKEN_URL: %w", id, err)
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		tok, err := cc.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("service token for %s: %w", id, err)
		}
		return tok, nil
	})
	return oauth2.ReuseTokenSourceWithExpiry(nil, fetch, earlyRefresh)
}

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }
