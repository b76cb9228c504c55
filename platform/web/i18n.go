package web

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"

	"golang.org/x/text/language"
)

// Languages are the portals' languages, German first: the company is German, so a browser
// that asks for neither gets German.
var Languages = []string{"de", "en"}

var matcher = language.NewMatcher([]language.Tag{language.German, language.English})

// Messages are texts by language, then key: Messages{"de": {"search.title": "Auto finden"},
// "en": {"search.title": "Find a car"}}. A text may hold fmt verbs for Request.T's args.
type Messages map[string]map[string]string

// merge returns m with more's texts added (more wins).
func (m Messages) merge(more Messages) Messages {
	out := Messages{}
	for _, lang := range Languages {
		out[lang] = map[string]string{}
		maps.Copy(out[lang], m[lang])
		maps.Copy(out[lang], more[lang])
	}
	return out
}

// Missing lists the keys some language has and another lacks, as "lang:key": a portal's
// test asserts it is empty.
func (m Messages) Missing() []string {
	keys := map[string]bool{}
	for _, lang := range Languages {
		for k := range m[lang] {
			keys[k] = true
		}
	}
	var out []string
	for k := range keys {
		for _, lang := range Languages {
			if _, ok := m[lang][k]; !ok {
				out = append(out, lang+":"+k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// text returns the text of key in lang, falling back to English, then to the key itself (a
// visible gap rather than an empty label).
func (m Messages) text(lang, key string, args ...any) string {
	t, ok := m[lang][key]
	if !ok {
		if t, ok = m["en"][key]; !ok {
			t = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(t, args...)
	}
	return t
}

// langCookie keeps a visitor's explicit choice (?lang=en) for a year; it is no secret.
const langCookie = "lang"

// chooseLanguage picks the request's language: ?lang= (remembered in a cookie), else the
// cookie, else Accept-Language, else German.
func (s *Site) chooseLanguage(w http.ResponseWriter, r *http.Request) string {
	if q := r.URL.Query().Get("lang"); slices.Contains(Languages, q) {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: q, Path: s.base, MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: requestTLS(r), SameSite: http.SameSiteLaxMode})
		return q
	}
	if c, err := r.Cookie(langCookie); err == nil && slices.Contains(Languages, c.Value) {
		return c.Value
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if len(tags) == 0 {
		return "de"
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return "de"
	}
	return Languages[i]
}
