package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/orangecarrental/orange/platform"
)

// Request is what a page handler gets besides w and r: who is signed in, the language, and
// the helpers to render, translate and call the APIs.
type Request struct {
	// Session is the signed-in user; nil for a guest.
	Session *Session
	// Lang is "de" or "en".
	Lang string

	site *Site
	r    *http.Request
	st   *state
}

// maxForm bounds a form post: no portal form comes near it.
const maxForm = 64 << 10

// serve is the pipeline of every page: language, session (refreshed when near expiry),
// CSRF on unsafe methods, the page's sign-in and role requirement, then the handler; an
// error becomes the friendly error page.
func (s *Site) serve(pg Page) platform.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if pg.NoReferrer {
			w.Header().Set("Referrer-Policy", "no-referrer")
		}
		p := &Request{site: s, r: r, Lang: s.chooseLanguage(w, r)}
		st, dirty := s.load(r)
		if st.User != nil {
			var err error
			if st, dirty, err = s.oidc.refreshIfDue(r.Context(), st); err != nil {
				return p.Fail(w, err)
			}
		}
		if dirty {
			if err := s.save(w, r, st); err != nil {
				return p.Fail(w, err)
			}
		}
		p.st, p.Session = st, st.User
		if pg.allowed != nil {
			// The fallback changes nothing, so no form token is asked of it: a page's path
			// asked with another method is 405, any other path 404.
			if allow := pg.allowed(r); allow != "" {
				w.Header().Set("Allow", allow)
				return p.Fail(w, platform.Errorf(platform.KindMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
			}
		} else if unsafeMethod(r.Method) {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := s.checkCSRF(r, st); err != nil {
				return p.Fail(w, err)
			}
		}
		// Roles imply a signed-in user: a page that names roles but forgot SignIn must
		// still send a guest to sign in (and never read a nil session's roles).
		if (pg.SignIn || len(pg.Roles) > 0) && p.Session == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, s.oidc.loginURL(r.URL.RequestURI()), http.StatusSeeOther)
				return nil
			}
			return p.Fail(w, platform.Errorf(platform.KindUnauthorized, "sign in first"))
		}
		if len(pg.Roles) > 0 && !p.Session.Has(platform.RoleAdmin) && !intersects(pg.Roles, p.Session.Roles) {
			return p.Fail(w, platform.Errorf(platform.KindForbidden, "your roles do not allow this page"))
		}
		if err := pg.Handler(w, r, p); err != nil {
			return p.Fail(w, err)
		}
		return nil
	}
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// errCSRF is the answer to a form that was not this portal's own.
var errCSRF = &pageError{platform.Errorf(platform.KindForbidden, "the form was not this portal's own"), "error.csrf"}

// crossOrigin refuses what browsers mark as sent from another site (Sec-Fetch-Site, else
// Origin against Host).
var crossOrigin = http.NewCrossOriginProtection()

// checkCSRF admits an unsafe request only from this portal's own pages: the browser says it
// is same-origin (Sec-Fetch-Site, or Origin against Host), and it carries the session's
// token in the form field "csrf" (or the X-CSRF-Token header, for scripts).
func (s *Site) checkCSRF(r *http.Request, st *state) error {
	if err := crossOrigin.Check(r); err != nil {
		return errCSRF
	}
	token := r.Header.Get("X-CSRF-Token")
	if token == "" {
		// A form the portal cannot read is not one it forgot: too large (maxForm) is a 413,
		// not "form expired".
		parse := r.ParseForm
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
			parse = func() error { return r.ParseMultipartForm(maxForm) } // ParseForm leaves its fields out
		}
		if err := parse(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return platform.Errorf(platform.KindTooLarge, "the form exceeds %d bytes", maxForm)
			}
			return platform.Invalid("the form could not be read")
		}
		token = r.PostFormValue("csrf")
	}
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(st.CSRF)) != 1 {
		return errCSRF
	}
	return nil
}

// T returns the text of key in the request's language, formatted with args.
func (p *Request) T(key string, args ...any) string {
	return p.site.messages.text(p.Lang, key, args...)
}

// LineName is a price line, an insurance or an extra in the page's language: the site's
// text "line.<code>" ("%d" in it is the line's quantity, "%s" the function's own English
// words, which an English site keeps), else description (pricing's English). A quote's
// insurance line (INSURANCE_<code>) is the insurance's name.
func (p *Request) LineName(code string, quantity int, description string) string {
	key := "line." + strings.TrimPrefix(code, "INSURANCE_")
	if t, ok := p.site.messages[p.Lang][key]; ok && strings.Contains(t, "%d") {
		return fmt.Sprintf(t, quantity)
	}
	return p.word(key, description)
}

// Has tells whether the site has a text key in the request's language.
func (p *Request) Has(key string) bool {
	_, ok := p.site.messages[p.Lang][key]
	return ok
}

// CSRF is the token a form posts in its hidden field "csrf".
func (p *Request) CSRF() string { return p.st.CSRF }

// CSRFField is the hidden input every form of a page carries.
func (p *Request) CSRFField() template.HTML {
	return template.HTML(`<input type="hidden" name="csrf" value="` + template.HTMLEscapeString(p.st.CSRF) + `">`) //nolint:gosec // escaped
}

// Asset is the URL of a static file by its plain name ("app.css").
func (p *Request) Asset(name string) string { return p.site.Asset(name) }

// Path is the absolute path of rel below the portal's BasePath.
func (p *Request) Path(rel string) string { return p.site.Path(rel) }

// SignedIn reports whether a user is signed in.
func (p *Request) SignedIn() bool { return p.Session != nil }

// URL is the request's path and query, as the page was asked for.
func (p *Request) URL() string { return p.r.URL.RequestURI() }

// onAuthRoute tells whether the request is one of the sign-in routes, which are no place to
// come back to (a callback's code is good once).
func (p *Request) onAuthRoute() bool { return strings.HasPrefix(p.r.URL.Path, p.site.Path("auth/")) }

// LangURL is the current page in another language (its query kept, lang replaced); the home
// page from the sign-in routes. A page answering a posted form (shown again with its
// errors) has no address of its own — a GET of the form's action is a 404 or a 405 — so
// its link goes to the page the form was on (the Referer, when it is one of this site's),
// else home: what was typed is not carried in a URL, where personal data would be logged.
func (p *Request) LangURL(lang string) string {
	if p.onAuthRoute() {
		return p.site.base + "?lang=" + lang
	}
	u := p.r.URL
	if p.r.Method != http.MethodGet && p.r.Method != http.MethodHead {
		ref, err := url.Parse(p.r.Referer())
		// "//host/…" is another site's address however it begins (a Referer the browser
		// did not write, but the link must not go there).
		if err != nil || ref.Path == "" || (ref.Host != "" && ref.Host != p.r.Host) || !strings.HasPrefix(ref.Path, p.site.base) ||
			strings.HasPrefix(ref.Path, "//") ||
			strings.HasPrefix(ref.Path, p.site.Path("auth/")) {
			return p.site.base + "?lang=" + lang
		}
		u = ref
	}
	q := u.Query()
	q.Set("lang", lang)
	return u.Path + "?" + q.Encode()
}

// SignInURL is where the sign-in link goes: the issuer, then back to this page.
func (p *Request) SignInURL() string {
	next := p.r.URL.RequestURI()
	if p.r.Method != http.MethodGet || p.onAuthRoute() {
		next = p.site.base
	}
	return p.site.oidc.loginURL(next)
}

// SignOutPath is where the sign-out form posts.
func (p *Request) SignOutPath() string { return p.site.Path("auth/logout") }

// PortalName is the portal's name in the request's language (message "site.name").
func (p *Request) PortalName() string { return p.T("site.name") }

// Redirect answers 303 See Other to rel below BasePath (after a successful post, so that a
// reload does not post again). rel may carry a query.
func (p *Request) Redirect(w http.ResponseWriter, rel string) error {
	http.Redirect(w, p.r, p.site.Path(rel), http.StatusSeeOther)
	return nil
}

// API returns the client to call the APIs with as this request's user: the user's access
// token on every call to a function of the system (hosts without a dot, as with the
// platform's client), nothing for a guest; always the request id and trace context. Use it
// with the functions' typed clients (reservationsapi.New(p.API(ctx))…).
func (p *Request) API(ctx context.Context) *http.Client {
	var token string
	if p.st != nil && p.st.User != nil {
		token = p.st.Access
	}
	return &http.Client{Transport: bearer{next: p.site.api, token: token}, Timeout: p.site.opts.CallTimeout}
}

type bearer struct {
	next  http.RoundTripper
	token string
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Hostname()
	if b.token == "" || strings.ContainsAny(host, ".:") || req.Header.Get("Authorization") != "" {
		return b.next.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(out)
}

// safeNext returns next when it is a page of this portal, else the portal's home. Refused:
// a scheme, a host, "//" or "/\" (browsers read either as another host), dot segments, also
// percent-encoded (http.Redirect and browsers resolve them: /call-center/../x and
// /call-center/%2e%2e/x both land outside the portal), and any path that is not one of the
// portal's own GET pages (another portal's path, /api/…, the sign-in routes themselves).
func (s *Site) safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, s.base) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return s.base
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, s.base) {
		return s.base
	}
	if strings.Contains(u.Path, "//") || strings.ContainsAny(u.Path, "\\\r\n\t") ||
		slices.ContainsFunc(strings.Split(u.Path, "/"), func(seg string) bool { return seg == "." || seg == ".." }) {
		return s.base
	}
	if pages := s.nextPages.Load(); pages != nil && !pages.Match(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: u.Path}}, &mux.RouteMatch{}) {
		return s.base
	}
	return next
}
