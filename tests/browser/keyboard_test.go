package browser_test

import (
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// focused describes the element that has the keyboard focus: its id, else its tag and
// class.
const focused = `(() => { const e = document.activeElement; if (!e || e === document.body) return '';
	return e.id || (e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ')[0] : '')); })()`

// press sends key to the focused element.
func (p *page) press(key string) {
	p.t.Helper()
	p.do("press "+key, chromedp.KeyEvent(key))
}

// journeyKeyboard: the search works with the keyboard alone. The first Tab reaches the skip
// link and Enter on it moves the focus to the page's main content; Tab then visits the
// search form's fields in reading order and its button; Enter on the button searches, Tab
// reaches the first offer and Enter opens it.
func journeyKeyboard(t *testing.T, b *browser, s *system) {
	p := b.newPage(t, s, journeyTimeout)
	p.open("/")
	p.wait("#search-form")
	p.set("#location", "BER-HBF")
	p.set("#pickup", localInput(daysAhead(20)))
	p.set("#return", localInput(daysAhead(21)))
	p.eval(`(() => { document.activeElement && document.activeElement.blur(); return ''; })()`)

	p.press(kb.Tab)
	assert.Equal(t, "a.skip-link", p.eval(focused), "the first Tab reaches the skip link")
	p.press(kb.Enter)
	p.eventually("the focus moves to the main content", `document.activeElement && document.activeElement.id === 'main'`, 5*time.Second)

	var order []string
	for range 40 {
		p.press(kb.Tab)
		order = append(order, p.eval(focused))
		if order[len(order)-1] == "search-submit" {
			break
		}
	}
	require.Contains(t, order, "search-submit", "Tab never reaches the search button: %v", order)
	// A date-time field takes one Tab per part (day, month, year, hours, minutes).
	var fields []string
	for _, id := range slices.Compact(slices.Clone(order)) {
		if slices.Contains([]string{"location", "pickup", "return", "category", "search-submit"}, id) {
			fields = append(fields, id)
		}
	}
	assert.Equal(t, []string{"location", "pickup", "return", "category", "search-submit"}, fields, "the focus order: %v", order)

	p.press(kb.Enter)
	p.wait("#results li.offer")
	var offer string
	for range 60 {
		p.press(kb.Tab)
		if offer = p.eval(`document.activeElement && document.activeElement.matches("#results a[id^='offer-']") ? document.activeElement.id : ''`); offer != "" {
			break
		}
	}
	require.NotEmpty(t, offer, "Tab never reaches an offer")
	p.press(kb.Enter)
	p.wait("#quote-form")
}
