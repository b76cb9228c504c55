package reservations

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
)

// The guest's manage-booking link (issue 13): a guest has no account, so the booking is
// managed with a link mailed to them — view, see the cancellation fee before cancelling,
// cancel, change, name another card. The link carries a token that signs the reservation id
// and an expiry with HMAC-SHA256 under RESERVATION_LINK_KEY; nothing about it is stored, and
// it never travels in an event: the notifier asks for it (GuestLink, a route only
// notification-worker may call) when it mails the guest's booking. docs/reservations.md
// says why and how long it lasts.

// NotifierService is the one function that may ask for a guest link: it mails it.
const NotifierService = "notification-worker"

// GuestLinkAfterReturn is how long a guest link keeps working after the booking's return
// time: long enough to check the invoice or a refund. The token carries the expiry of the
// return as it was when the link was made; a link past it still works while the booking's
// current return (moved by a change) + GuestLinkAfterReturn has not passed, so a guest who
// moves the booking further out does not lose the link before the rental.
const GuestLinkAfterReturn = 30 * 24 * time.Hour

// MinLinkKeyBytes is the shortest RESERVATION_LINK_KEY taken: an HMAC-SHA256 key should
// have the hash's 256 bits.
const MinLinkKeyBytes = 32

// linkKey is the HMAC key of guest links; it never prints.
type linkKey string

func (k linkKey) String() string {
	if k == "" {
		return ""
	}
	return "xxxxx"
}

// MarshalText keeps the key out of JSON logs.
func (k linkKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// GoString keeps the key out of %#v.
func (k linkKey) GoString() string { return `"` + k.String() + `"` }

// linkVersion prefixes every token, so the format can change without accepting old forms
// by accident.
const linkVersion = "v1"

// linkMAC is the signature of (id, expiry) under key.
func linkMAC(key linkKey, id string, expires int64) []byte {
	m := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(m, "orange-car-rental/reservation-link/%s|%s|%d", linkVersion, strings.ToLower(id), expires)
	return m.Sum(nil)
}

// signLink is the token of reservation id's guest link valid until expires (to the second).
func signLink(key linkKey, id string, expires time.Time) string {
	exp := expires.Unix()
	return linkVersion + "." + strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(linkMAC(key, id, exp))
}

// checkLink reports whether token is a guest link of reservation id signed with key, and
// until when it was issued. Every failure is the same answer: a wrong, forged or malformed
// link are not told apart.
func checkLink(key linkKey, id, token string) (time.Time, bool) {
	if key == "" || len(token) > 200 {
		return time.Time{}, false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != linkVersion {
		return time.Time{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(mac, linkMAC(key, id, exp)) {
		return time.Time{}, false
	}
	return time.Unix(exp, 0), true
}

// GuestLink is what notification-worker gets to mail a guest: the token of the booking's
// manage link and when it expires (the contract's type). The worker builds the URL.
type GuestLink = reservationsapi.GuestLink

// GuestLink makes the manage link of guest booking id. Only a guest's booking has one (an
// account's owner signs in): another is 404, and so is every booking while no
// RESERVATION_LINK_KEY is configured.
func (s *Service) GuestLink(ctx context.Context, id string) (GuestLink, error) {
	if s.linkKey == "" {
		return GuestLink{}, platform.NotFound("guest links are not configured (RESERVATION_LINK_KEY)")
	}
	res, err := s.store.Get(ctx, id)
	if err != nil {
		return GuestLink{}, err
	}
	if !res.Guest {
		return GuestLink{}, platform.NotFound("reservation %s is not a guest booking: its customer signs in", id)
	}
	exp := res.ReturnAt.Add(GuestLinkAfterReturn).Truncate(time.Second)
	return GuestLink{ReservationID: res.ID, Token: signLink(s.linkKey, res.ID, exp), ExpiresAt: exp.UTC()}, nil
}

// guestActor is the actor of a request presenting token for reservation id: the guest of
// that booking, or a 404 (never a hint whether the booking exists).
func (s *Service) guestActor(ctx context.Context, id, token string) (Actor, error) {
	refused := platform.NotFound("no reservation with id %s for this link (it may have expired)", id)
	until, ok := checkLink(s.linkKey, id, token)
	if !ok {
		return Actor{}, refused
	}
	if now := s.now(); !now.Before(until) {
		// Past the return the link was made for: the booking's current return decides.
		res, err := s.store.Get(ctx, id)
		if platform.KindOf(err) == platform.KindNotFound || err == nil && !now.Before(res.ReturnAt.Add(GuestLinkAfterReturn)) {
			return Actor{}, refused
		}
		if err != nil {
			return Actor{}, err
		}
	}
	return Actor{LinkFor: id}, nil
}
