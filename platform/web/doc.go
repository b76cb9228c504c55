// Package web is what the two portals (public-portal, call-center-portal) share: server-side
// pages rendered with html/template in a common layout, German and English messages, sign-in
// with OIDC (authorization code + PKCE) into sessions kept in encrypted cookies, CSRF
// protection, security headers, cache-busted embedded assets, friendly error pages, and an
// HTTP client that calls the APIs as the signed-in user. The portals own no data.
//
// A portal builds one Site with New and serves Site.Routes (or Site.API) as its function's
// route table. The decisions — cookie names and keys, CSRF, headers, sign-in, mounting — are
// written down once, in docs/portals.md.
package web
