package callcenter

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// deadLetterStatuses are dead-letter's statuses, the list's filter.
var deadLetterStatuses = []string{"stored", "replayed", "discarded"}

// deadLettersPage is the dead-letter list's data.
type deadLettersPage struct {
	Form       *web.Form
	Statuses   []string
	Result     page[DeadLetter]
	Prev, Next string
}

// deadLetters lists dead letters, newest first, filtered by type, Trigger and status
// (admins only: dead-letter's API says so too).
func (s *Service) deadLetters(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	f := web.NewForm(r.URL.Query())
	d := deadLettersPage{Form: f, Statuses: deadLetterStatuses}
	q := url.Values{}
	for _, k := range []string{"type", "trigger", "status"} {
		if v := strings.TrimSpace(f.Get(k)); v != "" {
			q.Set(k, v)
		}
	}
	if st := q.Get("status"); st != "" && !slices.Contains(deadLetterStatuses, st) {
		f.Invalid("status", p.T("bad.status"))
	}
	pageNo := 1
	if v := f.Get("page"); v != "" {
		var ok bool
		if pageNo, ok = positive(v); !ok {
			f.Message = p.T("bad.page")
		}
	}
	if !f.OK() {
		return p.Render(w, http.StatusBadRequest, "admin/deadletters", d)
	}
	q.Set("page", itoa(pageNo))
	res, err := client(r, p).deadLetters(r.Context(), q)
	if err != nil {
		if absorb(p, f, err, nil) {
			return p.Render(w, http.StatusBadRequest, "admin/deadletters", d)
		}
		return err
	}
	d.Result = res
	if pageNo > 1 {
		q.Set("page", itoa(pageNo-1))
		d.Prev = p.Path("dead-letters") + "?" + q.Encode()
	}
	if pageNo < res.Pages() {
		q.Set("page", itoa(pageNo+1))
		d.Next = p.Path("dead-letters") + "?" + q.Encode()
	}
	return p.Render(w, http.StatusOK, "admin/deadletters", d)
}

// deadLetterPage is one letter: its event (personal fields redacted by dead-letter), the
// failure, and replay/discard.
type deadLetterPage struct {
	Letter DeadLetter
	// Data is the event's data, indented for reading.
	Data string
	Key  string
	Done string
}

func (s *Service) deadLetter(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	id, err := pathID(r, "dead letter")
	if err != nil {
		return err
	}
	l, err := client(r, p).deadLetter(r.Context(), id)
	if err != nil {
		return err
	}
	d := deadLetterPage{Letter: l, Key: formKey(), Done: r.URL.Query().Get("done")}
	if len(l.Event.Data) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, l.Event.Data, "", "  ") == nil {
			d.Data = buf.String()
		} else {
			d.Data = string(l.Event.Data)
		}
	}
	return p.Render(w, http.StatusOK, "admin/deadletter", d)
}

// deadLetterAction replays or discards one letter; a refusal (a discarded letter is not
// replayed: 409) shows on the letter's page.
func (s *Service) deadLetterAction(action string) web.PageFunc {
	return func(w http.ResponseWriter, r *http.Request, p *web.Request) error {
		id, err := pathID(r, "dead letter")
		if err != nil {
			return err
		}
		f := postForm(r)
		if _, err := client(r, p).deadLetterAction(r.Context(), id, action, f.Get("key")); err != nil {
			return err
		}
		return p.Redirect(w, "dead-letters/"+id+"?done="+action)
	}
}

// reportsPage is the reports page's data: the query, the totals, and the chart's URL.
type reportsPage struct {
	F          Fmt
	Form       *web.Form
	Categories []string
	Report     *Report
	// ChartURL and CSVURL are the portal's routes that pass the report's chart and CSV on.
	ChartURL, CSVURL string
	Granularity      []string
	DefaultFrom      string
	DefaultUntil     string
}

var (
	reportDay   = regexp.MustCompile(`^\d{4}-\d{2}(-\d{2})?$`)
	reportCode  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
	granularity = []string{"day", "month"}
)

// reportQuery checks the report form into f and returns report-worker's query.
func reportQuery(p *web.Request, f *web.Form) url.Values {
	q := url.Values{}
	for _, k := range []string{"from", "to"} {
		v := strings.TrimSpace(f.Get(k))
		if !reportDay.MatchString(v) {
			f.Invalid(k, p.T("bad.reportDay"))
			continue
		}
		q.Set(k, v)
	}
	if g := f.Get("granularity"); g != "" {
		if !slices.Contains(granularity, g) {
			f.Invalid("granularity", p.T("bad.granularity"))
		}
		q.Set("granularity", g)
	}
	for _, k := range []string{"branch", "category"} {
		if v := strings.TrimSpace(f.Get(k)); v != "" {
			if !reportCode.MatchString(v) {
				f.Invalid(k, p.T("bad."+k))
			}
			q.Set(k, v)
		}
	}
	return q
}

// reports shows report-worker's figures for a period with its chart (fleet managers and
// admins). Without a query, the current month so far.
func (s *Service) reports(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	f := web.NewForm(r.URL.Query())
	now := s.now().In(berlin)
	d := reportsPage{F: s.formatter(r, p), Form: f, Categories: categories, Granularity: granularity,
		DefaultFrom: now.Format("2006-01") + "-01", DefaultUntil: now.Format("2006-01-02")}
	if f.Get("from") == "" && f.Get("to") == "" {
		f.Values.Set("from", d.DefaultFrom)
		f.Values.Set("to", d.DefaultUntil)
	}
	q := reportQuery(p, f)
	if !f.OK() {
		return p.Render(w, http.StatusBadRequest, "admin/reports", d)
	}
	rep, err := client(r, p).report(r.Context(), q)
	if err != nil {
		if absorb(p, f, err, nil) {
			return p.Render(w, http.StatusBadRequest, "admin/reports", d)
		}
		return err
	}
	d.Report = &rep
	d.ChartURL = p.Path("reports/chart.svg") + "?" + q.Encode()
	d.CSVURL = p.Path("reports/report.csv") + "?" + q.Encode()
	return p.Render(w, http.StatusOK, "admin/reports", d)
}

// reportChart passes report-worker's SVG chart through, fetched as the user: the page
// embeds it as <img>, so the SVG is never part of the page's DOM and no script in it could
// run (report-worker writes none; an <img> would not run one anyway).
func (s *Service) reportChart(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	return s.reportAs(w, r, p, "svg", "image/svg+xml")
}

// reportCSV passes report-worker's CSV through, as a download.
func (s *Service) reportCSV(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	return s.reportAs(w, r, p, "csv", "text/csv")
}

func (s *Service) reportAs(w http.ResponseWriter, r *http.Request, p *web.Request, format, mediaType string) error {
	f := web.NewForm(r.URL.Query())
	q := reportQuery(p, f)
	if !f.OK() {
		return platform.Invalid("the report's query is invalid")
	}
	q.Set("format", format)
	b, _, err := client(r, p).raw(r.Context(), reportsService, "/api/reports", q, mediaType, 4<<20)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", mediaType+"; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if format == "svg" {
		// The chart is a document of its own: nothing in it may load or run anything.
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	} else {
		h.Set("Content-Disposition", `attachment; filename="report-`+q.Get("from")+`-`+q.Get("to")+`.csv"`)
	}
	_, err = w.Write(b)
	return err
}
