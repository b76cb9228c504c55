package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// catalog is what the journeys pick from, read from the system at the start: its branches
// (with their time zone and opening hours, since a booking outside them is refused) and
// the cars of each. Nothing is hard-coded: a system with other branches or cars loads the same.
type catalog struct {
	branches []branch
	vehicles []vehicle
	byCode   map[string]*branch
}

type branch struct {
	Code         string `json:"code"`
	TimeZone     string `json:"timeZone"`
	OpeningHours []struct {
		Day    string `json:"day"`
		Opens  string `json:"opens"`
		Closes string `json:"closes"`
	} `json:"openingHours"`

	loc   *time.Location
	hours map[time.Weekday][][2]int // minutes of the day, [opens, closes)
}

type vehicle struct {
	ID           string `json:"id"`
	Category     string `json:"category"`
	LocationCode string `json:"locationCode"`
}

// discover reads the catalog through the public API (as a user's browser would).
func discover(ctx context.Context, api *apiClient, now time.Time) (*catalog, error) {
	var list struct{ Items []branch }
	if _, err := api.getJSON(ctx, "/api/locations?status=active", &list); err != nil {
		return nil, fmt.Errorf("reading the branches: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("the target lists no branch (GET /api/locations)")
	}
	c := &catalog{byCode: map[string]*branch{}}
	for _, b := range list.Items {
		b.prepare()
		c.branches = append(c.branches, b)
	}
	for i := range c.branches {
		c.byCode[c.branches[i].Code] = &c.branches[i]
	}
	// Every car a branch offers a month from now, a day long: the cars the journeys book. The
	// search is held to the branch's opening hours as a booking is, so it asks when it is open.
	for _, b := range c.branches {
		from := b.opensAfter(now.Add(30 * 24 * time.Hour))
		for page := 1; page <= 20; page++ {
			q := url.Values{"location": {b.Code}, "pickup": {from.Format(time.RFC3339)},
				"return": {from.Add(24 * time.Hour).Format(time.RFC3339)}, "pageSize": {"100"}, "page": {strconv.Itoa(page)}}
			var res struct{ Items []vehicle }
			if _, err := api.getJSON(ctx, "/api/vehicles?"+q.Encode(), &res); err != nil {
				return nil, fmt.Errorf("reading the cars of %s: %w", b.Code, err)
			}
			for _, v := range res.Items {
				if v.LocationCode == "" {
					v.LocationCode = b.Code
				}
				c.vehicles = append(c.vehicles, v)
			}
			if len(res.Items) < 100 {
				break
			}
		}
	}
	if len(c.vehicles) == 0 {
		return nil, fmt.Errorf("the target offers no car at any branch (GET /api/vehicles)")
	}
	return c, nil
}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// prepare parses the branch's zone and hours. A branch that lists no hours is taken as
// open around the clock (the generator must not refuse to load a system it cannot read).
func (b *branch) prepare() {
	b.loc = time.UTC
	if l, err := time.LoadLocation(b.TimeZone); err == nil {
		b.loc = l
	}
	b.hours = map[time.Weekday][][2]int{}
	minutes := func(s string) (int, bool) {
		h, m, ok := strings.Cut(s, ":")
		hh, err1 := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		return hh*60 + mm, ok && err1 == nil && err2 == nil
	}
	for _, w := range b.OpeningHours {
		day, ok := weekdays[strings.ToLower(w.Day)]
		o, ok1 := minutes(w.Opens)
		c, ok2 := minutes(w.Closes)
		if ok && ok1 && ok2 && c > o {
			b.hours[day] = append(b.hours[day], [2]int{o, c})
		}
	}
	if len(b.hours) == 0 {
		for d := time.Sunday; d <= time.Saturday; d++ {
			b.hours[d] = [][2]int{{0, 24 * 60}}
		}
	}
}

// openAt is a time on the date of day (its branch's calendar) at which the branch is open,
// at least an hour before it closes, on a quarter hour; ok is false on a closed day.
func (b *branch) openAt(day time.Time, r *rand.Rand) (time.Time, bool) {
	windows := b.hours[day.Weekday()]
	if len(windows) == 0 {
		return time.Time{}, false
	}
	w := windows[r.IntN(len(windows))]
	span := (w[1] - w[0] - 60) / 15
	if span < 0 {
		return time.Time{}, false
	}
	m := w[0] + 15*r.IntN(span+1)
	return time.Date(day.Year(), day.Month(), day.Day(), m/60, m%60, 0, 0, b.loc), true
}

// opensAfter is the first opening of the branch at or after t, on the hour or quarter the
// window starts; a branch with no opening in the two weeks after t gives t (the search then
// answers 422 and the set-up says so).
func (b *branch) opensAfter(t time.Time) time.Time {
	local := t.In(b.loc)
	for k := 0; k < 14; k++ {
		d := local.AddDate(0, 0, k)
		windows := slices.Clone(b.hours[d.Weekday()])
		slices.SortFunc(windows, func(x, y [2]int) int { return x[0] - y[0] })
		for _, w := range windows {
			at := time.Date(d.Year(), d.Month(), d.Day(), w[0]/60, w[0]%60, 0, 0, b.loc)
			if end := at.Add(time.Duration(w[1]-w[0]-60) * time.Minute); !end.Before(t) {
				if at.Before(t) {
					at = t.Truncate(15 * time.Minute).Add(15 * time.Minute)
				}
				return at
			}
		}
	}
	return t
}

// Booking dates are spread over the two years a booking may lie ahead so that bookings of a run rarely
// want the same car at the same time (a 409 is still counted as what it is).
const (
	firstDay  = 3   // days ahead: far enough that cancelling is free (docs/pricing.md)
	spreadDay = 700 // the pickups spread over this many days (reservations takes two years ahead)
)

// period is a rental of 1 to 5 days starting 3 to 703 days after now, pickup and return
// within the branch's opening hours.
func (b *branch) period(now time.Time, r *rand.Rand) (pickup, ret time.Time) {
	local := now.In(b.loc)
	for try := 0; try < 50; try++ {
		d := local.AddDate(0, 0, firstDay+r.IntN(spreadDay))
		p, ok := b.openAt(d, r)
		if !ok {
			continue
		}
		for k := 1 + r.IntN(5); k < 15; k++ {
			if q, ok := b.openAt(d.AddDate(0, 0, k), r); ok {
				return p, q
			}
		}
	}
	// A branch that is (almost) never open: ask anyway, the answer (422) is counted.
	p := local.AddDate(0, 0, firstDay).Truncate(time.Hour)
	return p, p.Add(48 * time.Hour)
}

// apiClient reaches the target's public API for the set-up (not timed).
type apiClient struct {
	base   string
	client *http.Client
}
