package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keySet is the issuer's JWKS, fetched on first use and again when a token names a key id it
// does not hold (the issuer rotated its keys) — at most once per minRefresh, so a flood of
// tokens with made-up key ids cannot turn into a flood of requests to the issuer.
type keySet struct {
	url        string // empty: read jwks_uri from the issuer's discovery document first
	issuer     string
	client     *http.Client // through guardRedirects: a redirect is held to the https rule too
	minRefresh time.Duration
	allowHTTP  []string // hosts whose keys may come over plain http besides the built-in ones

	mu          sync.RWMutex // guards keys and lastRefresh; never held across a fetch
	keys        jose.JSONWebKeySet
	lastRefresh time.Time
	refreshing  sync.Mutex // one fetch at a time; only tokens with unknown keys wait on it
}

var errUnknownKey = errors.New("the token is signed with a key the issuer does not publish")

// VerifySignature implements oidc.KeySet.
func (s *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, allAlgorithms)
	if err != nil {
		return nil, err
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, err := s.lookup(ctx, kid)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if payload, err := jws.Verify(k); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("the token's signature does not verify")
}

// cached returns the keys matching kid and when the set was last fetched.
func (s *keySet) cached(kid string) ([]jose.JSONWebKey, time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if kid != "" {
		return s.keys.Key(kid), s.lastRefresh
	}
	return s.keys.Keys, s.lastRefresh
}

// lookup returns the keys that may have signed a token with kid, refetching the set once if
// none do and the last fetch is older than minRefresh. Tokens with known keys never wait
// for a fetch.
func (s *keySet) lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	if keys, _ := s.cached(kid); len(keys) > 0 {
		return keys, nil
	}
	s.refreshing.Lock()
	defer s.refreshing.Unlock()
	// Another miss may have fetched while this one waited.
	keys, last := s.cached(kid)
	if len(keys) > 0 {
		return keys, nil
	}
	if !last.IsZero() && time.Since(last) < s.minRefresh {
		return nil, errUnknownKey
	}
	set, err := s.fetch(ctx)
	s.mu.Lock()
	s.lastRefresh = time.Now() // a failed fetch counts too: a down issuer is not hammered
	if err == nil {
		s.keys = set
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if keys, _ := s.cached(kid); len(keys) > 0 {
		return keys, nil
	}
	return nil, errUnknownKey
}

// fetch downloads the issuer's key set (called under s.refreshing).
func (s *keySet) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if s.url == "" {
		// OIDC discovery (as the Kubernetes service-account issuer publishes it): the
		// document must name the issuer we trust, and says where its keys are.
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		where := strings.TrimSuffix(s.issuer, "/") + "/.well-known/openid-configuration"
		if err := s.get(ctx, where, &doc); err != nil {
			return set, fmt.Errorf("discover the issuer: %w", err)
		}
		if doc.Issuer != s.issuer || doc.JWKSURI == "" {
			return set, fmt.Errorf("discover the issuer: %s names issuer %q and keys %q, want issuer %q", where, doc.Issuer, doc.JWKSURI, s.issuer)
		}
		if err := CheckKeyURL(doc.JWKSURI, s.allowHTTP); err != nil {
			return set, fmt.Errorf("discover the issuer: %s: jwks_uri: %w", where, err)
		}
		s.url = doc.JWKSURI
	}
	if err := s.get(ctx, s.url, &set); err != nil {
		return set, fmt.Errorf("fetch the issuer's keys: %w", err)
	}
	return set, nil
}

// get decodes the JSON document at url into v.
func (s *keySet) get(ctx context.Context, url string, v any) error {
	if err := CheckKeyURL(url, s.allowHTTP); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", url, err)
	}
	return nil
}

// CheckKeyURL tells whether keys may be fetched from raw. Whoever can change a key set in
// transit can sign any token, so keys come over https — except from hosts whose traffic never
// leaves a network the operator controls: loopback (localhost, *.localhost, 127.0.0.0/8,
// ::1), the cluster's own Service names (*.svc, *.svc.cluster.local), the reserved test
// names (*.test, RFC 6761, never in public DNS: tests reach them in-process), and the hosts
// listed in allowHTTP (OIDC_ALLOW_HTTP_HOSTS, EVENTS_OIDC_ALLOW_HTTP_HOSTS; docs/security.md).
func CheckKeyURL(raw string, allowHTTP []string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if plainHTTPAllowed(u.Hostname(), allowHTTP) {
			return nil
		}
		return fmt.Errorf("%s must be https: keys fetched over plain http can be replaced on the way, and with them every token "+
			"(http is allowed for loopback, *.svc and *.svc.cluster.local, *.test and the hosts listed in the ALLOW_HTTP_HOSTS setting)", raw)
	default:
		return fmt.Errorf("%s must be an https URL", raw)
	}
}

// plainHTTPAllowed implements CheckKeyURL's exceptions for host (no port).
func plainHTTPAllowed(host string, allowHTTP []string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Unmap().IsLoopback() {
			return true
		}
	}
	for _, suffix := range []string{".localhost", ".svc", ".svc.cluster.local", ".test"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	if host == "localhost" {
		return true
	}
	for _, h := range allowHTTP {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" && h == host {
			return true
		}
	}
	return false
}

// guardRedirects returns a copy of client that follows a redirect only to a URL CheckKeyURL
// accepts: an https key URL must not hand over to plain http.
func guardRedirects(client *http.Client, allowHTTP []string) *http.Client {
	guarded := *client
	next := client.CheckRedirect
	guarded.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := CheckKeyURL(req.URL.String(), allowHTTP); err != nil {
			return fmt.Errorf("redirected: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &guarded
}
