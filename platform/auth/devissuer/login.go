package devissuer

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Browser sign-in, as Keycloak offers it to the portals: the authorization endpoint with a
// login page, the authorization_code grant (public clients, PKCE S256 required, redirect URI
// matched exactly against the client's registered ones), the refresh_token grant and the
// end-session endpoint. There is no single sign-on session: every sign-in asks for the
// password again. Each sign-in has a session id (sid) in its tokens; signing out with the
// ID token as hint ends it, so its refresh token is refused from then on (kept in memory:
// a restart forgets which sessions ended).

// PublicClient is a browser client (a portal): no secret, PKCE instead, and only its
// registered redirect URIs.
type PublicClient struct {
	ID string
	// RedirectURIs are where the issuer may send a code, compared exactly.
	RedirectURIs []string
	// PostLogoutURIs are where the end-session endpoint may send the browser back.
	PostLogoutURIs []string
}

// AddPublicClients registers portals' clients (their Knative Service names as client ids).
func (i *Issuer) AddPublicClients(cs ...PublicClient) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, c := range cs {
		i.public[c.ID] = c
	}
}

// SetTokenLifetime changes how long access and ID tokens live (an hour by default); tests
// of token refresh shorten it. Call it before the issuer serves.
func (i *Issuer) SetTokenLifetime(d time.Duration) { i.ttl = d }

// codeTTL bounds an authorization code's life; refreshTTL a refresh token's (Keycloak's
// default idle time of a sign-in).
const (
	codeTTL    = time.Minute
	refreshTTL = 30 * time.Minute
)

// grant is an issued authorization code, good once.
type grant struct {
	client, redirect, challenge, nonce string
	sid                                string
	user                               User
	expires                            time.Time
}

// authRequest is an authorization request's parameters, carried through the login form.
type authRequest struct {
	ClientID, RedirectURI, State, Nonce, Challenge, Method, Scope, Locale string
}

func parseAuthRequest(v url.Values) authRequest {
	return authRequest{
		ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), State: v.Get("state"), Nonce: v.Get("nonce"),
		Challenge: v.Get("code_challenge"), Method: v.Get("code_challenge_method"), Scope: v.Get("scope"),
		Locale: v.Get("ui_locales"),
	}
}

//go:embed login.html
var loginHTML string

//go:embed login.css
var loginCSS []byte

var loginPage = template.Must(template.New("login").Parse(loginHTML))

// loginView is the login page's data.
type loginView struct {
	Req      authRequest
	Action   string
	CSS      string
	Username string
	Error    string
	Fatal    string // a request that cannot go back to the client
	Users    []User
	German   bool
}

// authorize serves the login page (GET) and checks the credentials typed into it (POST),
// then sends the browser back to the client with a code.
func (i *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			i.renderLogin(w, r, http.StatusBadRequest, loginView{Fatal: "The form could not be read."})
			return
		}
	}
	req := parseAuthRequest(r.Form)
	if r.Method == http.MethodGet {
		req = parseAuthRequest(r.URL.Query())
	}
	v := loginView{Req: req, German: strings.HasPrefix(req.Locale, "de")}
	i.mu.Lock()
	client, known := i.public[req.ClientID]
	i.mu.Unlock()
	if !known || !slices.Contains(client.RedirectURIs, req.RedirectURI) {
		// Never redirect to a URI the client did not register: say so here.
		v.Fatal = "Unknown client or redirect URI."
		i.renderLogin(w, r, http.StatusBadRequest, v)
		return
	}
	if r.URL.Query().Get("response_type") != "code" && r.Method == http.MethodGet {
		redirectError(w, r, req, "unsupported_response_type", "only the authorization code flow is offered")
		return
	}
	if req.Method != "S256" || len(req.Challenge) < 43 {
		redirectError(w, r, req, "invalid_request", "PKCE with code_challenge_method S256 is required")
		return
	}
	if r.Method == http.MethodGet {
		i.renderLogin(w, r, http.StatusOK, v)
		return
	}
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		v.Fatal = "The form did not come from this page."
		i.renderLogin(w, r, http.StatusForbidden, v)
		return
	}
	v.Username = r.PostForm.Get("username")
	u, ok := checkPassword(v.Username, r.PostForm.Get("password"))
	if !ok {
		v.Error = "Invalid username or password."
		if v.German {
			v.Error = "Benutzername oder Passwort ist falsch."
		}
		i.renderLogin(w, r, http.StatusUnauthorized, v)
		return
	}
	code := rand.Text()
	now := time.Now()
	i.mu.Lock()
	for c, g := range i.codes {
		if now.After(g.expires) {
			delete(i.codes, c)
		}
	}
	i.codes[code] = grant{client: req.ClientID, redirect: req.RedirectURI, challenge: req.Challenge, nonce: req.Nonce,
		user: u, expires: now.Add(codeTTL), sid: rand.Text()}
	i.mu.Unlock()
	q := url.Values{"code": {code}}
	if req.State != "" {
		q.Set("state", req.State)
	}
	http.Redirect(w, r, withQuery(req.RedirectURI, q), http.StatusSeeOther)
}

// checkPassword finds the user whose credentials these are (each development user's password
// is their username). It takes as long for a wrong password as for an unknown user: every
// user is compared, always both fields, as fixed-length hashes (ConstantTimeCompare returns
// at once on a length mismatch), so the answer's timing tells no username.
func checkPassword(name, pass string) (User, bool) {
	n, p := sha256.Sum256([]byte(name)), sha256.Sum256([]byte(pass))
	var found User
	ok := 0
	for _, u := range Users {
		want := sha256.Sum256([]byte(u.Username))
		match := subtle.ConstantTimeCompare(n[:], want[:]) & subtle.ConstantTimeCompare(p[:], want[:])
		if match == 1 {
			found = u
		}
		ok |= match
	}
	return found, ok == 1
}

func withQuery(uri string, q url.Values) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + q.Encode()
}

// redirectError sends an OAuth error back to a registered redirect URI (RFC 6749 §4.1.2.1).
func redirectError(w http.ResponseWriter, r *http.Request, req authRequest, code, desc string) {
	q := url.Values{"error": {code}, "error_description": {desc}}
	if req.State != "" {
		q.Set("state", req.State)
	}
	http.Redirect(w, r, withQuery(req.RedirectURI, q), http.StatusSeeOther)
}

func (i *Issuer) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	v.Action = i.url + "/protocol/openid-connect/auth"
	v.CSS = i.url + "/login.css"
	v.Users = Users
	h := w.Header()
	// The form posts here and then redirects to the client: its origin is a form target too.
	formAction := "'self'"
	if u, err := url.Parse(v.Req.RedirectURI); err == nil && v.Fatal == "" && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action "+formAction+
		"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, v)
}

func (i *Issuer) stylesheet(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(loginCSS)
}

// codeGrant redeems an authorization code: the client and redirect URI it was issued for,
// and the PKCE verifier whose S256 hash is its challenge.
func (i *Issuer) codeGrant(w http.ResponseWriter, r *http.Request) error {
	code := r.PostForm.Get("code")
	i.mu.Lock()
	g, ok := i.codes[code]
	delete(i.codes, code) // good once, whatever happens next
	i.mu.Unlock()
	if !ok || time.Now().After(g.expires) || g.client != r.PostForm.Get("client_id") || g.redirect != r.PostForm.Get("redirect_uri") {
		return oauthError(w, http.StatusBadRequest, "invalid_grant", "Code not valid")
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
		return oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
	}
	return i.browserTokens(w, g.client, g.user, g.nonce, g.sid)
}

// refreshClaims are a refresh token's claims: a JWT signed by the issuer, so that it
// survives a restart of `orange dev` (the key is kept) without any memory here.
type refreshClaims struct {
	Issuer  string `json:"iss"`
	Subject string `json:"sub"`
	Client  string `json:"azp"`
	Type    string `json:"typ"`
	Expires int64  `json:"exp"`
	Session string `json:"sid"`
}

// refreshGrant issues new tokens for a refresh token of the same client.
func (i *Issuer) refreshGrant(w http.ResponseWriter, r *http.Request) error {
	bad := func() error { return oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid refresh token") }
	obj, err := jose.ParseSigned(r.PostForm.Get("refresh_token"), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return bad()
	}
	payload, err := obj.Verify(&i.key.PublicKey)
	if err != nil {
		return bad()
	}
	var c refreshClaims
	if json.Unmarshal(payload, &c) != nil || c.Type != "Refresh" || c.Issuer != i.url ||
		c.Client != r.PostForm.Get("client_id") || time.Now().Unix() >= c.Expires {
		return bad()
	}
	i.mu.Lock()
	ended := i.ended[c.Session]
	i.mu.Unlock()
	if ended {
		return oauthError(w, http.StatusBadRequest, "invalid_grant", "Session not active")
	}
	for _, u := range Users {
		if u.Subject == c.Subject {
			return i.browserTokens(w, c.Client, u, "", c.Session)
		}
	}
	return bad()
}

// browserTokens answers a portal's token request: access token (for the APIs), ID token
// (for the portal, with the login's nonce) and refresh token.
func (i *Issuer) browserTokens(w http.ResponseWriter, client string, u User, nonce, sid string) error {
	claims := i.ClaimsFor(u)
	claims["azp"] = client
	claims["sid"] = sid
	access, err := i.Mint(claims)
	if err != nil {
		return err
	}
	now := time.Now()
	id := Claims{
		"iss": i.url, "sub": u.Subject, "aud": client, "azp": client, "typ": "ID",
		"iat": now.Unix(), "exp": now.Add(i.ttl).Unix(), "auth_time": now.Unix(),
		"preferred_username": u.Username, "name": u.Name, "email": u.Email, "sid": sid,
	}
	if nonce != "" {
		id["nonce"] = nonce
	}
	if u.CustomerID != "" {
		id["customer_id"] = u.CustomerID
	}
	idToken, err := i.Mint(id)
	if err != nil {
		return err
	}
	refresh, err := i.Mint(Claims{"iss": i.url, "sub": u.Subject, "azp": client, "typ": "Refresh", "sid": sid,
		"iat": now.Unix(), "exp": now.Add(refreshTTL).Unix()})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]any{
		"access_token": access, "token_type": "Bearer", "expires_in": int(i.ttl.Seconds()),
		"id_token": idToken, "refresh_token": refresh, "refresh_expires_in": int(refreshTTL.Seconds()),
		"scope": "openid profile email",
	})
}

// endSession is the end-session endpoint: it sends the browser back to a registered
// post-logout URI of the client (named by client_id), else shows that the user is signed out.
func (i *Issuer) endSession(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if sid := i.hintedSession(r.Form.Get("id_token_hint")); sid != "" {
		i.mu.Lock()
		i.ended[sid] = true
		i.mu.Unlock()
	}
	back := r.Form.Get("post_logout_redirect_uri")
	i.mu.Lock()
	client, known := i.public[r.Form.Get("client_id")]
	i.mu.Unlock()
	if back != "" && known && slices.Contains(client.PostLogoutURIs, back) {
		q := url.Values{}
		if s := r.Form.Get("state"); s != "" {
			q.Set("state", s)
			back = withQuery(back, q)
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	v := loginView{Fatal: "You are signed out."}
	if back != "" {
		v.Fatal = "You are signed out. (The return address was not registered for this client.)"
	}
	i.renderLogin(w, r, http.StatusOK, v)
}

// hintedSession is the sid of an ID token this issuer signed ("" for anything else).
func (i *Issuer) hintedSession(hint string) string {
	obj, err := jose.ParseSigned(hint, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return ""
	}
	payload, err := obj.Verify(&i.key.PublicKey)
	if err != nil {
		return ""
	}
	var c struct {
		Issuer  string `json:"iss"`
		Session string `json:"sid"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Issuer != i.url {
		return ""
	}
	return c.Session
}
