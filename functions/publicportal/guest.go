package publicportal

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// A guest has no session of their own, only what their browser keeps for them, in two
// cookies of this portal sealed like the session (platform/web.SealedCookie: the browser
// can neither read nor change them), each sent only to the pages that read it, gone when the
// browser closes:
//
//   - guestBookings: the booking just made and the email it was made with, which the
//     status page looks the booking up by (reservations' public lookup by id and email);
//   - guestLinks: the reservation and token of the manage link the guest opened (from the
//     mail's URL fragment, which never reaches a server; portal.js posts it once), so the
//     manage pages never carry the token in a URL.
//
// Sealed, because the email is personal and the token manages the booking: a browser's
// cookie store on disk must show neither. The booking's own APIs still check both.
type guestCookies struct {
	bookings, links *web.SealedCookie
}

func newGuestCookies(site *web.Site) (guestCookies, error) {
	bookings, err := site.SealedCookie("guest-booking", "/bookings/")
	if err != nil {
		return guestCookies{}, err
	}
	links, err := site.SealedCookie("guest-link", "/manage-booking")
	return guestCookies{bookings: bookings, links: links}, err
}

// guestHeld is what a guest cookie holds: a reservation and the secret that opens it
// (the booking's email, or the manage link's token).
type guestHeld struct {
	Reservation string `json:"r"`
	Secret      string `json:"s"`
}

// linkTokenChars are a manage link token's characters. The length is checked apart: a
// counted repetition ({10,200}) compiles to 200 copies of the class, 2,600 allocations in
// every start's package init (docs/performance.md, "Start time").
var linkTokenChars = regexp.MustCompile(`^[A-Za-z0-9_.~-]+$`)

// isLinkToken tells the shape of a manage link's token (reservations signs it; it checks it).
func isLinkToken(s string) bool {
	return len(s) >= 10 && len(s) <= 200 && linkTokenChars.MatchString(s)
}

// rememberBooking keeps booking id and its email for the status page.
func (g guestCookies) rememberBooking(w http.ResponseWriter, r *http.Request, id, email string) error {
	return g.bookings.Set(w, r, guestHeld{Reservation: id, Secret: email})
}

// booking is the email the guest booked id with, if this browser made that booking.
func (g guestCookies) booking(r *http.Request, id string) (string, bool) {
	var h guestHeld
	ok := g.bookings.Get(r, &h)
	return h.Secret, ok && h.Reservation == id && h.Secret != ""
}

// rememberLink keeps a manage link's token for reservation id.
func (g guestCookies) rememberLink(w http.ResponseWriter, r *http.Request, id, token string) error {
	return g.links.Set(w, r, guestHeld{Reservation: id, Secret: token})
}

// link is the token of the manage link of reservation id this browser opened.
func (g guestCookies) link(r *http.Request, id string) (string, bool) {
	var h guestHeld
	ok := g.links.Get(r, &h)
	return h.Secret, ok && h.Reservation == id && isLinkToken(h.Secret)
}

// manageReservation is the ?reservation= of a manage page: a UUID, else not found.
func manageReservation(r *http.Request) (string, error) {
	id := strings.ToLower(r.URL.Query().Get("reservation"))
	if id == "" {
		id = strings.ToLower(r.PostFormValue("reservation"))
	}
	if !platform.ValidUUID(id) {
		return "", platform.NotFound("no booking")
	}
	return id, nil
}
