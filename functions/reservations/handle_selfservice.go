package reservations

import (
	"net/http"

	"github.com/orangecarrental/orange/platform"
)

// The renter's self-service routes (issue 13): another payment method after a decline, a
// change of a booking that has not started. Each parses, calls the service, renders.

func (s *Service) handleNamePaymentMethod(w http.ResponseWriter, r *http.Request) error {
	var in PaymentMethodRequest
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return noCardData(err)
	}
	id, err := platform.PathUUID(r, "reservation")
	if err != nil {
		return err
	}
	version, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	res, err := s.NamePaymentMethod(r.Context(), signedIn(r), id, in, version)
	if err != nil {
		return err
	}
	return writeReservation(w, http.StatusOK, res)
}

func (s *Service) handleChange(w http.ResponseWriter, r *http.Request) error {
	var in ChangeRequest
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	id, err := platform.PathUUID(r, "reservation")
	if err != nil {
		return err
	}
	version, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	res, err := s.Change(r.Context(), signedIn(r), id, in, version)
	if err != nil {
		return err
	}
	return writeReservation(w, http.StatusOK, res)
}
