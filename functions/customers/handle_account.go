package customers

import (
	"net/http"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

func (s *Service) handleUpdateLicence(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ifVersion, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	var in LicenceInput
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	in.normalize()
	if errs := in.validate("", s.today()); len(errs) > 0 {
		return platform.Invalid("the licence is invalid", errs...)
	}
	c, err := s.store.Update(r.Context(), id, ifVersion, events.CustomerUpdated, func(c *Customer) error { return replaceLicence(c, in.parsed) })
	if err != nil {
		return err
	}
	return writeCustomer(w, r, http.StatusOK, c)
}

// replaceLicence puts l on c's record, once it is known to fit the holder's date of birth.
func replaceLicence(c *Customer, l Licence) error {
	if errs := licenceMatchesBirth("issueDate", &l, c.DateOfBirth); len(errs) > 0 {
		return platform.Invalid("the licence is invalid", errs...)
	}
	c.Licence = &l
	return nil
}

func (s *Service) handleChangeStatus(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ifVersion, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	var in StatusChange
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	in.normalize()
	if errs := in.validate(); len(errs) > 0 {
		return platform.Invalid("the status change is invalid", errs...)
	}
	by := actor(platform.CallerFrom(r.Context()))
	c, err := s.store.Update(r.Context(), id, ifVersion, events.CustomerStatusChanged, func(c *Customer) error {
		c.Status, c.StatusReason, c.statusChangedBy = in.Status, in.Reason, by
		return nil
	})
	if err != nil {
		return err
	}
	return writeCustomer(w, r, http.StatusOK, c)
}

func (s *Service) handleEligibility(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in Period
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	rental, errs := validatePeriod(in, s.zone)
	if len(errs) > 0 {
		return platform.Invalid("the rental period is invalid", errs...)
	}
	c, err := s.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, Assess(c, rental))
}

// handleApplicantEligibility decides for someone not registered yet, by the very rules a
// customer's check applies: a guest booking asks before it registers the guest, so a guest
// the rules refuse is never registered.
func (s *Service) handleApplicantEligibility(w http.ResponseWriter, r *http.Request) error {
	var in Applicant
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	c, rental, errs := validateApplicant(in, s.today(), s.zone)
	if len(errs) > 0 {
		return platform.Invalid("the eligibility check is invalid", errs...)
	}
	return platform.WriteJSON(w, http.StatusOK, Assess(c, rental))
}

func (s *Service) handleErase(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ifVersion, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	c, err := s.store.Erase(r.Context(), id, ifVersion, actor(platform.CallerFrom(r.Context())))
	if err != nil {
		return err
	}
	return writeCustomer(w, r, http.StatusOK, c)
}

// actor names who made a change, for the record: the staff member's user name, or
// "customer" when customers act on their own record (their user name is personal data that
// an erasure must not leave behind).
func actor(c platform.Caller) string {
	if !c.Staff() {
		return "customer"
	}
	if c.Username != "" {
		return c.Username
	}
	return c.Subject
}
