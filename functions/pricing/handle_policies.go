package pricing

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
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
	f, err := parsePolicyFilter(r.URL.Query())
	if err != nil {
		return err
	}
	items, total, err := s.store.List(r.Context(), f)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, policyList{Items: items, Page: f.Page, PageSize: f.PageSize, Total: total})
}

// parsePolicyFilter reads the list's query, reporting every bad parameter at once.
func parsePolicyFilter(q url.Values) (PolicyFilter, error) {
	var errs fieldErrors
	known := map[string]bool{"category": true, "location": true, "activeAt": true, "status": true, "page": true, "pageSize": true}
	for key := range q {
		if !known[key] {
			errs.add(key, "unknown parameter; supported: category, location, activeAt, status, page, pageSize")
		}
	}
	f := PolicyFilter{Status: strings.ToLower(strings.TrimSpace(q.Get("status"))), Page: 1, PageSize: 20}
	if raw := q.Get("category"); raw != "" {
		f.Category = errs.category("category", raw)
	}
	if raw := q.Get("location"); raw != "" {
		f.Location = errs.location("location", raw)
	}
	if raw := q.Get("activeAt"); raw != "" {
		if t, ok := parseTime(raw); ok {
			f.ActiveAt = &t
		} else {
			errs.add("activeAt", "an RFC 3339 time")
		}
	}
	switch f.Status {
	case "":
		f.Status = "active"
	case "active", "inactive", "all":
	default:
		errs.add("status", "must be active, inactive or all")
	}
	if raw := q.Get("page"); raw != "" {
		if n, err := strconv.Atoi(raw); err == nil && n >= 1 && n <= 10_000 {
			f.Page = n
		} else {
			errs.add("page", "a page number from 1")
		}
	}
	if raw := q.Get("pageSize"); raw != "" {
		if n, err := strconv.Atoi(raw); err == nil && n >= 1 && n <= 100 {
			f.PageSize = n
		} else {
			errs.add("pageSize", "from 1 to 100")
		}
	}
	if len(errs) > 0 {
		return PolicyFilter{}, platform.Invalid("invalid query", errs...)
	}
	return f, nil
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// pathID returns the policy id in the path, or a not-found error for one that cannot exist.
func pathID(r *http.Request) (string, error) {
	id := strings.ToLower(platform.PathVar(r, "id"))
	if !uuidPattern.MatchString(id) {
		return "", platform.NotFound("no rate policy with id %s", id)
	}
	return id, nil
}

func (s *Service) handleGetPolicy(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
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
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ifVersion, err := parseIfMatch(r)
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
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ifVersion, err := parseIfMatch(r)
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

// parseIfMatch is platform.IfMatch for this package's int versions.
func parseIfMatch(r *http.Request) (int, error) {
	v, err := platform.IfMatch(r)
	return int(v), err
}
