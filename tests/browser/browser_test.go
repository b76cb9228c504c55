package browser_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath is the browser the tests drive: ORANGE_CHROMIUM, else Debian's chromium.
// Missing, the tests fail (never skip): `make test` must not pass without them.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ORANGE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is not installed, and the browser tests need it: install Debian's package " +
		"(as root: apt-get install -y chromium; .ci/run does this) or set ORANGE_CHROMIUM to a Chromium binary")
	return ""
}

// browser is one headless Chromium for the whole test; each page gets its own browser
// context (cookies, storage), so journeys never share a session.
type browser struct {
	ctx context.Context
}

// startBrowser starts Chromium with the flags known to work on this machine kind: headless,
// no sandbox (root), no GPU, and nothing that reaches out to the network by itself (this
// machine's closed network refuses it), with a fresh profile.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium leaves a scratch folder in TMPDIR behind; the test's own is removed.
		chromedp.Env("TMPDIR="+t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		// Deterministic pages: the portals pick the language from Accept-Language.
		chromedp.Flag("lang", "en-GB"),
		chromedp.WindowSize(desktopWidth, desktopHeight),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first Do starts the browser, which lives as long as the context it is given: ctx
	// itself, bounded here by a timer rather than a derived context.
	timer := time.AfterFunc(60*time.Second, cancel)
	defer timer.Stop()
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", path, err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return &browser{ctx: ctx}
}

// page is one tab in its own browser context, driven by one journey.
type page struct {
	t    *testing.T
	ctx  context.Context
	sys  *system
	name string

	mu       sync.Mutex
	problems []string // script errors and CSP violations the page reported
}

// newPage opens a tab in a new browser context whose actions all end by timeout.
func (b *browser) newPage(t *testing.T, sys *system, timeout time.Duration) *page {
	t.Helper()
	p := &page{t: t, sys: sys, name: t.Name()}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(p.listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	p.ctx = ctx
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
	})
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(desktopWidth, desktopHeight)), "open a tab")
	t.Cleanup(p.checkProblems)
	return p
}

// listen records what a page must never do: throw a script error, or have the browser
// refuse something by its Content-Security-Policy (an inline script, say).
func (p *page) listen(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		problem = "script error: " + d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			problem += " " + d.Exception.Description
		}
		problem += fmt.Sprintf(" (%s:%d)", d.URL, d.LineNumber)
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level == log.EntryLevelError && (strings.Contains(e.Text, "Content Security Policy") || e.Source == log.EntrySourceSecurity) {
			problem = "CSP: " + e.Text + " (" + e.URL + ")"
		}
	}
	if problem != "" {
		p.mu.Lock()
		p.problems = append(p.problems, problem)
		p.mu.Unlock()
	}
}

// takeProblems returns the problems reported so far and forgets them.
func (p *page) takeProblems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.problems
	p.problems = nil
	return out
}

func (p *page) checkProblems() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.problems {
		p.t.Errorf("%s: the page reported %s", p.name, pr)
	}
}

// stepTimeout bounds one step (a navigation, a wait for an element): a page that does not
// show what a journey waits for fails the journey in seconds, not at its end.
const stepTimeout = 30 * time.Second

// do runs steps, failing the test with what was being done and where the page was.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.fail(what, err)
	}
}

// run is do for a step with a value.
func run[T any](p *page, what string, step chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, step)
	if err != nil {
		p.fail(what, err)
	}
	return v
}

// fail stops the journey with the step, the error and what the page showed.
func (p *page) fail(what string, err error) {
	p.t.Helper()
	loc, body := "?", ""
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 5*time.Second)
	defer cancel()
	if l, e := chromedp.Run(ctx, chromedp.Location()); e == nil {
		loc = l
	}
	if b, e := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`)); e == nil {
		body = b
	}
	if errors.Is(err, context.DeadlineExceeded) {
		if p.ctx.Err() != nil {
			err = fmt.Errorf("%w (the journey's %s ran out)", err, journeyTimeout)
		} else {
			err = fmt.Errorf("%w (nothing for %s)", err, stepTimeout)
		}
	}
	p.t.Fatalf("%s: %s: %v\nat %s, the page said:\n%s", p.name, what, err, loc, tail(body, 3000))
}

// open navigates to path on the system and waits for the page's body; it returns the
// status the page was answered with. A 404 or a server error fails the journey at once.
func (p *page) open(path string) int64 {
	p.t.Helper()
	resp := run(p, "open "+path, chromedp.NavigateResponse(p.sys.Base+path))
	p.do("open "+path, chromedp.WaitReady(chromedp.CSS("body")))
	if resp != nil && (resp.Status == 404 || resp.Status >= 500) {
		p.fail("open "+path, fmt.Errorf("answered %d", resp.Status))
	}
	if resp == nil {
		return 0
	}
	return resp.Status
}

// goTo navigates to an absolute URL (a link from a mail).
func (p *page) goTo(url string) {
	p.t.Helper()
	p.do("open "+url, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body")))
}

// wait waits until the element sel is visible.
func (p *page) wait(sel string) {
	p.t.Helper()
	p.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// has tells whether sel matches an element right now.
func (p *page) has(sel string) bool {
	p.t.Helper()
	return run(p, "look for "+sel, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))) > 0
}

// typeInto replaces the value of the field sel by typing text, as a person would.
func (p *page) typeInto(sel, text string) {
	p.t.Helper()
	p.do("type into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Clear(chromedp.CSS(sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

// set sets the value of a field a person would pick rather than type (a date, a select,
// a number) and fires input and change, as the browser's own picker does.
func (p *page) set(sel, value string) {
	p.t.Helper()
	p.do("find "+sel, chromedp.WaitReady(chromedp.CSS(sel)))
	p.do("set "+sel, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		el.value = %q;
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
	})()`, sel, value)))
}

// check ticks a checkbox or picks a radio button sel.
func (p *page) check(sel string) {
	p.t.Helper()
	if !p.evalBool(fmt.Sprintf(`document.querySelector(%q).checked`, sel)) {
		p.click(sel)
	}
}

// click clicks sel once it is visible.
func (p *page) click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// submit clicks sel and waits until the page it leads to shows next.
func (p *page) submit(sel, next string) {
	p.t.Helper()
	p.click(sel)
	p.wait(next)
}

// text is the visible text of sel.
func (p *page) text(sel string) string {
	p.t.Helper()
	p.wait(sel)
	return strings.TrimSpace(run(p, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// value is the current value of the field sel.
func (p *page) value(sel string) string {
	p.t.Helper()
	return run(p, "read the value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// location is the page's URL.
func (p *page) location() string {
	p.t.Helper()
	return run(p, "read the location", chromedp.Location())
}

// bodyText is everything the page shows.
func (p *page) bodyText() string {
	p.t.Helper()
	return p.eval(`document.body.innerText`)
}

func (p *page) eval(js string) string {
	p.t.Helper()
	return run(p, "evaluate "+js, chromedp.Evaluate[string](js))
}

func (p *page) evalBool(js string) bool {
	p.t.Helper()
	return run(p, "evaluate "+js, chromedp.Evaluate[bool](js))
}

// eventually evaluates cond (a JavaScript expression) until it is true, for a page that
// updates itself (a live price). chromedp's Poll builds its predicate with new Function,
// which the portals' CSP forbids; Runtime.evaluate is not subject to it.
func (p *page) eventually(what, cond string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !p.evalBool("Boolean(" + cond + ")") {
		if time.Now().After(deadline) {
			p.fail(what, fmt.Errorf("%s still false after %s", cond, timeout))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reloadUntil reloads the page until sel matches an element: a state that arrives through
// the broker (a decline, an invoice) lands a moment after the click that caused it.
func (p *page) reloadUntil(sel string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !p.has(sel) {
		if time.Now().After(deadline) {
			p.fail("wait for "+sel, fmt.Errorf("not there after reloading for %s", timeout))
		}
		time.Sleep(500 * time.Millisecond)
		p.do("reload", chromedp.Reload(), chromedp.WaitReady(chromedp.CSS("body")))
	}
}
