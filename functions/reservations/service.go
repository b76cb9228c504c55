// Package reservations is the booking lifecycle of Orange Car Rental (design.md §4, §5):
// reservations-api under /api/reservations. A booking checks the customer's eligibility with
// customers-api, the car with vehicles-api, and is priced by pricing-api, then holds the
// vehicle as a pending reservation with an expiry; payments authorizes on
// reservation.created and only its payment.authorized confirms the booking (payment.failed
// keeps the hold pending; another card may be named: payment.go). The booking keeps
// pricing's lines (price.go). Agents hand the car over (activate), take it back (complete, a
// late return priced), mark no-shows; customers, agents and guests (with their signed link:
// guestlink.go) change a booking that has not started (change.go) and cancel it (the fee
// per pricing's cancellation rule; manage.go). The rules are in docs/reservations.md. A PingSource's event every minute expires unpaid holds and purges old idempotency
// keys. customer.erased removes what a booking copied of the person (docs/security.md).
// cleanup-worker has due no-shows marked (noshows.go) and long-finished bookings archived
// (archive.go) every night, with its own identity (docs/cleanup.md).
// Guest bookings are anonymous, so they are limited per mailbox and per client address and
// hold the car for less (guests.go; the numbers in docs/security.md).
//
// No vehicle is ever booked twice for overlapping periods: PostgreSQL enforces it with an
// exclusion constraint over (vehicle, period) for the blocking states, whatever writes the
// row; a violation is answered 409. Every transition is a conditional UPDATE guarded by the
// state machine (Machine), so a concurrent change cannot slip past it, and records its
// event in the outbox in the same transaction. Every mutating POST honours Idempotency-Key;
// a booking's key commits with the booking, one commit (idempotency.WrapTx; the reads before
// it run at once: askPeers; docs/performance.md).
//
// Identity (design.md §9): the user's identity is checked where it arrives — here — and the
// calls onward run as the function. Reservations calls customers-api, vehicles-api and
// pricing-api through their contract packages with its own service identity, never the
// booker's token, so they no longer see who books: before any call, reservations itself
// checks that the signed-in booker may book for the customer (a customer for their own
// record only, agents and admins for anyone; anything else is "no such customer"). The
// eligibility rules live in customers-api only: a guest's date of birth and licence go
// there (POST /api/customers/eligibility) before the guest is registered, so a guest the
// rules refuse is refused with customers-api's reasons and never registered.
package reservations

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"time"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
)

// ServiceName is the Knative Service of this function.
const ServiceName = "reservations-api"

// Prefix is where the API is served, alone and in `orange dev`.
const Prefix = "/api/reservations"

//go:embed openapi.json
var openAPIDocument []byte

// Config is the function's configuration.
type Config struct {
	// Hold is how long a pending reservation holds the vehicle before the sweep expires it.
	Hold time.Duration `env:"RESERVATION_HOLD, default=15m"`
	// GuestHold is the hold of a guest booking: anonymous, so shorter (issue 11); at most Hold.
	GuestHold time.Duration `env:"RESERVATION_GUEST_HOLD, default=5m"`
	// GuestHoldsPerEmail bounds the open (unpaid, unexpired) guest holds of one mailbox.
	GuestHoldsPerEmail int `env:"RESERVATION_GUEST_HOLDS_PER_EMAIL, default=2"`
	// GuestHoldsPerAddress bounds the guest bookings from one client address per GuestWindow.
	GuestHoldsPerAddress int `env:"RESERVATION_GUEST_HOLDS_PER_ADDRESS, default=3"`
	// GuestWindow is the window of GuestHoldsPerAddress.
	GuestWindow time.Duration `env:"RESERVATION_GUEST_WINDOW, default=1h"`
	// CallTimeout bounds each call to customers-api, vehicles-api and pricing-api.
	CallTimeout time.Duration `env:"RESERVATION_CALL_TIMEOUT, default=5s"`
	// BranchTTL is how long a branch read from locations-api (status, time zone, opening
	// hours) is used before it is read again (branches.go, docs/counter.md).
	BranchTTL time.Duration `env:"RESERVATION_BRANCH_TTL, default=30s"`
	// LinkKey signs guests' manage-booking links (HMAC-SHA256, at least 32 bytes; a Secret in
	// production, generated at start by `orange dev`). Without it guests get no link.
	LinkKey linkKey `env:"RESERVATION_LINK_KEY"`
	// NoShowGrace is how long after its pickup time a confirmed booking nobody picked up is
	// due for the no-show sweep (noshows.go, docs/cleanup.md).
	NoShowGrace time.Duration `env:"RESERVATION_NO_SHOW_GRACE, default=3h"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Hold < time.Minute || c.Hold > 24*time.Hour {
		return fmt.Errorf("RESERVATION_HOLD must be from 1m to 24h, is %s", c.Hold)
	}
	if c.CallTimeout <= 0 {
		return fmt.Errorf("RESERVATION_CALL_TIMEOUT must be positive, is %s", c.CallTimeout)
	}
	if c.LinkKey != "" && len(c.LinkKey) < MinLinkKeyBytes {
		return fmt.Errorf("RESERVATION_LINK_KEY must be at least %d bytes, is %d", MinLinkKeyBytes, len(c.LinkKey))
	}
	if c.BranchTTL < 0 || c.BranchTTL > 10*time.Minute {
		return fmt.Errorf("RESERVATION_BRANCH_TTL must be from 0 to 10m, is %s", c.BranchTTL)
	}
	if c.NoShowGrace != 0 && (c.NoShowGrace < time.Minute || c.NoShowGrace > 7*24*time.Hour) {
		return fmt.Errorf("RESERVATION_NO_SHOW_GRACE must be from 1m to 168h (0: the default, 3h), is %s", c.NoShowGrace)
	}
	return c.guestLimits(nil).validate(c.Hold)
}

// guestLimits are the guest hold limits of c over db.
func (c *Config) guestLimits(db *database.DB) guestLimits {
	return guestLimits{db: db, perEmail: c.GuestHoldsPerEmail, perAddress: c.GuestHoldsPerAddress,
		window: c.GuestWindow, hold: c.GuestHold}
}

// Service serves the reservations API.
type Service struct {
	db    *database.DB
	store *Store
	peers peers
	keys  *idempotency.Keys
	hold  time.Duration
	// guests limits anonymous holds; guests.hold is a guest booking's hold.
	guests guestLimits
	// linkKey signs guest links ("": none are made or accepted).
	linkKey linkKey
	now     func() time.Time
	// branches are the branches read from locations-api, kept for a while (branches.go).
	branches *branchCache
	// noShowGrace is Config.NoShowGrace.
	noShowGrace time.Duration
}

// New returns the service over deps.DB, calling other functions with deps.Client: the host's
// platform client, which authenticates each call as reservations-api itself. Settings left
// zero take their defaults. It does not fail today; the error is the shape every function's
// New shares.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	db, client := deps.DB, deps.Client
	if cfg.LinkKey == "" && deps.Logger != nil {
		deps.Logger.WarnContext(ctx, "RESERVATION_LINK_KEY is not set: guests get no manage-booking link")
	}
	if cfg.Hold == 0 {
		cfg.Hold = 15 * time.Minute
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 5 * time.Second
	}
	if cfg.GuestHold == 0 {
		cfg.GuestHold = min(5*time.Minute, cfg.Hold)
	}
	if cfg.GuestHoldsPerEmail == 0 {
		cfg.GuestHoldsPerEmail = 2
	}
	if cfg.GuestHoldsPerAddress == 0 {
		cfg.GuestHoldsPerAddress = 3
	}
	if cfg.GuestWindow == 0 {
		cfg.GuestWindow = time.Hour
	}
	if cfg.BranchTTL == 0 {
		cfg.BranchTTL = DefaultBranchTTL
	}
	if cfg.NoShowGrace == 0 {
		cfg.NoShowGrace = DefaultNoShowGrace
	}
	return &Service{
		db: db, store: &Store{db: db}, peers: newPeers(client, cfg.CallTimeout),
		keys: idempotency.New(db, Migrations.Schema), hold: cfg.Hold, guests: cfg.guestLimits(db), linkKey: cfg.LinkKey, now: time.Now,
		branches: newBranchCache(client, cfg.CallTimeout, cfg.BranchTTL), noShowGrace: cfg.NoShowGrace,
	}, nil
}

// Function describes reservations-api to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{Prefix},
		Migrations: &Migrations,
		New:        platform.Construct(New),
	}
}

// Routes is the API's route table: the router, the OpenAPI test and the authorization checks
// all read it. Which customer's booking a customer may touch is checked in the handlers
// (their own only, else 404). /cloudevents admits only the event platform's deliveries from
// reservations' own Triggers and PingSource.
func (s *Service) Routes() []platform.Route {
	var (
		bookers = platform.Allow(platform.RoleCustomer, platform.RoleAgent)
		readers = platform.Allow(platform.RoleCustomer, platform.RoleAgent)
		senders = platform.Deliveries(
			platform.Trigger("reservations-api-payment-authorized"),
			platform.Trigger("reservations-api-payment-failed"),
			platform.PingSource("reservations-sweep"),
			platform.Trigger("reservations-api-customer-erased"),
		)
		agents = platform.Allow(platform.RoleAgent)
		// housekeeping: admins and cleanup-worker's nightly run (noshows.go, archive.go).
		housekeeping = platform.Allow().AndServices(reservationsapi.CleanupService)
		byID         = Prefix + "/{id}"
		idem         = s.keys.Wrap
	)
	return []platform.Route{
		{Name: "getOpenAPI", Method: http.MethodGet, Path: "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "getReservationsOpenAPI", Method: http.MethodGet, Path: Prefix + "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "createReservation", Method: http.MethodPost, Path: Prefix, Access: bookers, Handler: s.keys.WrapTx(s.handleCreate)},
		{Name: "createGuestReservation", Method: http.MethodPost, Path: Prefix + "/guest", Access: platform.Public, Handler: idem(s.handleGuest)},
		{Name: "lookupReservation", Method: http.MethodGet, Path: Prefix + "/lookup", Access: platform.Public, Handler: s.handleLookup},
		{Name: "searchReservations", Method: http.MethodGet, Path: Prefix, Access: readers, Handler: s.handleSearch},
		{Name: "getReservation", Method: http.MethodGet, Path: byID, Access: readers, Handler: s.handleGet},
		{Name: "activateReservation", Method: http.MethodPost, Path: byID + "/activate", Access: agents, Handler: idem(s.handleActivate)},
		{Name: "completeReservation", Method: http.MethodPost, Path: byID + "/complete", Access: agents, Handler: idem(s.handleComplete)},
		{Name: "previewCancellation", Method: http.MethodGet, Path: byID + "/cancellation-fee", Access: bookers, Handler: s.handleCancellationFee(signedInOn)},
		{Name: "cancelReservation", Method: http.MethodPost, Path: byID + "/cancel", Access: bookers, Handler: idem(s.handleCancel)},
		{Name: "namePaymentMethod", Method: http.MethodPost, Path: byID + "/payment-method", Access: bookers, Handler: idem(s.handleNamePaymentMethod(signedInOn))},
		{Name: "changeReservation", Method: http.MethodPost, Path: byID + "/change", Access: bookers, Handler: idem(s.handleChange(signedInOn, false))},
		{Name: "previewChange", Method: http.MethodPost, Path: byID + "/change-preview", Access: bookers, Handler: s.handleChange(signedInOn, true)},
		// A guest manages the booking with the link mailed to them (the token, no account);
		// only notification-worker gets the link, to mail it.
		{Name: "getGuestReservation", Method: http.MethodGet, Path: byID + "/guest", Access: platform.Public, Handler: s.handleGuestGet},
		{Name: "previewGuestCancellation", Method: http.MethodGet, Path: byID + "/guest/cancellation-fee", Access: platform.Public, Handler: s.handleCancellationFee(s.guest)},
		{Name: "cancelGuestReservation", Method: http.MethodPost, Path: byID + "/guest/cancel", Access: platform.Public, Handler: idem(s.handleGuestCancel)},
		{Name: "changeGuestReservation", Method: http.MethodPost, Path: byID + "/guest/change", Access: platform.Public, Handler: idem(s.handleChange(s.guest, false))},
		{Name: "previewGuestChange", Method: http.MethodPost, Path: byID + "/guest/change-preview", Access: platform.Public, Handler: s.handleChange(s.guest, true)},
		{Name: "nameGuestPaymentMethod", Method: http.MethodPost, Path: byID + "/guest/payment-method", Access: platform.Public, Handler: idem(s.handleNamePaymentMethod(s.guest))},
		{Name: "getGuestLink", Method: http.MethodGet, Path: byID + "/guest-link", Access: platform.Allow().AndServices(NotifierService), Handler: s.handleGuestLink},
		{Name: "markReservationNoShow", Method: http.MethodPost, Path: byID + "/no-show", Access: agents, Handler: idem(s.handleNoShow)},
		{Name: "getReservationCounter", Method: http.MethodGet, Path: byID + "/counter", Access: agents, Handler: s.handleGetCounter},
		{Name: "markNoShows", Method: http.MethodPost, Path: Prefix + "/no-shows", Access: housekeeping, Handler: idem(s.handleMarkNoShows)},
		{Name: "archiveReservations", Method: http.MethodPost, Path: Prefix + "/archive", Access: housekeeping, Handler: idem(s.handleArchive)},
		{Name: "receiveEvent", Method: http.MethodPost, Path: events.ReceivePath, Access: senders,
			Handler: events.Receiver(s.db, Migrations.Schema, s.handleEvent)},
	}
}
