package web

import (
	"net/http"
	"net/url"
)

// Wrap sets the security headers on every answer of the portal — pages, assets, error pages
// and the platform's own 401s alike — before next runs. No page has inline script or style,
// so the policy allows neither; forms may post to the portal and to the issuer (the sign-out
// form's redirect continues there).
func (s *Site) Wrap(next http.Handler) http.Handler {
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"form-action 'self'" + s.issuerOrigin() + "; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), usb=(), payment=()")
		if requestTLS(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// issuerOrigin is " <origin>" of the browser-facing issuer ("" for a malformed URL). It is
// listed even when it is the portal's own origin (`orange dev`): harmless, and the portal
// does not know its origin before a request.
func (s *Site) issuerOrigin() string {
	u, err := url.Parse(s.opts.Config.IssuerURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return " " + u.Scheme + "://" + u.Host
}
