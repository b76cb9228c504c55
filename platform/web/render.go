package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
)

// The template contract. The shared layout (assets/templates/layout.html) defines "layout":
// skip link, header (brand, the portal's "nav", language switch, sign-in or sign-out), main,
// footer. A portal's Templates hold *.html files: those whose name starts with "_" are
// partials parsed into every page (a portal defines its "nav" there); every other file is a
// page, named by its path without ".html" ("search", "bookings/detail"), that defines
// "title" and "content". Pages execute with a View: the Request's methods ({{.T "key"}},
// {{.CSRFField}}, {{.Asset "app.css"}}, {{.Path "search"}}) and the handler's data as .Data
// (inside {{range}}, reach them through $).
func (s *Site) parseTemplates(portal fs.FS) error {
	base := template.New("layout").Funcs(s.funcs())
	if _, err := base.ParseFS(sharedTemplates(), "layout.html", "partials.html"); err != nil {
		return fmt.Errorf("web: shared templates: %w", err)
	}
	var pages []string
	if portal != nil {
		err := fs.WalkDir(portal, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || path.Ext(p) != ".html" {
				return err
			}
			if strings.HasPrefix(path.Base(p), "_") {
				if _, err := base.ParseFS(portal, p); err != nil {
					return err
				}
				return nil
			}
			pages = append(pages, p)
			return nil
		})
		if err != nil {
			return fmt.Errorf("web: templates: %w", err)
		}
	}
	// Each page is parsed on its first render, not here: cloning the layout and parsing every
	// page was ~4 ms of the call center's ~20 ms start (docs/performance.md, "Start time"),
	// paid before /readyz could answer. The templates are embedded, so a page that does not
	// parse fails TestPortalPagesParse (functions/all), not one replica; should
	// one fail anyway, its render is the 500 page.
	s.pages = map[string]func() (*template.Template, error){}
	for _, p := range pages {
		s.pages[strings.TrimSuffix(p, ".html")] = sync.OnceValues(func() (*template.Template, error) {
			clone, err := base.Clone() // base is never executed: only its clones are
			if err != nil {
				return nil, err
			}
			t, err := clone.ParseFS(portal, p)
			if err != nil {
				return nil, fmt.Errorf("web: template %s: %w", p, err)
			}
			return t, nil
		})
	}
	errPage, err := template.Must(base.Clone()).ParseFS(sharedTemplates(), "error.html")
	if err != nil {
		return fmt.Errorf("web: error page: %w", err)
	}
	s.errorPage = errPage
	signout, err := template.Must(base.Clone()).ParseFS(sharedTemplates(), "signout.html")
	if err != nil {
		return fmt.Errorf("web: sign-out page: %w", err)
	}
	s.signoutPage = signout
	return nil
}

// funcs are the helpers every template may call that need no request.
func (s *Site) funcs() template.FuncMap {
	return template.FuncMap{
		// field describes one input for the shared "field" template: name, label, type, and
		// the form it belongs to (values and errors).
		"field": func(v View, f *Form, name, label, typ string) fieldView {
			return fieldView{View: v, Form: f, Name: name, Label: label, Type: typ}
		},
		// badge is a status for a badge: the code (for CSS and tests) and its words in the
		// page's language ("status.<code>"), the code itself when the site has none.
		"badge": func(v View, status string) Badge {
			b := Badge{Status: status, Label: status}
			if v.Request != nil && v.Has("status."+status) {
				b.Label = v.T("status." + status)
			}
			return b
		},
	}
}

// View is what a page's templates execute with: the request's helpers and the handler's data.
type View struct {
	*Request
	// Data is what the handler passed to Render.
	Data any
	// Status is the HTTP status of the answer.
	Status int
}

// Badge is a status as a badge shows it (the "badge" template function).
type Badge struct{ Status, Label string }

// fieldView is the dot of the shared "field" template.
type fieldView struct {
	View
	Form              *Form
	Name, Label, Type string
}

// autocomplete are the HTML autocomplete tokens of the fields a person fills in about
// themselves (WCAG 1.3.5: a browser may fill them in, assistive technology names them).
var autocomplete = map[string]string{
	"firstName": "given-name", "lastName": "family-name", "email": "email", "phone": "tel",
	"dateOfBirth": "bday", "street": "street-address", "postalCode": "postal-code",
	"city": "address-level2", "country": "country",
}

// Autocomplete is the field's autocomplete token, "" for none.
func (f fieldView) Autocomplete() string { return autocomplete[f.Name] }

// Render answers with the page name in the layout, data as .Data. It renders into a buffer
// first, so that a template error is a clean 500 page, never half a page.
func (p *Request) Render(w http.ResponseWriter, status int, name string, data any) error {
	page, ok := p.site.pages[name]
	if !ok {
		return fmt.Errorf("web: no page template %q", name)
	}
	t, err := page()
	if err != nil {
		return err
	}
	return p.execute(w, t, status, View{Request: p, Data: data, Status: status})
}

func (p *Request) execute(w http.ResponseWriter, t *template.Template, status int, v View) error {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("web: render: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages show personal data and carry CSRF tokens: no cache keeps them.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", p.Lang)
	h.Add("Vary", "Cookie, Accept-Language")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// CheckPages parses every page not parsed yet and returns the first error: pages are parsed
// on their first render, so each portal's tests call it to find a broken page before a
// user does.
func (s *Site) CheckPages() error {
	for _, name := range slices.Sorted(maps.Keys(s.pages)) {
		if _, err := s.pages[name](); err != nil {
			return err
		}
	}
	return nil
}
