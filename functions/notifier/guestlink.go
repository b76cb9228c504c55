package notifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
)

// A guest has no account: their booking's confirmation carries the link to manage it (view,
// cancel with the fee shown first, change, another card). The link never travels in an
// event: on a guest's reservation.confirmed (Guest) the worker asks reservations-api for it
// with its own identity (GET /api/reservations/{id}/guest-link, granted to
// notification-worker only) and puts it in the mail as
// <MAIL_LINK_BASE>/manage-booking?reservation=<id>#token=<token> — the token in the fragment,
// which no server's access log sees; the page sends it to the API.

// guestLinks reaches reservations-api (nil: no links, e.g. a worker built without a client).
type guestLinks interface {
	GuestLink(ctx context.Context, id string) (reservationsapi.GuestLink, error)
}

// SetGuestLinks makes s ask links for guests' mails (Function wires reservations-api's client).
func (s *Service) SetGuestLinks(c *reservationsapi.Client) { s.links = c }

// SetBranches makes s read branches' time zones through c (a host sets it from its client).
func (s *Service) SetBranches(c *locationsapi.Client) {
	s.branches = locationsapi.NewCache(c, branchTimeout, branchTTL)
}

// manageLink is the mailed manage link of guest booking id; "" when reservations-api has
// none for it (404: not a guest booking, or links are not configured). Any other failure is
// an error, so the delivery is retried: the mail waits for its link.
func (s *Service) manageLink(ctx context.Context, id string) (string, error) {
	if s.links == nil {
		return "", nil
	}
	l, err := s.links.GuestLink(ctx, id)
	if err != nil {
		var ce *platform.CallError
		if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
			return "", nil
		}
		return "", fmt.Errorf("guest link of reservation %s: %w", id, err)
	}
	if l.Token == "" || strings.ContainsAny(l.Token, " \r\n#") {
		return "", fmt.Errorf("guest link of reservation %s: unusable token", id)
	}
	return strings.TrimRight(s.cfg.LinkBase, "/") + "/manage-booking?reservation=" + url.QueryEscape(id) + "#token=" + url.QueryEscape(l.Token), nil
}

// guestHeld applies reservation.created: a guest's booking gets the "booking held" mail with
// its manage link — the guest's way to name another card if the first is declined, before
// the hold runs out; any other booking's creation mails nothing (its mail is the
// confirmation), and neither does a guest booking reservations-api has no link for.
func (s *Service) guestHeld(ctx context.Context, tx pgx.Tx, e cloudevents.Event, r events.Reservation) error {
	if !r.Guest {
		return nil
	}
	if err := requireUUID("customerId", r.CustomerID); err != nil {
		return err
	}
	if err := requireUUID("reservationId", r.ReservationID); err != nil {
		return err
	}
	link, err := s.manageLink(ctx, r.ReservationID)
	if err != nil || link == "" {
		return err
	}
	pickupZone, returnZone, err := s.branchZones(ctx, r.PickupLocation, r.ReturnLocation)
	if err != nil {
		return err
	}
	return s.notify(ctx, tx, e, events.ReservationCreated, r.CustomerID, func(lang string) mailData {
		return mailData{ReservationID: r.ReservationID, Reference: reference(r.ReservationID),
			Category: r.Category, PickupLocation: r.PickupLocation, ReturnLocation: r.ReturnLocation,
			PickupAt: when(r.PickupAt, pickupZone, lang), ReturnAt: when(r.ReturnAt, returnZone, lang),
			Total: money(r.TotalGross, r.Currency, lang), ManageLink: link}
	})
}
