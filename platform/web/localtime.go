package web

import (
	"errors"
	"strings"
	"time"
)

// Errors of ParseLocal.
var (
	// ErrBadLocalTime is a value that is no date and time.
	ErrBadLocalTime = errors.New("not a date and time")
	// ErrSkippedLocalTime is a wall-clock time the zone skips: 02:30 on the night clocks go
	// forward. A page words it with the shared text "form.skippedTime".
	ErrSkippedLocalTime = errors.New("the clocks skip this time on this day")
)

// localLayouts are what an <input type="datetime-local"> sends: a wall-clock time without a
// zone, seconds optional.
var localLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05"}

// ParseLocal reads a datetime-local value as a time on zone's clock (a branch's). A time the
// zone skips is ErrSkippedLocalTime: time.ParseInLocation moves it an hour on, and a page
// showed 03:30 where 02:30 was typed, without a word. A time the zone has twice (the night
// clocks go back) is the first of the two, so that the same form always means the same
// instant.
func ParseLocal(v string, zone *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	for _, layout := range localLayouts {
		t, err := time.ParseInLocation(layout, v, zone)
		if err != nil {
			continue
		}
		if t.Format(layout) != v {
			return time.Time{}, ErrSkippedLocalTime
		}
		if earlier := t.Add(-time.Hour); earlier.Format(layout) == v {
			return earlier, nil
		}
		return t, nil
	}
	return time.Time{}, ErrBadLocalTime
}
