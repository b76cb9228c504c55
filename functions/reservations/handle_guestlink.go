package reservations

import (
	"net/http"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// The guest link's routes (guestlink.go): the token in the query string (?token=…, read
// strictly), the booking id in the path. A request without a valid link for that booking is
// 404. Each parses, calls the service as the guest of that booking, renders.

// guest is the actor and reservation id of a guest-link request.
func (s *Service) guest(r *http.Request) (Actor, string, error) {
	q := platform.ParseQuery(r, "token")
	token := q.Get("token")
	if token == "" {
		q.Fail("token", "required: the token of the link mailed with the booking")
	}
	if err := q.Err("the guest link is incomplete"); err != nil {
		return Actor{}, "", err
	}
	id, err := platform.PathUUID(r, "reservation")
	if err != nil {
		return Actor{}, "", err
	}
	a, err := s.guestActor(r.Context(), id, token)
	return a, id, err
}

func (s *Service) handleGuestGet(w http.ResponseWriter, r *http.Request) error {
	a, id, err := s.guest(r)
	if err != nil {
		return err
	}
	res, err := s.load(r.Context(), a, id)
	if err != nil {
		return err
	}
	return writeReservation(w, http.StatusOK, res)
}

// CancellationPreview is what cancelling a booking now would cost, shown before the guest
// confirms the cancellation.
type CancellationPreview struct {
	ReservationID   string    `json:"reservationId"`
	Status          Status    `json:"status"`
	TotalGrossCents int64     `json:"totalGrossCents"`
	FeeCents        int64     `json:"feeCents"`
	Currency        string    `json:"currency"`
	At              time.Time `json:"at"`
}

// handleCancellationFee previews the cancellation of the booking who acts on (its owner or
// staff signed in, a guest through the link): the fee Cancel would charge now, computed by
// the same code — the portals show this, not a fee of their own making.
func (s *Service) handleCancellationFee(who actorOn) platform.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, id, err := who(r)
		if err != nil {
			return err
		}
		res, fee, err := s.CancellationFee(r.Context(), a, id)
		if err != nil {
			return err
		}
		return platform.WriteJSON(w, http.StatusOK, CancellationPreview{ReservationID: res.ID, Status: res.Status,
			TotalGrossCents: res.TotalGrossCents, FeeCents: fee, Currency: res.Currency, At: s.now().UTC()})
	}
}

func (s *Service) handleGuestCancel(w http.ResponseWriter, r *http.Request) error {
	var in CancelRequest
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	a, id, err := s.guest(r)
	if err != nil {
		return err
	}
	version, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	res, err := s.Cancel(r.Context(), a, id, in.Reason, version)
	if err != nil {
		return err
	}
	return writeReservation(w, http.StatusOK, res)
}

// handleGuestLink answers notification-worker the guest link of a guest booking, to mail it.
func (s *Service) handleGuestLink(w http.ResponseWriter, r *http.Request) error {
	if err := platform.ParseQuery(r).Err("no parameters are taken"); err != nil {
		return err
	}
	id, err := platform.PathUUID(r, "reservation")
	if err != nil {
		return err
	}
	link, err := s.GuestLink(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return platform.WriteJSON(w, http.StatusOK, link)
}
