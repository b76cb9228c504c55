package gateway

import (
	"net/http"
	"strings"

	"github.com/orangecarrental/orange/platform"
)

const (
	corsMethods = "GET, POST, PUT, PATCH, DELETE"
	corsHeaders = "Authorization, Content-Type, Idempotency-Key, If-Match, X-Request-Id, Traceparent, Tracestate"
	corsExpose  = "ETag, Location, Retry-After, X-Request-Id"
)

// cors answers preflights and marks responses readable by the allowed origins (the
// portals). Tokens travel in the Authorization header, never in cookies, so credentials mode
// is not needed.
func (g *Gateway) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		origin := strings.TrimSuffix(r.Header.Get("Origin"), "/")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if origin == "" || !g.origins[origin] {
			if preflight {
				platform.WriteError(w, r, platform.Errorf(platform.KindForbidden, "origin %q may not call this API", origin))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", corsExpose)
		if preflight {
			w.Header().Set("Access-Control-Allow-Methods", corsMethods)
			w.Header().Set("Access-Control-Allow-Headers", corsHeaders)
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
