package callcenter

import (
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform/web"
)

// counterPage is the counter's data: the branch chosen, its day, and what is due.
type counterPage struct {
	F    Fmt
	Form *web.Form
	Day  *CounterDay
	// Today says the day shown is the branch's today (else a day the agent chose).
	Today bool
	// Now is the page's time: a pickup before it may be marked a no-show.
	Now time.Time
}

var branchCode = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,19}$`)

// counter shows a branch's pickups and returns of a day — today on the branch's own clock
// unless ?date= names another — with the handover and return actions.
func (s *Service) counter(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	f := web.NewForm(r.URL.Query())
	d := counterPage{F: s.formatter(r, p), Form: f, Now: s.now()}
	code := strings.ToUpper(strings.TrimSpace(f.Get("branch")))
	if code == "" {
		return p.Render(w, http.StatusOK, "counter", d)
	}
	if !branchCode.MatchString(code) {
		f.Invalid("branch", p.T("bad.branch"))
		return p.Render(w, http.StatusBadRequest, "counter", d)
	}
	a := client(r, p)
	branch, err := a.location(r.Context(), code)
	if err != nil {
		if notFound(err) {
			f.Invalid("branch", p.T("bad.branch"))
			return p.Render(w, http.StatusBadRequest, "counter", d)
		}
		return err
	}
	day, err := branchDay(branch, s.now(), strings.TrimSpace(f.Get("date")))
	if err != nil {
		f.Invalid("date", p.T("bad.date"))
		return p.Render(w, http.StatusBadRequest, "counter", d)
	}
	today, _ := branchDay(branch, s.now(), "")
	d.Today = today.Start.Equal(day.Start)
	cd, err := a.counterDay(r.Context(), day)
	if err != nil {
		return err
	}
	d.Day = &cd
	return p.Render(w, http.StatusOK, "counter", d)
}
