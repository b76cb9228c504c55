package callcenter

import (
	"io/fs"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/locations/locationsapi"
)

// TestMessagesComplete: every text in both languages, and every key a template or handler
// names (literally) has a text.
func TestMessagesComplete(t *testing.T) {
	assert.Empty(t, messages.Missing())
	keys := regexp.MustCompile(`\.T "([a-zA-Z.]+)"|p\.T\("([a-zA-Z.]+)"`)
	check := func(name, text string) {
		for _, m := range keys.FindAllStringSubmatch(text, -1) {
			key := m[1] + m[2]
			if key == "error.409.text" || key == "error.400.text" { // platform/web's own
				continue
			}
			_, ok := messages["en"][key]
			assert.True(t, ok, "%s names %q, which has no text", name, key)
		}
	}
	require.NoError(t, fs.WalkDir(templateFiles, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFiles, p)
		check(p, string(b))
		return err
	}))
}

func TestEuro(t *testing.T) {
	for _, tc := range []struct {
		lang  string
		cents int64
		want  string
	}{
		{"de", 0, "0,00 €"},
		{"de", 14276, "142,76 €"},
		{"de", 123456789, "1.234.567,89 €"},
		{"en", 123456789, "€1,234,567.89"},
		{"en", 5, "€0.05"},
		{"de", -2379, "−23,79 €"},
	} {
		assert.Equal(t, tc.want, Fmt{Lang: tc.lang}.Euro(tc.cents), "%s %d", tc.lang, tc.cents)
	}
}

// TestBranchDay: "today" is the branch's calendar day, of 23 or 25 hours around a clock
// change; a date names another day.
func TestBranchDay(t *testing.T) {
	berlin := locationsapi.Location{Code: "BER-HBF", TimeZone: "Europe/Berlin"}
	newYork := locationsapi.Location{Code: "JFK-T4", TimeZone: "America/New_York"}
	for _, tc := range []struct {
		name       string
		branch     locationsapi.Location
		at         string
		date       string
		start, end string
	}{
		{"late evening UTC is the next day in Berlin", berlin, "2026-12-03T23:30:00Z", "", "2026-12-04T00:00:00+01:00", "2026-12-05T00:00:00+01:00"},
		{"early morning UTC is the day before in New York", newYork, "2026-12-04T03:00:00Z", "", "2026-12-03T00:00:00-05:00", "2026-12-04T00:00:00-05:00"},
		{"the spring-forward day has 23 hours", berlin, "2026-03-29T12:00:00Z", "", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"},
		{"a chosen date", newYork, "2026-12-04T03:00:00Z", "2026-11-01", "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339, tc.at)
			require.NoError(t, err)
			d, err := branchDay(tc.branch, at, tc.date)
			require.NoError(t, err)
			assert.Equal(t, tc.start, d.Start.Format(time.RFC3339))
			assert.Equal(t, tc.end, d.End.Format(time.RFC3339))
		})
	}
	_, err := branchDay(berlin, time.Now(), "2026-02-30")
	assert.Error(t, err, "no such day")
	_, err = branchDay(locationsapi.Location{Code: "X"}, time.Now(), "")
	assert.Error(t, err, "a branch without a zone")
}

// Percentages and odometer readings in the page's language.
func TestPercentAndKm(t *testing.T) {
	km := func(n int) *int { return &n }
	for _, tc := range []struct{ lang, percent, km string }{
		{"de", "12,5 %", "15.321 km"},
		{"en", "12.5 %", "15,321 km"},
	} {
		f := Fmt{Lang: tc.lang}
		assert.Equal(t, tc.percent, f.Percent(0.125), tc.lang)
		assert.Equal(t, tc.km, f.Km(km(15321)), tc.lang)
		assert.Equal(t, "–", f.Km(nil))
		assert.Equal(t, "999 km", f.Km(km(999)))
	}
}
