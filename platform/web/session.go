package web

import (
	"crypto/rand"
	"net/http"
	"slices"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// Session is the signed-in user of a request, as the issuer's tokens said at sign-in (and
// at the last refresh).
type Session struct {
	Subject  string `json:"sub"`
	Username string `json:"usr,omitempty"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	// CustomerID is the user's customer record, for customers.
	CustomerID string          `json:"cid,omitempty"`
	Roles      []platform.Role `json:"roles,omitempty"`
	// Expires is when the sign-in ends, however often its tokens are refreshed.
	Expires time.Time `json:"exp"`
}

// Has reports whether the user holds role.
func (s *Session) Has(role platform.Role) bool { return s != nil && slices.Contains(s.Roles, role) }

// Display is how the page names the user: the name, else the username.
func (s *Session) Display() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Username
}

// state is what the session cookie holds. Every visitor has one: a guest's holds only the
// CSRF token; a user's adds who they are and the issuer's tokens.
type state struct {
	CSRF    string   `json:"csrf"`
	User    *Session `json:"user,omitempty"`
	Access  string   `json:"at,omitempty"`
	Refresh string   `json:"rt,omitempty"`
	IDToken string   `json:"it,omitempty"`
	// AccessExpiry is when the access token expires; it is refreshed a minute before.
	AccessExpiry time.Time `json:"atx"`
}

// guestState is a fresh state with a new CSRF token.
func guestState() *state { return &state{CSRF: rand.Text()} }

// jar is the portal's session cookie. Its name and path differ per portal, so in one
// browser each portal has its own, and the public portal's (Path=/) never opens in the
// call center: its key is another.
func (s *Site) jar() cookieJar {
	return cookieJar{name: s.cookieBase() + "-session", path: s.base, hostOnly: s.base == "/"}
}

// loginJar holds a sign-in in progress (state, nonce, PKCE verifier, next), only on the
// sign-in routes.
func (s *Site) loginJar() cookieJar {
	return cookieJar{name: s.cookieBase() + "-login", path: s.Path("auth/"), hostOnly: false}
}

func (s *Site) cookieBase() string { return s.opts.Service }

// load returns the request's session state: the cookie's when it opens, belongs to a user
// this portal admits and has not expired; else a new guest state (dirty: to be set).
func (s *Site) load(r *http.Request) (st *state, dirty bool) {
	raw := s.jar().read(r)
	if raw != "" {
		var got state
		if s.sessions.open(raw, &got) == nil && got.CSRF != "" {
			if got.User == nil {
				return &got, false
			}
			if s.admits(got.User.Roles) && s.now().Before(got.User.Expires) && got.Access != "" {
				return &got, false
			}
			// Expired, or a role this portal no longer admits: a guest. The browser's CSRF
			// token stays, so that a form sent from a page opened before meets "please
			// sign in" (401) rather than "this form was not the portal's own" (403).
			return &state{CSRF: got.CSRF}, true
		}
	}
	return guestState(), true
}

// expiredSessionKept is how long the browser keeps a user's cookie after the sign-in ended:
// the sealed session says it has expired (load), and its CSRF token stays, so a form sent
// from a page opened before meets "please sign in", not "this form was not the portal's own".
// Had the cookie gone with the sign-in, the browser would send none and the form would meet
// a new guest's token: the CSRF refusal. The expired cookie opens nothing.
const expiredSessionKept = 24 * time.Hour

// save sets the session cookie to st. A user's cookie outlives the sign-in by
// expiredSessionKept; a guest's lasts until the browser closes.
func (s *Site) save(w http.ResponseWriter, r *http.Request, st *state) error {
	v, err := s.sessions.seal(st)
	if err != nil {
		return err
	}
	maxAge := 0
	if st.User != nil {
		maxAge = max(1, int((st.User.Expires.Sub(s.now()) + expiredSessionKept).Seconds()))
	}
	return s.jar().write(w, r, v, maxAge)
}
