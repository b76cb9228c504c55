// Package reservationsapi is reservations-api's contract with the functions that call it
// (design.md §3): notification-worker, which asks for a guest booking's manage link to mail
// it, and cleanup-worker, which has due no-shows marked and finished bookings archived.
// Callers import this package and nothing else of reservations; reservations serves these
// very types, so the two cannot drift, and a test runs the client against the real function.
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

// CleanupService is the function that calls the housekeeping operations below with its own
// identity (besides admins).
const CleanupService = "cleanup-worker"

// MaxBatch bounds the batch of one housekeeping call; DefaultBatch is what an empty body
// asks for.
const (
	MaxBatch     = 1000
	DefaultBatch = 100
)

// MinArchiveAge is how long a booking stays live at least after it finished, whatever an
// archive request asks (reservations refuses a later FinishedBefore, cleanup-worker a shorter
// CLEANUP_ARCHIVE_AFTER): late return charges, a second charge, a dispute at the counter
// happen within days of the end.
const MinArchiveAge = 7 * 24 * time.Hour

// NoShowsRequest is the body of POST /api/reservations/no-shows; an empty body is
// DefaultBatch.
type NoShowsRequest struct {
	// Limit bounds how many due bookings this call looks at (1 to MaxBatch).
	Limit int `json:"limit,omitempty"`
}

// NoShows is what one no-show sweep did: of the Due confirmed bookings it looked at (pickup
// time plus reservations' grace passed), Marked became no_show; the rest changed meanwhile
// (another sweep or an agent was first). More: the batch was full, call again.
type NoShows struct {
	Due    int  `json:"due"`
	Marked int  `json:"marked"`
	More   bool `json:"more"`
	// Grace is reservations' RESERVATION_NO_SHOW_GRACE, as a Go duration ("3h0m0s").
	Grace string `json:"grace"`
}

// ArchiveRequest is the body of POST /api/reservations/archive.
type ArchiveRequest struct {
	// FinishedBefore: bookings completed, cancelled, expired or marked no-show strictly
	// before this instant move to the archive (required; at least reservations'
	// MinArchiveAge ago).
	FinishedBefore time.Time `json:"finishedBefore"`
	// Limit bounds the batch (1 to MaxBatch; 0: DefaultBatch).
	Limit int `json:"limit,omitempty"`
}

// Archived is what one archive call moved. More: the batch was full, call again.
type Archived struct {
	Archived int  `json:"archived"`
	More     bool `json:"more"`
}

// MarkNoShows marks a batch of due bookings as no-shows (POST /api/reservations/no-shows):
// the same transition, event and fee as an agent's no-show. Callers: cleanup-worker, admins.
func (c *Client) MarkNoShows(ctx context.Context, in NoShowsRequest) (NoShows, error) {
	var out NoShows
	err := platform.CallJSON(ctx, c.http, http.MethodPost, Service, Prefix+"/no-shows", in, &out)
	return out, err
}

// Archive moves a batch of long-finished bookings into the archive (POST
// /api/reservations/archive); they stay readable by id. Callers: cleanup-worker, admins.
func (c *Client) Archive(ctx context.Context, in ArchiveRequest) (Archived, error) {
	var out Archived
	err := platform.CallJSON(ctx, c.http, http.MethodPost, Service, Prefix+"/archive", in, &out)
	return out, err
}
