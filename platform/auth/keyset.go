package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keySet is the issuer's JWKS, fetched on first use and again when a token names a key id it
// does not hold (the issuer rotated its keys) — at most once per minRefresh, so a flood of
// tokens with made-up key ids cannot turn into a flood of requests to the issuer.
type keySet struct {
	url        string
	client     *http.Client
	minRefresh time.Duration

	mu          sync.Mutex
	keys        jose.JSONWebKeySet
	lastRefresh time.Time
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

// lookup returns the keys that may have signed a token with kid, refreshing once if none do.
func (s *keySet) lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if keys := s.match(kid); len(keys) > 0 {
		return keys, nil
	}
	if !s.lastRefresh.IsZero() && time.Since(s.lastRefresh) < s.minRefresh {
		return nil, errUnknownKey
	}
	// Holding the lock while fetching makes concurrent misses wait for this one fetch.
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	if keys := s.match(kid); len(keys) > 0 {
		return keys, nil
	}
	return nil, errUnknownKey
}

func (s *keySet) match(kid string) []jose.JSONWebKey {
	if kid != "" {
		return s.keys.Key(kid)
	}
	return s.keys.Keys
}

func (s *keySet) refresh(ctx context.Context) error {
	s.lastRefresh = time.Now()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch the issuer's keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch the issuer's keys: %s answered %d", s.url, resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("decode the issuer's keys: %w", err)
	}
	s.keys = set
	return nil
}
