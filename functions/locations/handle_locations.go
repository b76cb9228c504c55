package locations

import (
	"net/http"
	"strings"

	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
)

// listResponse wraps lists so fields (paging, totals) can be added without breaking clients.
type listResponse struct {
	Items []Location `json:"items"`
	Count int        `json:"count"`
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilter(r)
	if err != nil {
		return err
	}
	items, err := s.store.List(r.Context(), f)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, listResponse{Items: items, Count: len(items)})
}

// parseFilter reads the list's query strictly (platform.ParseQuery): an unknown, repeated or
// malformed parameter (a ';' separator included) is a 400 naming it, with every other
// problem of the query.
func parseFilter(r *http.Request) (Filter, error) {
	q := platform.ParseQuery(r, "status", "city")
	f := Filter{Status: Status(strings.ToLower(q.Get("status"))), City: q.Get("city")}
	if f.Status != "" && !f.Status.valid() {
		q.Fail("status", "must be active, closed or maintenance")
	}
	if err := q.Err("invalid list filter"); err != nil {
		return Filter{}, err
	}
	return f, nil
}

// pathCode returns the code in the path, or a not-found error for one that cannot exist.
func pathCode(r *http.Request) (string, error) {
	code := NormalizeCode(platform.PathVar(r, "code"))
	if !rental.ValidBranchCode(code) {
		return "", platform.NotFound("no location with code %s", code)
	}
	return code, nil
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	code, err := pathCode(r)
	if err != nil {
		return err
	}
	l, err := s.store.Get(r.Context(), code)
	if err != nil {
		return err
	}
	return writeLocation(w, http.StatusOK, l)
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) error {
	var in NewLocation
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	in.Code = NormalizeCode(in.Code)
	in.normalize()
	errs := in.validate()
	if !rental.ValidBranchCode(in.Code) {
		errs = append([]platform.FieldError{{Field: "code", Reason: "must look like BER-HBF: three letters, a dash, two to four letters or digits"}}, errs...)
	}
	if len(errs) > 0 {
		return platform.Invalid("the location is invalid", errs...)
	}
	l, err := s.store.Create(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/"+l.Code)
	return writeLocation(w, http.StatusCreated, l)
}

func (s *Service) handleUpdate(w http.ResponseWriter, r *http.Request) error {
	code, err := pathCode(r)
	if err != nil {
		return err
	}
	ifVersion, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	var in Details
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	in.normalize()
	if errs := in.validate(); len(errs) > 0 {
		return platform.Invalid("the location is invalid", errs...)
	}
	l, err := s.store.Update(r.Context(), code, in, ifVersion)
	if err != nil {
		return err
	}
	return writeLocation(w, http.StatusOK, l)
}

// statusChange is the body of a status change.
type statusChange struct {
	Status Status `json:"status"`
}

func (s *Service) handleChangeStatus(w http.ResponseWriter, r *http.Request) error {
	code, err := pathCode(r)
	if err != nil {
		return err
	}
	ifVersion, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	var in statusChange
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	in.Status = Status(strings.ToLower(strings.TrimSpace(string(in.Status))))
	if !in.Status.valid() {
		return platform.Invalid("invalid status", platform.FieldError{Field: "status", Reason: "must be active, closed or maintenance"})
	}
	l, err := s.store.SetStatus(r.Context(), code, in.Status, ifVersion)
	if err != nil {
		return err
	}
	return writeLocation(w, http.StatusOK, l)
}

// writeLocation renders one branch with its version as a strong ETag, so a client can make
// its next update conditional with If-Match.
func writeLocation(w http.ResponseWriter, status int, l Location) error {
	return platform.WriteVersioned(w, status, int64(l.Version), l)
}
