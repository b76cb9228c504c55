package callcenter

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// pathID is the page's {id}: a UUID, else the 404 page (no API is asked for a malformed id).
func pathID(r *http.Request, what string) (string, error) { return platform.PathUUID(r, what) }

// postForm is the posted form's values (platform/web has parsed the body for its CSRF check;
// parsing again is a no-op).
func postForm(r *http.Request) *web.Form {
	_ = r.ParseForm()
	return web.NewForm(r.PostForm)
}

// positive parses a page number or a count: 1 or more.
func positive(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 10000 {
		return 1, false
	}
	return n, true
}

// localLayout is what an <input type="datetime-local"> sends: a wall-clock time without a
// zone (seconds optional).
const localLayout = "2006-01-02T15:04"

// parseLocal reads field of f as a time on zone's clock (the branch's: web.ParseLocal),
// recording in f what is wrong with it; ok is false then.
func parseLocal(p *web.Request, f *web.Form, field string, zone *time.Location) (time.Time, bool) {
	t, err := web.ParseLocal(f.Get(field), zone)
	switch {
	case errors.Is(err, web.ErrSkippedLocalTime):
		f.Invalid(field, p.T("form.skippedTime"))
	case err != nil:
		f.Invalid(field, p.T("bad.datetime"))
	}
	return t, err == nil
}

// parsePeriod reads two datetime-local fields on zone's clock, recording what is wrong in f:
// a missing or malformed time, a return not after the pickup.
func parsePeriod(p *web.Request, f *web.Form, fromField, toField string, zone *time.Location) (time.Time, time.Time) {
	from, ok := parseLocal(p, f, fromField, zone)
	to, ok2 := parseLocal(p, f, toField, zone)
	if ok && ok2 && !to.After(from) {
		f.Invalid(toField, p.T("bad.returnAfterPickup"))
	}
	return from, to
}

// reading parses a whole number in [lo, hi] from a form field, recording an error in f.
func reading(p *web.Request, f *web.Form, name string, lo, hi int) *int {
	n, err := strconv.Atoi(strings.TrimSpace(f.Get(name)))
	if err != nil || n < lo || n > hi {
		f.Invalid(name, p.T("bad."+name))
		return nil
	}
	return &n
}

// absorb puts an API's refusal of a form into f: field errors next to their inputs (400,
// 422: web.Request.Absorb) and a conflict (409, 412: the car is not there, the booking
// changed meanwhile) as the form's message, so the agent sees why with what they typed
// kept. It reports whether err was such an answer.
func absorb(p *web.Request, f *web.Form, err error, fields map[string]string) bool {
	if p.Absorb(f, err, fields) {
		return true
	}
	var call *platform.CallError
	if errors.As(err, &call) && (call.Status == http.StatusConflict || call.Status == http.StatusPreconditionFailed) {
		f.Message, _ = p.Refusal(err)
		return true
	}
	return false
}

// formKey is a one-time key a form carries (hidden field "key"): the function sees the same
// form sent twice as one request (Idempotency-Key, api.post).
func formKey() string { return rand.Text() }

// Fmt formats what pages show: amounts in the request's language, times on a branch's
// clock (a booking's pickup on its pickup branch's, its return on its return branch's,
// whatever zone the agent or the server is in). Templates call it as $.Data.F.
type Fmt struct {
	Lang  string
	zones map[string]*time.Location
	// Branches are every branch, for the pages' branch choices.
	Branches []locationsapi.Location
}

// formatter reads the branches once per page (locations-api's public list); a branch it
// cannot place is shown in Europe/Berlin.
func (s *Service) formatter(r *http.Request, p *web.Request) Fmt {
	f := Fmt{Lang: p.Lang, zones: map[string]*time.Location{}}
	locs, err := client(r, p).locations(r.Context())
	if err != nil {
		return f
	}
	f.Branches = locs
	for _, l := range locs {
		if zone, err := l.Zone(); err == nil {
			f.zones[l.Code] = zone
		}
	}
	return f
}

// Zone is branch's time zone.
func (f Fmt) Zone(branch string) *time.Location {
	if zone, ok := f.zones[branch]; ok {
		return zone
	}
	return berlin
}

// At is t on branch's clock with the zone's abbreviation: 2026-12-03 10:00 CET.
func (f Fmt) At(t time.Time, branch string) string {
	if t.IsZero() {
		return ""
	}
	return t.In(f.Zone(branch)).Format("2006-01-02 15:04 MST")
}

// AtPtr is At for an optional time ("" when unset).
func (f Fmt) AtPtr(t *time.Time, branch string) string {
	if t == nil {
		return ""
	}
	return f.At(*t, branch)
}

// Euro is an amount in cents: "1.234,56 €" in German, "€1,234.56" in English.
func (f Fmt) Euro(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "−", -cents
	}
	whole, frac := cents/100, cents%100
	thousands, decimal := ",", "."
	if f.Lang == "de" {
		thousands, decimal = ".", ","
	}
	s := strconv.FormatInt(whole, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + thousands + s[i:]
	}
	if f.Lang == "de" {
		return fmt.Sprintf("%s%s%s%02d €", sign, s, decimal, frac)
	}
	return fmt.Sprintf("%s€%s%s%02d", sign, s, decimal, frac)
}

// Percent is a ratio as a percentage with one decimal: "12,5 %" in German, "12.5 %" in English.
func (f Fmt) Percent(ratio float64) string {
	s := strconv.FormatFloat(ratio*100, 'f', 1, 64)
	if f.Lang == "de" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s + " %"
}

// Km is an optional odometer reading: "15.000 km" in German, "15,000 km" in English; "–"
// when not recorded.
func (f Fmt) Km(n *int) string {
	if n == nil {
		return "–"
	}
	sep := ","
	if f.Lang == "de" {
		sep = "."
	}
	s := strconv.Itoa(*n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + sep + s[i:]
	}
	return s + " km"
}

// Deref is an optional reading as text ("–" when not recorded).
func (f Fmt) Deref(n *int) string {
	if n == nil {
		return "–"
	}
	return strconv.Itoa(*n)
}

// statusOfForm is the status of a form shown again after the API refused it: 409 for a
// conflict, else 400.
func statusOfForm(err error) int {
	var call *platform.CallError
	if errors.As(err, &call) && (call.Status == http.StatusConflict || call.Status == http.StatusPreconditionFailed) {
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// notFound reports whether an API answered 404.
func notFound(err error) bool {
	var call *platform.CallError
	return errors.As(err, &call) && call.Status == http.StatusNotFound
}
