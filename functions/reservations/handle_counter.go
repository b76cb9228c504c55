package reservations

import (
	"net/http"
	"strconv"

	"github.com/orangecarrental/orange/platform"
)

// writeCounterView renders a booking with its counter record and its version as ETag.
func writeCounterView(w http.ResponseWriter, v CounterView) error {
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(v.Version)))
	return platform.WriteJSON(w, http.StatusOK, v)
}

// handleActivate hands the car over (Activate).
func (s *Service) handleActivate(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "reservation")
	if err != nil {
		return err
	}
	var in Handover
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	v, err := s.Activate(r.Context(), platform.CallerFrom(r.Context()), id, in)
	if err != nil {
		return err
	}
	return writeCounterView(w, v)
}

// handleComplete takes the car back (Complete).
func (s *Service) handleComplete(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "reservation")
	if err != nil {
		return err
	}
	var in CarReturn
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	v, err := s.Complete(r.Context(), platform.CallerFrom(r.Context()), id, in)
	if err != nil {
		return err
	}
	return writeCounterView(w, v)
}

// handleNoShow marks a no-show (NoShow); the body is empty or {}.
func (s *Service) handleNoShow(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "reservation")
	if err != nil {
		return err
	}
	var empty struct{}
	if err := decodeOptional(w, r, &empty); err != nil {
		return err
	}
	res, err := s.NoShow(r.Context(), platform.CallerFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return writeReservation(w, http.StatusOK, res)
}

// handleGetCounter answers a booking with what the counter recorded of its car (staff only:
// the damage notes are a staff note).
func (s *Service) handleGetCounter(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "reservation")
	if err != nil {
		return err
	}
	v, err := s.CounterRecord(r.Context(), platform.CallerFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return writeCounterView(w, v)
}
