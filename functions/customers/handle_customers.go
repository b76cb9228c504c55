package customers

import (
	"net/http"
	"strings"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// page is one page of a search.
type page struct {
	Items    []Customer `json:"items"`
	Page     int        `json:"page"`
	PageSize int        `json:"pageSize"`
	Total    int        `json:"total"`
}

// handleRegister registers an account: public (self-registration), and agents register on a
// customer's behalf. The welcome mail carries the link that verifies the address.
func (s *Service) handleRegister(w http.ResponseWriter, r *http.Request) error {
	return s.register(w, r, KindAccount)
}

func (s *Service) register(w http.ResponseWriter, r *http.Request, kind Kind) error {
	var in Registration
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	profile, licence := splitRegistration(in)
	if errs := validateRegistration(&profile, licence, s.today()); len(errs) > 0 {
		return platform.Invalid("the registration is invalid", errs...)
	}
	c, err := s.store.Create(r.Context(), newCustomer(kind, profile, licence))
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/"+c.ID)
	return writeCustomer(w, r, http.StatusCreated, c)
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c, err := s.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return writeCustomer(w, r, http.StatusOK, c)
}

func (s *Service) handleSearch(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilter(r)
	if err != nil {
		return err
	}
	items, total, err := s.store.Search(r.Context(), f)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, page{Items: items, Page: f.Page, PageSize: f.PageSize, Total: total})
}

// The paging rules every list of the system follows (docs/adding-a-function.md).
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

var searchParams = map[string]bool{"name": true, "email": true, "status": true, "page": true, "pageSize": true}

// parseFilter reads a search's query strictly (platform.ParseQuery: an unknown, repeated or
// malformed parameter, a ';' used as a separator included, is named, never dropped), listing
// every bad parameter.
func parseFilter(r *http.Request) (Filter, error) {
	q := platform.ParseQuery(r, "name", "email", "status", "page", "pageSize")
	f := Filter{
		NameTerms: strings.Fields(strings.ToLower(q.Get("name"))),
		Email:     q.Get("email"),
		Status:    Status(strings.ToLower(q.Get("status"))),
	}
	if len(f.NameTerms) > 5 || len(q.Get("name")) > 200 {
		q.Fail("name", "at most 5 words and 200 characters")
	}
	if f.Status != "" && !f.Status.valid() {
		q.Fail("status", "must be active, suspended, blocked or erased")
	}
	f.Page = int(q.Int("page", 1, 10000, 1))
	f.PageSize = int(q.Int("pageSize", 1, maxPageSize, defaultPageSize))
	if err := q.Err("invalid search"); err != nil {
		return Filter{}, err
	}
	return f, nil
}

func (s *Service) handleUpdateProfile(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ifVersion, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	var in Profile
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	in.normalize()
	if errs := in.validate(s.today()); len(errs) > 0 {
		return platform.Invalid("the profile is invalid", errs...)
	}
	staff := platform.CallerFrom(r.Context()).Staff()
	c, err := s.store.Update(r.Context(), id, ifVersion, events.CustomerUpdated, func(c *Customer) error { return updateProfile(c, in, staff) })
	if err != nil {
		return err
	}
	return writeCustomer(w, r, http.StatusOK, c)
}

// updateProfile replaces c's profile with p. Only staff may change a date of birth: it
// decides the age rule, so an agent corrects it after seeing an ID.
func updateProfile(c *Customer, p Profile, staff bool) error {
	if !staff && p.parsed.dateOfBirth != c.DateOfBirth {
		return platform.Errorf(platform.KindForbidden, "a date of birth can only be corrected by an agent; please call us")
	}
	p.apply(c)
	if errs := licenceMatchesBirth("dateOfBirth", c.Licence, c.DateOfBirth); len(errs) > 0 {
		return platform.Invalid("the date of birth does not fit the licence on file", errs...)
	}
	return nil
}

// pathID returns the customer id in the path when the caller may see that customer. Anything
// else — an id that cannot exist, another customer's record — is the same 404 as a missing
// customer, so a customer cannot learn that someone else's record exists.
func pathID(r *http.Request) (string, error) {
	id, err := platform.PathUUID(r, "customer")
	if err != nil {
		return "", err
	}
	if !platform.CallerFrom(r.Context()).MaySee(id) {
		return "", notFound(id)
	}
	return id, nil
}

// writeCustomer renders one customer with its version as a strong ETag, so a client can make
// its next change conditional with If-Match. The reason of a status change is an internal
// note: only staff see it.
func writeCustomer(w http.ResponseWriter, r *http.Request, status int, c Customer) error {
	if !platform.CallerFrom(r.Context()).Staff() {
		c.StatusReason = ""
	}
	return platform.WriteVersioned(w, status, int64(c.Version), c)
}
