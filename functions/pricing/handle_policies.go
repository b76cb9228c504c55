package pricing

import (
	"net/http"
	"strings"

	"github.com/orangecarrental/orange/platform"
)

// policyList is one page of rate policies.
type policyList struct {
	Items    []RatePolicy `json:"items"`
	Page     int          `json:"page"`
	PageSize int          `json:"pageSize"`
	Total    int          `json:"total"`
}

func (s *Service) handleListPolicies(w http.ResponseWriter, r *http.Request) error {
	f, err := parsePolicyFilter(r)
	if err != nil {
		return err
	}
	items, total, err := s.store.List(r.Context(), f)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, policyList{Items: items, Page: f.Page, PageSize: f.PageSize, Total: total})
}

// parsePolicyFilter reads the list's query strictly (platform.ParseQuery: an unknown,
// repeated or malformed parameter, a ';' used as a separator included, is named), reporting
// every bad parameter at once.
func parsePolicyFilter(r *http.Request) (PolicyFilter, error) {
	q := platform.ParseQuery(r, "category", "location", "activeAt", "status", "page", "pageSize")
	var errs platform.FieldErrors
	f := PolicyFilter{Status: strings.ToLower(q.Get("status"))}
	if raw := q.Get("category"); raw != "" {
		f.Category = checkCategory(&errs, "category", raw)
	}
	if raw := q.Get("location"); raw != "" {
		f.Location = checkLocation(&errs, "location", raw)
	}
	if t := q.Time("activeAt", false); !t.IsZero() {
		f.ActiveAt = &t
	}
	switch f.Status {
	case "":
		f.Status = "active"
	case "active", "inactive", "all":
	default:
		errs.Add("status", "must be active, inactive or all")
	}
	f.Page = int(q.Int("page", 1, 10_000, 1))
	f.PageSize = int(q.Int("pageSize", 1, platform.PageSizeMax, 20))
	for _, e := range errs {
		q.Fail(e.Field, e.Reason)
	}
	if err := q.Err("invalid query"); err != nil {
		return PolicyFilter{}, err
	}
	return f, nil
}

func (s *Service) handleGetPolicy(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "rate policy")
	if err != nil {
		return err
	}
	p, err := s.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return writePolicy(w, http.StatusOK, p)
}

func (s *Service) handleCreatePolicy(w http.ResponseWriter, r *http.Request) error {
	var in NewRatePolicy
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	d, err := in.validate()
	if err != nil {
		return err
	}
	p, err := s.store.Create(r.Context(), d)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/policies/"+p.ID)
	return writePolicy(w, http.StatusCreated, p)
}

func (s *Service) handleUpdatePolicy(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "rate policy")
	if err != nil {
		return err
	}
	ifVersion, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	var in PolicyTerms
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	t, err := in.validate()
	if err != nil {
		return err
	}
	p, err := s.store.Update(r.Context(), id, t, ifVersion)
	if err != nil {
		return err
	}
	return writePolicy(w, http.StatusOK, p)
}

func (s *Service) handleDeactivatePolicy(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "rate policy")
	if err != nil {
		return err
	}
	ifVersion, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	p, err := s.store.Deactivate(r.Context(), id, ifVersion)
	if err != nil {
		return err
	}
	return writePolicy(w, http.StatusOK, p)
}

// writePolicy renders a policy with its version as a strong ETag, so a client can make its
// next change conditional with If-Match.
func writePolicy(w http.ResponseWriter, status int, p RatePolicy) error {
	return platform.WriteVersioned(w, status, int64(p.Version), p)
}
