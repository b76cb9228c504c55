package deadletter

import (
	"net/http"
	"slices"

	"github.com/orangecarrental/orange/platform"
)

// filterParams are the query parameters that select letters, for a list and a replay.
var filterParams = []string{"type", "trigger", "status", "source", "from", "to"}

var statuses = []string{StatusStored, StatusReplayed, StatusDiscarded}

// parseFilter reads the filter parameters of q (received from/to: RFC 3339, from ≤ to).
func parseFilter(q *platform.Query) Filter {
	f := Filter{Type: q.Get("type"), Trigger: q.Get("trigger"), Status: q.Get("status"), Source: q.Get("source"),
		From: q.Time("from", false), To: q.Time("to", false)}
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		q.Fail("status", "one of stored, replayed, discarded")
	}
	if f.Trigger != "" && !slices.Contains(triggers, f.Trigger) {
		q.Fail("trigger", "not a Trigger that dead-letters here")
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		q.Fail("to", "before from")
	}
	return f
}

// handleList lists letters, newest first, paged.
func (s *Service) handleList(w http.ResponseWriter, r *http.Request) error {
	q := platform.ParseQuery(r, append(slices.Clone(filterParams), "page", "pageSize")...)
	f := parseFilter(q)
	f.Page, f.PageSize = q.Paging()
	if err := q.Err("invalid query"); err != nil {
		return err
	}
	letters, total, err := s.store.List(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]letterView, len(letters))
	for i, l := range letters {
		items[i] = summary(l)
	}
	return platform.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "page": f.Page, "pageSize": f.PageSize, "total": total})
}

// handleGet shows one letter, redacted.
func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "dead letter")
	if err != nil {
		return err
	}
	l, err := s.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, detail(l))
}

// handleReplay sends one letter's event back to the Broker.
func (s *Service) handleReplay(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "dead letter")
	if err != nil {
		return err
	}
	l, err := s.store.Replay(r.Context(), id, actor(r))
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, detail(l))
}

// handleReplayMatching replays the letters the query's filters select (the stored ones
// unless status says replayed), at most limit (≤ DEAD_LETTER_REPLAY_MAX) per request, and
// says how many it replayed and whether more match.
func (s *Service) handleReplayMatching(w http.ResponseWriter, r *http.Request) error {
	q := platform.ParseQuery(r, append(slices.Clone(filterParams), "limit")...)
	f := parseFilter(q)
	limit := q.Int("limit", 1, int64(s.cfg.ReplayMax), int64(s.cfg.ReplayMax))
	if f.Status == StatusDiscarded {
		q.Fail("status", "discarded letters are not replayed")
	}
	if err := q.Err("invalid query"); err != nil {
		return err
	}
	n, more, err := s.store.ReplayMatching(r.Context(), f, int(limit), actor(r))
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, map[string]any{"replayed": n, "more": more, "limit": limit})
}

// handleDiscard marks a letter discarded (repeating it changes nothing).
func (s *Service) handleDiscard(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "dead letter")
	if err != nil {
		return err
	}
	l, err := s.store.Discard(r.Context(), id, actor(r))
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, detail(l))
}

// actor is who to record for an admin's action: the username, else the token's subject.
func actor(r *http.Request) string {
	c := platform.CallerFrom(r.Context())
	if c.Username != "" {
		return c.Username
	}
	return c.Subject
}
