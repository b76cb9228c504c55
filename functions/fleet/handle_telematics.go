package fleet

import (
	"net/http"

	"github.com/orangecarrental/orange/platform"
)

func (s *Service) handleTelematics(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "vehicle")
	if err != nil {
		return err
	}
	t, err := s.store.Telematics(r.Context(), id)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, t)
}
