// Package devissuer is the OIDC issuer of `orange dev` and of tests: a discovery document, a
// JWKS, a token endpoint, and the browser's login page and sign-out for the portals
// (login.go) in Keycloak's shape (realm orange-car-rental, the same paths and claims), with
// one demo user per role. It exists so the very verification code production
// runs against Keycloak runs locally too. It is never deployed.
package devissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/orangecarrental/orange/platform"
)

// Realm is the Keycloak realm the issuer imitates.
const Realm = "orange-car-rental"

// RealmPath is the issuer's path below its host.
const RealmPath = "/realms/" + Realm

// Audience is the `aud` of the API's tokens (Keycloak: the audience mapper).
const Audience = "orange-api"

// User is a demo account.
type User struct {
	Username   string
	Password   string
	Subject    string
	CustomerID string
	Roles      []platform.Role
	// Name and Email are the ID token's profile claims.
	Name   string
	Email  string
	client string // the OAuth client of a service account
}

// The demo customers' ids; the customers function seeds profiles with these ids.
const (
	CustomerAlice = "11111111-1111-4111-8111-111111111111"
	CustomerBob   = "22222222-2222-4222-8222-222222222222"
)

// Users are the demo accounts, one per role (two customers, to show one cannot see the
// other's data). The password of each is its username.
var Users = []User{
	{Username: "alice", Subject: "a11ce000-0000-4000-8000-000000000001", CustomerID: CustomerAlice, Roles: []platform.Role{platform.RoleCustomer},
		Name: "Alice Hartmann", Email: "alice@example.com"},
	{Username: "bob", Subject: "b0b00000-0000-4000-8000-000000000002", CustomerID: CustomerBob, Roles: []platform.Role{platform.RoleCustomer},
		Name: "Bob Becker", Email: "bob@example.com"},
	{Username: "carla", Subject: "ca71a000-0000-4000-8000-000000000003", Roles: []platform.Role{platform.RoleAgent},
		Name: "Carla Agent", Email: "carla@orange.example"},
	{Username: "frank", Subject: "f7a4c000-0000-4000-8000-000000000004", Roles: []platform.Role{platform.RoleFleet},
		Name: "Frank Fleet", Email: "frank@orange.example"},
	{Username: "ada", Subject: "ada00000-0000-4000-8000-000000000005", Roles: []platform.Role{platform.RoleAdmin},
		Name: "Ada Admin", Email: "ada@orange.example"},
}

// ClientSecret is the development secret of a function's OAuth client: every function has a
// client named after its Knative Service (one Keycloak client per function in production,
// its secret in a Kubernetes Secret). Known by design: the development issuer guards nothing.
func ClientSecret(clientID string) string { return "dev-" + clientID + "-secret" }

// ServiceAccount is the identity behind a function's client-credentials tokens, shaped as
// Keycloak's service-account user of that client.
func ServiceAccount(clientID string) User {
	sum := sha256.Sum256([]byte("service-account:" + clientID))
	h := hex.EncodeToString(sum[:16])
	return User{
		Username: "service-account-" + clientID,
		Subject:  h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32],
		Roles:    []platform.Role{platform.RoleService},
		client:   clientID,
	}
}

// DevPartner is the development partner: an OAuth client with the partner role (a partner
// garage), authenticating with ClientSecret(DevPartner). `orange dev` lets it send every
// inbound event type to sync-worker (docs/inbound-events.md).
const DevPartner = "dev-garage"

// PartnerAccount is the identity behind a partner's client-credentials tokens: the client's
// service-account user, as Keycloak names it, with the partner role instead of service.
func PartnerAccount(clientID string) User {
	u := ServiceAccount(clientID)
	u.Roles = []platform.Role{platform.RolePartner}
	return u
}

// Issuer signs tokens with one RSA key.
type Issuer struct {
	url string
	key *rsa.PrivateKey
	kid string
	ttl time.Duration

	mu       sync.Mutex
	clients  map[string]bool // the confidential clients with service accounts
	partners map[string]bool // the partners' clients (DevPartner and AddPartners)
	requests map[string]int  // client-credentials grants per client
	public   map[string]PublicClient
	codes    map[string]grant
	ended    map[string]bool // sign-in sessions ended at the end-session endpoint
}

// New returns an issuer at url (…/realms/orange-car-rental) signing with key.
func New(url string, key *rsa.PrivateKey) *Issuer {
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sum := sha256.Sum256(der)
	return &Issuer{url: url, key: key, kid: hex.EncodeToString(sum[:8]), ttl: time.Hour,
		clients: map[string]bool{}, partners: map[string]bool{DevPartner: true}, requests: map[string]int{},
		public: map[string]PublicClient{}, codes: map[string]grant{}, ended: map[string]bool{}}
}

// AddClients registers the OAuth clients of functions (their Knative Service names); each
// authenticates with ClientSecret(id).
func (i *Issuer) AddClients(ids ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, id := range ids {
		i.clients[id] = true
	}
}

// AddPartners registers partners' OAuth clients; each authenticates with ClientSecret(id)
// and gets PartnerAccount(id)'s tokens.
func (i *Issuer) AddPartners(ids ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, id := range ids {
		i.partners[id] = true
	}
}

// TokenRequests is how many client-credentials tokens client id has been issued.
func (i *Issuer) TokenRequests(id string) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.requests[id]
}

// URL is the issuer URL (the `iss` claim).
func (i *Issuer) URL() string { return i.url }

// KeyID is the `kid` of the signing key.
func (i *Issuer) KeyID() string { return i.kid }

// GenerateKey makes a 2048-bit RSA key.
func GenerateKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }

// LoadOrCreateKey keeps the signing key in path, so tokens survive a restart of `orange dev`.
func LoadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	if raw, err := os.ReadFile(path); err == nil {
		block, _ := pem.Decode(raw)
		if block == nil {
			return nil, fmt.Errorf("%s holds no PEM key", path)
		}
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	raw := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return key, os.WriteFile(path, raw, 0o600)
}

// Claims are a token's claims; Mint signs any, so tests can make broken tokens too.
type Claims map[string]any

// ClaimsFor returns the claims Keycloak would issue to u for the API.
func (i *Issuer) ClaimsFor(u User) Claims {
	now := time.Now()
	roles := make([]string, len(u.Roles))
	for j, r := range u.Roles {
		roles[j] = string(r)
	}
	c := Claims{
		"iss": i.url, "sub": u.Subject, "aud": []string{Audience}, "azp": "public-portal",
		"iat": now.Unix(), "nbf": now.Add(-time.Second).Unix(), "exp": now.Add(i.ttl).Unix(),
		"preferred_username": u.Username, "typ": "Bearer",
		"realm_access": map[string]any{"roles": roles},
	}
	if u.CustomerID != "" {
		c["customer_id"] = u.CustomerID
	}
	if u.client != "" {
		c["azp"] = u.client
	}
	return c
}

// Mint signs claims with the issuer's key (RS256, its kid).
func (i *Issuer) Mint(c Claims) (string, error) { return sign(i.key, i.kid, c) }

// sign makes a compact RS256 JWT of claims with key, naming kid.
func sign(key *rsa.PrivateKey, kid string, c Claims) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// TokenFor mints the token of the named demo user, of a function's own identity for
// "service:<client id>" (service:reservations-api), or of a partner for
// "partner:<client id>" (partner:dev-garage).
func (i *Issuer) TokenFor(username string) (string, error) {
	if client, ok := strings.CutPrefix(username, "service:"); ok && client != "" {
		return i.Mint(i.ClaimsFor(ServiceAccount(client)))
	}
	if client, ok := strings.CutPrefix(username, "partner:"); ok && client != "" {
		return i.Mint(i.ClaimsFor(PartnerAccount(client)))
	}
	for _, u := range Users {
		if u.Username == username {
			return i.Mint(i.ClaimsFor(u))
		}
	}
	return "", fmt.Errorf("no demo user %q", username)
}

// Handler serves the discovery document, the JWKS, the token endpoint, and the browser's
// sign-in and sign-out pages at the issuer's path (mount it at RealmPath).
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+RealmPath+"/.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET "+RealmPath+"/protocol/openid-connect/certs", i.jwks)
	mux.Handle("POST "+RealmPath+"/protocol/openid-connect/token", platform.HandlerFunc(i.token))
	mux.HandleFunc("GET "+RealmPath+"/protocol/openid-connect/auth", i.authorize)
	mux.HandleFunc("POST "+RealmPath+"/protocol/openid-connect/auth", i.authorize)
	mux.HandleFunc("GET "+RealmPath+"/protocol/openid-connect/logout", i.endSession)
	mux.HandleFunc("POST "+RealmPath+"/protocol/openid-connect/logout", i.endSession)
	mux.HandleFunc("GET "+RealmPath+"/login.css", i.stylesheet)
	return mux
}

func (i *Issuer) discovery(w http.ResponseWriter, r *http.Request) {
	_ = platform.WriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                i.url,
		"jwks_uri":                              i.url + "/protocol/openid-connect/certs",
		"token_endpoint":                        i.url + "/protocol/openid-connect/token",
		"authorization_endpoint":                i.url + "/protocol/openid-connect/auth",
		"end_session_endpoint":                  i.url + "/protocol/openid-connect/logout",
		"grant_types_supported":                 []string{"password", "client_credentials", "authorization_code", "refresh_token"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "profile", "email"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, r *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: "RS256", Use: "sig"}}}
	_ = platform.WriteJSON(w, http.StatusOK, set)
}

// token implements the password, client-credentials, authorization-code and refresh-token grants, answering errors the way
// Keycloak does (OAuth 2 error JSON, 400/401).
func (i *Issuer) token(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be form-encoded")
	}
	var u User
	switch r.PostForm.Get("grant_type") {
	case "password":
		name, pass := r.PostForm.Get("username"), r.PostForm.Get("password")
		found := false
		for _, cand := range Users {
			if cand.Username == name && subtle.ConstantTimeCompare([]byte(pass), []byte(cand.Username)) == 1 {
				u, found = cand, true
			}
		}
		if !found {
			return oauthError(w, http.StatusUnauthorized, "invalid_grant", "Invalid user credentials")
		}
	case "client_credentials":
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		i.mu.Lock()
		known, partner := i.clients[id], i.partners[id]
		i.mu.Unlock()
		known = known || partner
		if !known || subtle.ConstantTimeCompare([]byte(secret), []byte(ClientSecret(id))) != 1 {
			return oauthError(w, http.StatusUnauthorized, "unauthorized_client", "Invalid client credentials")
		}
		i.mu.Lock()
		i.requests[id]++
		i.mu.Unlock()
		u = ServiceAccount(id)
		if partner {
			u = PartnerAccount(id)
		}
	case "authorization_code":
		return i.codeGrant(w, r)
	case "refresh_token":
		return i.refreshGrant(w, r)
	default:
		return oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "use password, client_credentials, authorization_code or refresh_token")
	}
	tok, err := i.Mint(i.ClaimsFor(u))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return platform.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(i.ttl.Seconds()),
	})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) error {
	return platform.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
}
