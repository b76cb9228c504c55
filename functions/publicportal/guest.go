package publicportal

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"

	"github.com/orangecarrental/orange/platform"
)

// A guest has no session of their own, only what their browser keeps for them, in two
// cookies of this portal (HttpOnly, SameSite=Lax, Secure over TLS, each on the paths that
// read it, gone when the browser closes):
//
//   - guestBookingCookie: the booking just made and the email it was made with, which the
//     status page looks the booking up by (reservations' public lookup by id and email);
//   - guestLinkCookie: the reservation and token of the manage link the guest opened (from
//     the mail's URL fragment, which never reaches a server; portal.js posts it once), so the
//     manage pages never carry the token in a URL.
//
// Both hold only what the guest already has (their email, the link of their mail): the
// booking's own APIs check them, so a tampered cookie reaches nothing more than a typed URL.
const (
	guestBookingCookie = "portal-guest-booking"
	guestLinkCookie    = "portal-guest-link"
)

// linkTokenPattern is the shape of a manage link's token (reservations signs it; it checks it).
var linkTokenPattern = regexp.MustCompile(`^[A-Za-z0-9_.~-]{10,200}$`)

func setCookie(w http.ResponseWriter, r *http.Request, name, path, value string) {
	secure := r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
	http.SetCookie(w, &http.Cookie{Name: name, Value: base64.RawURLEncoding.EncodeToString([]byte(value)), Path: path,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

func readCookie(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) > 1024 {
		return "", false
	}
	return string(raw), true
}

// rememberGuestBooking keeps booking id and its email for the status page.
func rememberGuestBooking(w http.ResponseWriter, r *http.Request, id, email string) {
	setCookie(w, r, guestBookingCookie, "/bookings/", id+" "+email)
}

// guestBooking is the email the guest booked id with, if this browser made that booking.
func guestBooking(r *http.Request, id string) (string, bool) {
	v, ok := readCookie(r, guestBookingCookie)
	if !ok {
		return "", false
	}
	rid, email, ok := strings.Cut(v, " ")
	return email, ok && rid == id && email != ""
}

// rememberGuestLink keeps a manage link's token for reservation id.
func rememberGuestLink(w http.ResponseWriter, r *http.Request, id, token string) {
	setCookie(w, r, guestLinkCookie, "/manage-booking", id+" "+token)
}

// guestLink is the token of the manage link of reservation id this browser opened.
func guestLink(r *http.Request, id string) (string, bool) {
	v, ok := readCookie(r, guestLinkCookie)
	if !ok {
		return "", false
	}
	rid, token, ok := strings.Cut(v, " ")
	return token, ok && rid == id && linkTokenPattern.MatchString(token)
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
