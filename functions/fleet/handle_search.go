package fleet

import (
	"net/http"

	"github.com/orangecarrental/orange/platform"
)

// retryAfterSeconds is what a search that could not get prices asks the client to wait.
const retryAfterSeconds = "5"

func (s *Service) handleSearch(w http.ResponseWriter, r *http.Request) error {
	q, err := parseSearch(r, s.now())
	if err != nil {
		return err
	}
	res, err := s.search(r.Context(), q)
	if err != nil {
		if platform.KindOf(err) == platform.KindUnavailable {
			w.Header().Set("Retry-After", retryAfterSeconds)
		}
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, res)
}
