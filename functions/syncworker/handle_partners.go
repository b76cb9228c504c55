package syncworker

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// Partner is an OAuth client with the partner role and the inbound types it may send.
type Partner struct {
	ClientID  string    `json:"clientId"`
	Types     []string  `json:"types"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// clientIDPattern is what a Keycloak client id of ours looks like.
var clientIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

func (s *Service) handleListPartners(w http.ResponseWriter, r *http.Request) error {
	if err := platform.ParseQuery(r).Err("the query is not valid"); err != nil {
		return err
	}
	rows, err := s.db.Pool.Query(r.Context(), `SELECT client_id, types, updated_at FROM sync.partners ORDER BY client_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	out := []Partner{}
	for rows.Next() {
		var p Partner
		if err := rows.Scan(&p.ClientID, &p.Types, &p.UpdatedAt); err != nil {
			return err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, map[string]any{"items": out})
}

// handlePutPartner sets the types a partner may send (creating the partner): the client and
// its partner role live in Keycloak; this is only what it may send.
func (s *Service) handlePutPartner(w http.ResponseWriter, r *http.Request) error {
	client := platform.PathVar(r, "client")
	if !clientIDPattern.MatchString(client) {
		// A create-or-replace: the id is input, not a lookup.
		return platform.Invalid("the partner is not valid", platform.FieldError{Field: "client",
			Reason: "a client id: 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"})
	}
	if err := s.partnerPrecondition(r, client); err != nil {
		return err
	}
	var in struct {
		Types []string `json:"types"`
	}
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	if in.Types == nil {
		return platform.Invalid("the partner is not valid", platform.FieldError{Field: "types", Reason: "is required"})
	}
	var errs platform.FieldErrors
	for i, t := range in.Types {
		if !slices.Contains(inboundTypes(), t) {
			errs.Add(fmt.Sprintf("types[%d]", i), printable(t)+" is not an inbound event type")
		}
	}
	if len(errs) > 0 {
		return platform.Invalid("the partner is not valid", errs...)
	}
	slices.Sort(in.Types)
	in.Types = slices.Compact(in.Types)
	var p Partner
	var created bool
	// xmax is 0 in the row version an INSERT made, the transaction's id after an UPDATE.
	err := s.db.Pool.QueryRow(r.Context(), `INSERT INTO sync.partners AS p (client_id, types) VALUES ($1, $2)
ON CONFLICT (client_id) DO UPDATE SET types = EXCLUDED.types, updated_at = now()
RETURNING client_id, types, updated_at, xmax = 0`,
		client, in.Types).Scan(&p.ClientID, &p.Types, &p.UpdatedAt, &created)
	if err != nil {
		return err
	}
	if created { // RFC 9110 §9.3.4: a PUT that creates answers 201
		w.Header().Set("Location", r.URL.Path)
		return platform.WriteJSON(w, http.StatusCreated, p)
	}
	return platform.WriteJSON(w, http.StatusOK, p)
}

// handleDeletePartner takes every type from a partner: its events are refused from then on.
func (s *Service) handleDeletePartner(w http.ResponseWriter, r *http.Request) error {
	client := platform.PathVar(r, "client")
	if !clientIDPattern.MatchString(client) {
		return platform.NotFound("no partner %s", printable(client)) // nor can there be one
	}
	if err := s.partnerPrecondition(r, client); err != nil {
		var perr *platform.Error
		if errors.As(err, &perr) && perr.Kind == platform.KindPrecondition && !s.partnerExists(r, client) {
			return platform.NotFound("no partner %s", printable(client)) // 404 comes before 412
		}
		return err
	}
	tag, err := s.db.Pool.Exec(r.Context(), `DELETE FROM sync.partners WHERE client_id = $1`, client)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return platform.NotFound("no partner %s", printable(client))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// partnerPrecondition evaluates a request's If-Match on partner client (RFC 9110 §13.1.1).
// A partner carries no ETag (it has no version to compare), so "*" holds when the partner
// exists and any entity tag holds for none: 412 either way it fails. Without If-Match there
// is no condition.
func (s *Service) partnerPrecondition(r *http.Request, client string) error {
	if len(r.Header.Values("If-Match")) == 0 {
		return nil
	}
	v, err := platform.IfMatch(r)
	switch {
	case err != nil:
		return err
	case v != 0:
		return platform.Errorf(platform.KindPrecondition, "partner %s carries no ETag: If-Match names no version of it", client)
	case !s.partnerExists(r, client):
		return platform.Errorf(platform.KindPrecondition, "If-Match: * and there is no partner %s", client)
	}
	return nil
}

// partnerExists tells whether partner client exists (false when the database cannot say:
// the statement that follows fails alike).
func (s *Service) partnerExists(r *http.Request, client string) bool {
	var exists bool
	_ = s.db.Pool.QueryRow(r.Context(), `SELECT EXISTS (SELECT 1 FROM sync.partners WHERE client_id = $1)`, client).Scan(&exists)
	return exists
}
