package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
)

// signIn is the portal's OIDC client: authorization code with PKCE (S256) against the
// issuer's endpoints in Keycloak's shape below its URL (the browser-facing ones below
// IssuerURL, the server's below ServerIssuerURL), so no discovery request is needed.
type signIn struct {
	s      *Site
	oauth  oauth2.Config // RedirectURL is set per request
	ctx    context.Context
	idt    *oidc.IDTokenVerifier
	access *auth.Verifier
	logout string
}

// refreshBefore is how long before its expiry an access token is replaced, so that no API
// call carries a token that expires on the way.
const refreshBefore = time.Minute

// loginTTL bounds a sign-in in progress (the time to type a password).
const loginTTL = 10 * time.Minute

func newSignIn(s *Site) (*signIn, error) {
	cfg := s.opts.Config
	browser := strings.TrimSuffix(cfg.IssuerURL, "/") + "/protocol/openid-connect"
	server := strings.TrimSuffix(cfg.ServerIssuerURL, "/") + "/protocol/openid-connect"
	tokenURL, jwks := server+"/token", server+"/certs"
	// The code and the refresh token never travel in clear text to a host on the network.
	if err := auth.CheckKeyURL(tokenURL, cfg.AllowHTTPHosts); err != nil {
		return nil, fmt.Errorf("portal sign-in: the issuer's token endpoint: %w", err)
	}
	access, err := auth.NewVerifier(auth.Config{
		IssuerURL: cfg.IssuerURL, Audience: cfg.Audience, JWKSURL: jwks, Algorithms: []string{"RS256", "ES256"},
		Skew: 30 * time.Second, KeyRefreshInterval: 10 * time.Second, AllowHTTPHosts: cfg.AllowHTTPHosts,
	}, s.opts.IssuerClient)
	if err != nil {
		return nil, fmt.Errorf("portal sign-in: %w", err)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, s.opts.IssuerClient)
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(ctx, s.opts.IssuerClient), jwks)
	return &signIn{
		s: s,
		oauth: oauth2.Config{
			ClientID: cfg.ClientID,
			Endpoint: oauth2.Endpoint{AuthURL: browser + "/auth", TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
			Scopes:   []string{oidc.ScopeOpenID, "profile", "email"},
		},
		ctx:    ctx,
		idt:    oidc.NewVerifier(cfg.IssuerURL, keys, &oidc.Config{ClientID: cfg.ClientID, SupportedSigningAlgs: []string{"RS256", "ES256"}, Now: s.now}),
		access: access,
		logout: browser + "/logout",
	}, nil
}

func (o *signIn) routes() []platform.Route {
	pages := []Page{
		{Name: "auth.login", Path: "auth/login", Handler: o.handleLogin},
		{Name: "auth.callback", Path: "auth/callback", Handler: o.handleCallback, NoReferrer: true},
		{Name: "auth.logout", Method: http.MethodPost, Path: "auth/logout", Handler: o.handleLogout},
	}
	var out []platform.Route
	for _, pg := range pages {
		method := pg.Method
		if method == "" {
			method = http.MethodGet
		}
		out = append(out, platform.Route{Name: o.s.opts.Service + "." + pg.Name, Method: method, Path: o.s.Path(pg.Path),
			Access: platform.Public, Handler: o.s.serve(pg)})
	}
	return out
}

// loginURL is the portal's sign-in route, coming back to next.
func (o *signIn) loginURL(next string) string {
	return o.s.Path("auth/login") + "?next=" + url.QueryEscape(next)
}

// origin is the portal's origin as the browser sees it.
func (o *signIn) origin(r *http.Request) string {
	if u := o.s.opts.Config.PublicURL; u != "" {
		return strings.TrimSuffix(u, "/")
	}
	scheme := "http"
	if requestTLS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (o *signIn) config(r *http.Request) *oauth2.Config {
	c := o.oauth
	c.RedirectURL = o.origin(r) + o.s.Path("auth/callback")
	return &c
}

// login is a sign-in in progress, kept in the login cookie from the redirect to the issuer
// until the browser comes back. The cookie holds the last maxLogins of them, so that a
// sign-in started in a second tab does not void the first.
type login struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Next     string    `json:"next"`
	Expires  time.Time `json:"exp"`
}

// handleLogin sends the browser to the issuer's sign-in page. next (a path of this portal
// only: anything else is the home page) is where it comes back to.
func (o *signIn) handleLogin(w http.ResponseWriter, r *http.Request, p *Request) error {
	next := o.s.safeNext(r.URL.Query().Get("next"))
	if p.Session != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	l := login{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(), Next: next,
		Expires: o.s.now().Add(loginTTL)}
	pending := append(o.pending(r), l)
	if len(pending) > maxLogins {
		pending = pending[len(pending)-maxLogins:]
	}
	if err := o.savePending(w, r, pending); err != nil {
		return err
	}
	target := o.config(r).AuthCodeURL(l.State, oauth2.S256ChallengeOption(l.Verifier), oidc.Nonce(l.Nonce),
		oauth2.SetAuthURLParam("ui_locales", p.Lang))
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// maxLogins bounds the sign-ins in progress one browser may have (tabs).
const maxLogins = 3

// pending are the request's unexpired sign-ins in progress.
func (o *signIn) pending(r *http.Request) []login {
	var ls []login
	raw := o.s.loginJar().read(r)
	if raw == "" || o.s.logins.open(raw, &ls) != nil {
		return nil
	}
	now := o.s.now()
	return slices.DeleteFunc(ls, func(l login) bool { return !now.Before(l.Expires) })
}

// savePending sets the login cookie to ls, or deletes it when ls is empty.
func (o *signIn) savePending(w http.ResponseWriter, r *http.Request, ls []login) error {
	if len(ls) == 0 {
		o.s.loginJar().clear(w, r)
		return nil
	}
	v, err := o.s.logins.seal(ls)
	if err != nil {
		return err
	}
	return o.s.loginJar().write(w, r, v, int(loginTTL.Seconds()))
}

// errSignIn is a callback that does not belong to a sign-in this browser started (or took
// too long): the user starts again.
var errSignIn = &pageError{platform.Errorf(platform.KindInvalid, "the sign-in could not be completed"), "error.signin"}

// errWrongPortal is a user this portal does not admit (an agent at the public portal, a
// customer at the call center).
var errWrongPortal = &pageError{platform.Errorf(platform.KindForbidden, "this account cannot sign in here"), "error.portal"}

// pageError is an error with a page text of its own.
type pageError struct {
	err *platform.Error
	key string
}

func (e *pageError) Error() string { return e.err.Error() }
func (e *pageError) Unwrap() error { return e.err }

// handleCallback completes a sign-in: the state matches the login cookie's, the code is
// exchanged with the PKCE verifier, the ID token is the issuer's for this client with the
// login's nonce, and the access token is one the APIs accept, for a user this portal admits.
func (o *signIn) handleCallback(w http.ResponseWriter, r *http.Request, p *Request) error {
	q := r.URL.Query()
	pending := o.pending(r)
	i := slices.IndexFunc(pending, func(l login) bool {
		return subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(l.State)) == 1
	})
	if i < 0 {
		return errSignIn
	}
	l := pending[i]
	// The state is good once, whatever happens next.
	if err := o.savePending(w, r, slices.Delete(pending, i, i+1)); err != nil {
		return err
	}
	if e := q.Get("error"); e != "" {
		// The user cancelled at the issuer, or it refused: no session, back where they were.
		platform.LoggerFrom(r.Context()).InfoContext(r.Context(), "sign-in refused by the issuer", slog.String("error", e))
		http.Redirect(w, r, o.s.safeNext(l.Next), http.StatusSeeOther)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), oauth2.HTTPClient, o.s.opts.IssuerClient), 10*time.Second)
	defer cancel()
	tok, err := o.config(r).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(l.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return errSignIn
		}
		return &platform.Error{Kind: platform.KindUnavailable, Message: "the sign-in service did not answer", Err: err}
	}
	st, err := o.sessionFrom(ctx, tok, nil)
	if err != nil {
		return err
	}
	idt, err := o.idt.Verify(ctx, st.IDToken)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(l.Nonce)) != 1 || idt.Subject != st.User.Subject {
		return errSignIn
	}
	var claims struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	_ = idt.Claims(&claims)
	st.User.Name, st.User.Email = claims.Name, claims.Email
	// A new session (and CSRF token) at every sign-in: nothing a guest had carries over.
	st.CSRF = rand.Text()
	st.User.Expires = o.s.now().Add(o.s.opts.Config.SessionTTL)
	if err := o.s.save(w, r, st); err != nil {
		return err
	}
	http.Redirect(w, r, o.s.safeNext(l.Next), http.StatusSeeOther)
	return nil
}

// sessionFrom checks tok's access token as the APIs will and builds the session of its
// user; prev is the session being refreshed (nil at sign-in), whose user must stay the same.
func (o *signIn) sessionFrom(ctx context.Context, tok *oauth2.Token, prev *state) (*state, error) {
	caller, err := o.access.Verify(ctx, tok.AccessToken)
	if err != nil || caller.Service != "" || caller.Sender != "" {
		return nil, errSignIn
	}
	if !o.s.admits(caller.Roles) {
		return nil, errWrongPortal
	}
	st := &state{Access: tok.AccessToken, Refresh: tok.RefreshToken, AccessExpiry: tok.Expiry,
		User: &Session{Subject: caller.Subject, Username: caller.Username, CustomerID: caller.CustomerID, Roles: caller.Roles}}
	if id, ok := tok.Extra("id_token").(string); ok {
		st.IDToken = id
	}
	if prev != nil {
		if prev.User.Subject != caller.Subject {
			return nil, errSignIn
		}
		st.CSRF = prev.CSRF
		st.User.Name, st.User.Email, st.User.Expires = prev.User.Name, prev.User.Email, prev.User.Expires
		if st.Refresh == "" {
			st.Refresh = prev.Refresh
		}
		if st.IDToken == "" {
			st.IDToken = prev.IDToken
		}
	} else if st.IDToken == "" {
		return nil, errSignIn
	}
	if st.AccessExpiry.IsZero() {
		st.AccessExpiry = o.s.now().Add(5 * time.Minute)
	}
	return st, nil
}

// refreshIfDue replaces the access token with the refresh token when it expires within a
// minute. A refresh the issuer refuses (the sign-in ended there) leaves a guest (with the
// browser's CSRF token, as an expired session does: see Site.load); an issuer
// that does not answer is an error only once the token in hand has expired.
func (o *signIn) refreshIfDue(ctx context.Context, st *state) (*state, bool, error) {
	now := o.s.now()
	if now.Before(st.AccessExpiry.Add(-refreshBefore)) {
		return st, false, nil
	}
	if st.Refresh == "" {
		return &state{CSRF: st.CSRF}, true, nil
	}
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, o.s.opts.IssuerClient), 10*time.Second)
	defer cancel()
	tok, err := o.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: st.Refresh, Expiry: now.Add(-time.Hour)}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return &state{CSRF: st.CSRF}, true, nil
		}
		if now.Before(st.AccessExpiry) {
			return st, false, nil
		}
		return nil, false, &platform.Error{Kind: platform.KindUnavailable, Message: "the sign-in service did not answer", Err: err}
	}
	next, err := o.sessionFrom(ctx, tok, st)
	if err != nil {
		return &state{CSRF: st.CSRF}, true, nil
	}
	return next, true, nil
}

// handleLogout ends the session here, then at the issuer: its end-session endpoint, which
// sends the browser back to the portal's home page. The way there is a form the page posts
// (app.js at once, else its button), not a redirect: the ID token that tells the issuer
// which sign-in ends carries the user's name and e-mail address, and a URL would leave it
// in the browser's history and in proxies' logs. (OIDC RP-Initiated Logout: the endpoint
// takes GET and POST; Keycloak and the development issuer both do.)
func (o *signIn) handleLogout(w http.ResponseWriter, r *http.Request, p *Request) error {
	o.s.jar().clear(w, r)
	if p.st == nil || p.st.User == nil {
		http.Redirect(w, r, o.s.base, http.StatusSeeOther)
		return nil
	}
	fields := []hiddenField{
		{"client_id", o.oauth.ClientID},
		{"post_logout_redirect_uri", o.origin(r) + o.s.base},
	}
	if p.st.IDToken != "" {
		fields = append(fields, hiddenField{"id_token_hint", p.st.IDToken})
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	// The page is a guest's: the layout offers signing in, no more signing out.
	p.st, p.Session = &state{CSRF: p.st.CSRF}, nil
	return p.execute(w, o.s.signoutPage, http.StatusOK, View{Request: p, Data: signoutView{Action: o.logout, Fields: fields}})
}

// signoutView is the sign-out page's data: the form to the issuer's end-session endpoint.
type signoutView struct {
	Action string
	Fields []hiddenField
}

// hiddenField is one hidden input of a form.
type hiddenField struct{ Name, Value string }
