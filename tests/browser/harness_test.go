package browser_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/internal/devtest"
)

// harnessPages are pages with known faults, served with the portals' kind of CSP, to show
// that each check of the harness can fail: the audit finds a missing label and alt text,
// the width check a page that scrolls sideways or has no viewport tag, the listener an
// inline script the CSP refuses and a script error. A harness whose checks cannot fail
// would pass the portals whatever they show.
var harnessPages = map[string]string{
	"/good": `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Good</title></head>
<body><header><a href="/good">Home</a></header><main><h1>Good page</h1>
<form><label for="name">Name</label><input id="name" name="name"><button type="submit">Save</button></form>
</main></body></html>`,
	"/bad": `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Bad</title></head>
<body><main><h1>Bad page</h1><img src="/car.png"><input id="name" name="name">
<div style="width: 900px">too wide</div></main></body></html>`,
	"/noviewport": `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No viewport</title></head>
<body><main><h1>Desktop only</h1></main></body></html>`,
	"/inline": `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Inline</title></head>
<body><main><h1>Inline script</h1><script>document.title = 'ran';</script><script src="/throws.js"></script></main></body></html>`,
	"/throws.js": `null.boom();`,
}

func harnessServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := harnessPages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		if strings.HasSuffix(r.URL.Path, ".js") {
			w.Header().Set("Content-Type", "text/javascript")
		} else {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHarnessChecksCanFail(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	srv := harnessServer(t)
	p := b.newPage(t, &system{&devtest.System{Base: srv.URL}}, time.Minute)

	p.open("/good")
	assert.Empty(t, p.violations("serious", "critical"), "a labelled form under a strict CSP")
	p.typeInto("#name", "Ada")
	assert.Equal(t, "Ada", p.value("#name"))
	assert.Empty(t, p.widthProblem(desktopWidth), "the good page at desktop width")

	p.open("/bad")
	var ids []string
	for _, v := range p.violations("serious", "critical") {
		ids = append(ids, v.ID)
	}
	assert.Contains(t, ids, "image-alt", "an image without alt text")
	assert.Contains(t, ids, "label", "a field without a label")
	p.atPhoneWidth(func() {
		assert.Contains(t, p.widthProblem(phoneWidth), "scrolls sideways", "a 900 px block on a phone")
	})

	p.open("/noviewport")
	p.atPhoneWidth(func() {
		assert.Contains(t, p.widthProblem(phoneWidth), "viewport", "a page without a viewport tag on a phone")
	})

	p.open("/inline")
	assert.Equal(t, "Inline", p.eval(`document.title`), "the CSP refused the inline script")
	var problems []string
	require.Eventually(t, func() bool {
		problems = append(problems, p.takeProblems()...)
		all := strings.Join(problems, "\n")
		return strings.Contains(all, "CSP:") && strings.Contains(all, "script error:")
	}, 5*time.Second, 50*time.Millisecond, "the listener reports the refused inline script and the script error: %q", problems)
}
