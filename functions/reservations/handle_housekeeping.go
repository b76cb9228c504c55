package reservations

import (
	"net/http"

	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
)

// handleMarkNoShows runs one no-show sweep batch (MarkNoShows); the body is empty or
// {"limit": n}.
func (s *Service) handleMarkNoShows(w http.ResponseWriter, r *http.Request) error {
	var in reservationsapi.NoShowsRequest
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	out, err := s.MarkNoShows(r.Context(), in)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, out)
}

// handleArchive moves one batch of finished bookings into the archive (Archive).
func (s *Service) handleArchive(w http.ResponseWriter, r *http.Request) error {
	var in reservationsapi.ArchiveRequest
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	out, err := s.Archive(r.Context(), in)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, out)
}
