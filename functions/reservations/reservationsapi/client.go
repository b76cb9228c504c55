// Package reservationsapi is reservations-api's contract with the functions that call it
// (design.md §3): today notification-worker, which asks for a guest booking's manage link
// to mail it. Callers import this package and nothing else of reservations; reservations
// serves these very types, so the two cannot drift, and a test runs the client against the
// real function.
package reservationsapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// Service is reservations-api's Knative Service name, the host its client addresses.
const Service = "reservations-api"

// Prefix is where reservations-api serves its operations.
const Prefix = "/api/reservations"

// GuestLink is a guest booking's manage link as reservations-api makes it: the token that
// signs the booking and its expiry. The caller builds the URL the guest gets; the token
// belongs in a place no server logs (a URL fragment), and never in an event.
type GuestLink struct {
	ReservationID string    `json:"reservationId"`
	Token         string    `json:"token"`
	ExpiresAt     time.Time `json:"expiresAt"`
}

// Client calls reservations-api over the caller's platform client (its own identity).
// An answer other than 2xx is a *platform.CallError; a transport failure is not.
type Client struct {
	http *http.Client
}

// NewClient returns a client over c.
func NewClient(c *http.Client) *Client { return &Client{http: c} }

// GuestLink returns the manage link of guest booking id (GET /api/reservations/{id}/guest-link).
// Callers: notification-worker (and admins). A booking that is not a guest's — or any,
// while reservations-api has no link key — is a 404 *platform.CallError.
func (c *Client) GuestLink(ctx context.Context, id string) (GuestLink, error) {
	var out GuestLink
	err := platform.CallJSON(ctx, c.http, http.MethodGet, Service, Prefix+"/"+url.PathEscape(id)+"/guest-link", nil, &out)
	return out, err
}
