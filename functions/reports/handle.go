package reports

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// Formats of GET /api/reports.
const (
	FormatJSON = "json"
	FormatCSV  = "csv"
	FormatSVG  = "svg"
)

// code is what a branch code or a category looks like (as locations and fleet have them).
var code = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// handleReport computes a report for any period: parse → compute → render.
func (s *Service) handleReport(w http.ResponseWriter, r *http.Request) error {
	req, format, err := s.parseReport(r)
	if err != nil {
		return err
	}
	rep, err := s.Compute(r.Context(), s.db.Pool, req)
	if err != nil {
		return err
	}
	w.Header().Add("Vary", "Accept") // the format may follow it: a cache must key on it
	switch format {
	case FormatCSV:
		return writeCSV(w, rep)
	case FormatSVG:
		daily := req
		daily.Granularity = Daily
		if req.Granularity != Daily {
			if rep, err = s.Compute(r.Context(), s.db.Pool, daily); err != nil {
				return err
			}
		}
		return writeSVG(w, rep)
	}
	return platform.WriteJSON(w, http.StatusOK, rep)
}

// parseReport reads from, to (yyyy-mm-dd, or yyyy-mm for a whole month), granularity,
// branch, category and format (or the Accept header); every bad key is named.
func (s *Service) parseReport(r *http.Request) (Request, string, error) {
	q := platform.ParseQuery(r, "from", "to", "granularity", "branch", "category", "format")
	req := Request{Granularity: q.Get("granularity"), Branch: q.Get("branch"), Category: q.Get("category")}
	var fromOK, toOK bool
	req.From, fromOK = s.parseDay(q, "from", false)
	req.To, toOK = s.parseDay(q, "to", true)
	switch req.Granularity {
	case "":
		req.Granularity = Daily
	case Daily, Monthly:
	default:
		q.Fail("granularity", "must be day or month")
	}
	if fromOK && toOK {
		switch {
		case req.To.Before(req.From):
			q.Fail("to", "must not be before from")
		case !req.To.Before(req.From.AddDate(0, 0, s.cfg.MaxDays)): // both days count
			q.Fail("to", "the period is longer than the bound of "+strconv.Itoa(s.cfg.MaxDays)+" days")
		}
	}
	for _, k := range []string{"branch", "category"} {
		if v := q.Get(k); q.Has(k) && !code.MatchString(v) {
			q.Fail(k, "must be a code of 1 to 40 letters, digits, '-' or '_'")
		}
	}
	format := q.Get("format")
	switch format {
	case "":
		format = negotiate(r.Header.Get("Accept"))
	case FormatJSON, FormatCSV, FormatSVG:
	default:
		q.Fail("format", "must be json, csv or svg")
	}
	return req, format, q.Err("invalid report query")
}

// parseDay reads a day (yyyy-mm-dd) or a month (yyyy-mm: its first day, or its last when
// end is set), required.
func (s *Service) parseDay(q *platform.Query, key string, end bool) (time.Time, bool) {
	raw := q.Get(key)
	if raw == "" {
		q.Fail(key, "required: a day (2026-11-01) or a month (2026-11)")
		return time.Time{}, false
	}
	if t, err := time.ParseInLocation(dateLayout, raw, s.zone); err == nil {
		return t, true
	}
	if t, err := time.ParseInLocation("2006-01", raw, s.zone); err == nil {
		if end {
			t = t.AddDate(0, 1, -1)
		}
		return t, true
	}
	q.Fail(key, "must be a day (2026-11-01) or a month (2026-11)")
	return time.Time{}, false
}

// negotiate picks the format an Accept header asks for (RFC 9110 §12.5.1): of JSON, CSV and
// SVG the one with the highest quality — each format's quality is that of the most specific
// range naming it (text/* names CSV, image/* SVG, application/* JSON; */* names all three,
// JSON first) — the earlier range on a tie. q=0 refuses. Nothing acceptable, or no header:
// JSON (RFC 9110 lets a server disregard an Accept it cannot meet rather than answer 406).
func negotiate(accept string) string {
	type match struct {
		q        float64
		specific int // 3 type/subtype, 2 type/*, 1 */*
		at       int // the range's position
	}
	offered := []struct{ format, typ, sub string }{
		{FormatJSON, "application", "json"}, {FormatCSV, "text", "csv"}, {FormatSVG, "image", "svg+xml"},
	}
	matches := map[string]match{}
	for i, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		typ, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(fields[0])), "/")
		if !ok {
			continue
		}
		q := 1.0
		for _, param := range fields[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(param), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
		}
		for _, o := range offered {
			specific := 0
			switch {
			case typ == o.typ && sub == o.sub:
				specific = 3
			case typ == o.typ && sub == "*":
				specific = 2
			case typ == "*" && sub == "*":
				specific = 1
			}
			if m, seen := matches[o.format]; specific > 0 && (!seen || specific > m.specific) {
				matches[o.format] = match{q: q, specific: specific, at: i}
			}
		}
	}
	best, chosen := FormatJSON, match{}
	for _, o := range offered {
		m, ok := matches[o.format]
		if ok && m.q > 0 && (m.q > chosen.q || m.q == chosen.q && m.at < chosen.at) {
			best, chosen = o.format, m
		}
	}
	return best
}

// handleMonthly answers a frozen month's report, 404 when the month is not frozen.
func (s *Service) handleMonthly(w http.ResponseWriter, r *http.Request) error {
	raw := platform.PathVar(r, "month")
	first, err := time.ParseInLocation("2006-01", raw, s.zone)
	if err != nil || len(raw) != 7 {
		return platform.Invalid("invalid month", platform.FieldError{Field: "month", Reason: "must be yyyy-mm, e.g. 2026-11"})
	}
	f, ok, err := s.Monthly(r.Context(), first)
	if err != nil {
		return err
	}
	if !ok {
		return platform.NotFound("the report of %s is not frozen (months are frozen on the 1st of the next month)", raw)
	}
	return platform.WriteJSON(w, http.StatusOK, f)
}

// Rebuilt is what a rebuild did.
type Rebuilt struct {
	Replayed int `json:"replayed"`
}

// handleRebuild rebuilds the model from the raw log (admins).
func (s *Service) handleRebuild(w http.ResponseWriter, r *http.Request) error {
	if err := platform.ParseQuery(r).Err("invalid query"); err != nil {
		return err
	}
	n, err := s.Rebuild(r.Context())
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, Rebuilt{Replayed: n})
}
