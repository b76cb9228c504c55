package payments

import (
	"net/http"

	"github.com/orangecarrental/orange/platform"
)

// handleCreateMethod tokenizes a card: the card details go to the provider, the answer is a
// payment method (pm_…) to book with. Open to anyone, a guest before booking included; a
// signed-in customer's method is bound to them at once. The card details are not logged,
// not stored, and no error repeats them.
func (s *Service) handleCreateMethod(w http.ResponseWriter, r *http.Request) error {
	var in MethodInput
	if err := platform.DecodeJSON(w, r, &in, 4<<10); err != nil {
		return err
	}
	card, errs := in.validate(s.now())
	if len(errs) > 0 {
		return platform.Invalid("the card is invalid", errs...)
	}
	customer := ""
	if c := platform.CallerFrom(r.Context()); !c.Staff() {
		customer = c.CustomerID
	}
	m, err := s.store.CreateMethod(r.Context(), card, customer)
	if err != nil {
		return providerError(err)
	}
	return platform.WriteJSON(w, http.StatusCreated, m)
}
