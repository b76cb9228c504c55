package reservations

import (
	"net/http"

	"github.com/orangecarrental/orange/platform"
)

// The renter's self-service routes (issue 13): another payment method after a decline, a
// change of a booking that has not started. Each parses, calls the service, renders.

// actorOn resolves who acts on which booking: signedInOn (the caller on the path's id) or
// the guest link (Service.guest).
type actorOn func(r *http.Request) (Actor, string, error)

func signedInOn(r *http.Request) (Actor, string, error) {
	id, err := platform.PathUUID(r, "reservation")
	return signedIn(r), id, err
}

// handleNamePaymentMethod names another card for the booking who acts on.
func (s *Service) handleNamePaymentMethod(who actorOn) platform.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in PaymentMethodRequest
		if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
			return noCardData(err)
		}
		a, id, err := who(r)
		if err != nil {
			return err
		}
		version, err := platform.IfMatch(r)
		if err != nil {
			return err
		}
		res, err := s.NamePaymentMethod(r.Context(), a, id, in, version)
		if err != nil {
			return err
		}
		return writeReservation(w, http.StatusOK, res)
	}
}

// handleChange changes the booking who acts on — or, with preview, answers it as the change
// would leave it (Service.PreviewChange): read-only, so its route takes no Idempotency-Key
// and it reads no If-Match.
func (s *Service) handleChange(who actorOn, preview bool) platform.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in ChangeRequest
		if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
			return err
		}
		a, id, err := who(r)
		if err != nil {
			return err
		}
		if preview {
			res, err := s.PreviewChange(r.Context(), a, id, in)
			if err != nil {
				return err
			}
			return platform.WriteJSON(w, http.StatusOK, res)
		}
		version, err := platform.IfMatch(r)
		if err != nil {
			return err
		}
		res, err := s.Change(r.Context(), a, id, in, version)
		if err != nil {
			return err
		}
		return writeReservation(w, http.StatusOK, res)
	}
}
