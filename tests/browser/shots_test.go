package browser_test

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/orangecarrental/orange/internal/kobuild"
)

// The two widths every main page is checked and photographed at.
const (
	desktopWidth, desktopHeight = 1280, 800
	phoneWidth, phoneHeight     = 375, 812
)

// screenshotDir is where the tests write the pages' pictures: ORANGE_SCREENSHOTS (make
// screenshots sets docs/screenshots, relative to the module root); unset, none are taken.
func screenshotDir() (string, bool) {
	dir := os.Getenv("ORANGE_SCREENSHOTS")
	if dir == "" {
		return "", false
	}
	if !filepath.IsAbs(dir) {
		if root, err := kobuild.ModuleRoot(); err == nil {
			dir = filepath.Join(root, dir)
		}
	}
	return dir, true
}

var fileName = regexp.MustCompile(`[^a-z0-9-]+`)

// mainPage is what every journey does at each main page it shows: the accessibility audit,
// the phone-width check, and (when asked) the screenshots at both widths. name names the
// picture: docs/screenshots/<name>-desktop.png and <name>-phone.png.
func (p *page) mainPage(name string) { p.checkPage(name, true) }

// otherPage is a page checked like a main page, without pictures (a step of a flow).
func (p *page) otherPage(name string) { p.checkPage(name, false) }

func (p *page) checkPage(name string, photographed bool) {
	p.t.Helper()
	p.audit(name)
	dir, shots := screenshotDir()
	shots = shots && photographed
	if shots {
		p.screenshot(filepath.Join(dir, fileName.ReplaceAllString(name, "-")+"-desktop.png"))
		photographs.add(name, p.location())
	}
	p.atPhoneWidth(func() {
		p.fitsWidth(name)
		if shots {
			p.screenshot(filepath.Join(dir, fileName.ReplaceAllString(name, "-")+"-phone.png"))
		}
	})
}

// atPhoneWidth runs f with the page shown as on a phone (375×812, mobile: the viewport
// tag counts), then returns to the desktop width.
func (p *page) atPhoneWidth(f func()) {
	p.t.Helper()
	p.do("phone width", chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile))
	f()
	p.do("desktop width", chromedp.EmulateViewport(desktopWidth, desktopHeight))
}

// fitsWidth fails the test when the page does not fit the phone's width.
func (p *page) fitsWidth(name string) {
	p.t.Helper()
	if msg := p.widthProblem(phoneWidth); msg != "" {
		p.t.Errorf("%s: %s at %d px: %s", p.name, name, phoneWidth, msg)
	}
}

// widthProblem tells why the page does not fit a screen device px wide, or "": it must lay out
// at the device's width (a viewport meta tag; without one a phone shows a shrunken
// desktop page) and never scroll sideways — text, tables and forms wrap or stack.
func (p *page) widthProblem(device int) string {
	p.t.Helper()
	js := `((device) => {
		const w = document.documentElement.clientWidth;
		if (w > device + 1) {
			return 'the page lays out ' + w + ' px wide on a ' + device + ' px screen: no <meta name="viewport" content="width=device-width">';
		}
		if (document.documentElement.scrollWidth <= w + 1) {
			return '';
		}
		const wide = [...document.body.querySelectorAll('*')].filter(e => {
			const r = e.getBoundingClientRect();
			return r.width > 0 && r.right > w + 1;
		}).slice(-3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
			(typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\s+/).join('.') : ''));
		return 'it scrolls sideways (' + document.documentElement.scrollWidth + ' px wide in ' + w + ' px), widest: ' + wide.join(', ');
	})(` + strconv.Itoa(device) + `)`
	return p.eval(js)
}

// screenshot writes the viewport as PNG to path.
func (p *page) screenshot(path string) {
	p.t.Helper()
	buf := run(p, "screenshot", chromedp.CaptureScreenshot())
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// photographs are the pages photographed in this run, for the folder's index.
var photographs = &album{pages: map[string]string{}}

type album struct {
	mu    sync.Mutex
	pages map[string]string // name → the page's path
}

func (a *album) add(name, location string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if u, err := url.Parse(location); err == nil {
		location = u.Path
	}
	a.pages[fileName.ReplaceAllString(name, "-")] = location
}

// writeIndex writes README.md beside the pictures: each page at both widths, so the
// folder the README links shows them (generated, like the pictures).
func (a *album) writeIndex(t *testing.T) {
	t.Helper()
	dir, ok := screenshotDir()
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	names := slices.Sorted(maps.Keys(a.pages))
	var b strings.Builder
	b.WriteString("# Screenshots of the portals\n\nWritten by the browser tests (`make screenshots`, tests/browser); do not edit.\n" +
		"Desktop 1280×800 and phone 375×812, the top of each page.\n\n")
	for _, n := range names {
		fmt.Fprintf(&b, "## %s (`%s`)\n\n<img src=\"%s-desktop.png\" width=\"640\" alt=\"%s at desktop width\"> "+
			"<img src=\"%s-phone.png\" width=\"188\" alt=\"%s at phone width\">\n\n", n, a.pages[n], n, n, n, n)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}
