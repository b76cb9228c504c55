// Package locationsapi is locations-api's contract with the functions that call it
// (design.md §3): the branch as they read it — its status, time zone and opening hours — the
// rule for reading those hours, and a typed client. Callers import this package and nothing
// else of locations; locations' branch states are defined from the constants here, and a
// contract test runs the client against the real function.
package locationsapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// Service is locations-api's Knative Service name, the host its client addresses.
const Service = "locations-api"

// Prefix is where locations-api serves its operations.
const Prefix = "/api/locations"

// The branch states. Only an active branch takes rentals; a closed one or one in
// maintenance takes no new bookings.
const (
	StatusActive      = "active"
	StatusClosed      = "closed"
	StatusMaintenance = "maintenance"
)

// EndOfDay is the closing time of a window that lasts to midnight ("24:00").
const EndOfDay = "24:00"

// Location is what other functions read of a branch. The record locations-api shows has
// more (address, coordinates, contact); these fields are part of it.
type Location struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	TimeZone string `json:"timeZone"`
	// OpeningHours are the branch's weekly windows in its own time zone (OpenAt reads them).
	OpeningHours []OpeningHours `json:"openingHours"`
	Version      int64          `json:"version"`
}

// OpeningHours is one window on a weekday ("monday" … "sunday"), local time of the branch:
// from Opens ("HH:MM") up to Closes ("HH:MM", exclusive, or "24:00" for midnight at the end
// of the day). A day with no window is closed; a day may have several.
type OpeningHours struct {
	Day    string `json:"day"`
	Opens  string `json:"opens"`
	Closes string `json:"closes"`
}

// Zone is the branch's time zone; an unknown name is an error (locations-api refuses to
// store one, so it means a broken answer).
func (l Location) Zone() (*time.Location, error) {
	if l.TimeZone == "" || l.TimeZone == "Local" {
		return nil, fmt.Errorf("branch %s has no time zone", l.Code)
	}
	return platform.LoadZone(l.TimeZone)
}

// OpenAt reports whether instant t falls inside one of the branch's windows, read in the
// branch's own time zone: the window of t's local weekday with Opens ≤ local time < Closes.
func (l Location) OpenAt(t time.Time) (bool, error) {
	zone, err := l.Zone()
	if err != nil {
		return false, err
	}
	local := t.In(zone)
	day := strings.ToLower(local.Weekday().String())
	since := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	for _, h := range l.OpeningHours {
		if h.Day != day {
			continue
		}
		opens, err1 := clock(h.Opens)
		closes, err2 := clock(h.Closes)
		if err1 != nil || err2 != nil {
			return false, fmt.Errorf("branch %s: opening hours %+v: bad time", l.Code, h)
		}
		if opens <= since && since < closes {
			return true, nil
		}
	}
	return false, nil
}

// Refusal says why the branch refuses a car to be moved (verb: "picked up", "returned") at
// instant at — it takes no bookings (closed, in maintenance: under branchField), or is closed
// then (under timeField, with that day's hours) — or nil when it takes it. One rule for
// every function that holds a booking or an offer to a branch.
func (l Location) Refusal(branchField, timeField, verb string, at time.Time) *platform.FieldError {
	if l.Status != StatusActive {
		state := l.Status
		if state == StatusMaintenance {
			state = "in maintenance"
		}
		return &platform.FieldError{Field: branchField, Reason: fmt.Sprintf("the branch %s is %s and takes no bookings", l.Code, state)}
	}
	if open, err := l.OpenAt(at); err == nil && open {
		return nil
	}
	return &platform.FieldError{Field: timeField, Reason: fmt.Sprintf(
		"the branch %s is closed at %s (%s); a car can be %s there %s (opening hours in %s)",
		l.Code, l.localClock(at), l.TimeZone, verb, l.HoursOn(at), l.TimeZone)}
}

// localClock is instant t on the branch's wall clock, for an answer.
func (l Location) localClock(t time.Time) string {
	zone, err := l.Zone()
	if err != nil {
		return t.UTC().Format(time.RFC3339)
	}
	return t.In(zone).Format("Monday 2006-01-02 15:04")
}

// HoursOn describes the windows of t's local weekday at the branch, for an answer that says
// when it is open ("saturday 08:00–20:00", "sunday closed").
func (l Location) HoursOn(t time.Time) string {
	day, windows, err := l.WindowsOn(t)
	if err != nil {
		return "unknown"
	}
	if len(windows) == 0 {
		return day + " closed"
	}
	return day + " " + strings.Join(windows, ", ")
}

// WindowsOn is t's local weekday at the branch ("saturday") and that day's windows
// ("08:00–20:00"), none on a closed day: for an answer or a page that says when it is open.
func (l Location) WindowsOn(t time.Time) (day string, windows []string, err error) {
	zone, err := l.Zone()
	if err != nil {
		return "", nil, err
	}
	day = strings.ToLower(t.In(zone).Weekday().String())
	for _, h := range l.OpeningHours {
		if h.Day == day {
			windows = append(windows, h.Opens+"–"+h.Closes)
		}
	}
	return day, windows, nil
}

// clock parses "HH:MM" (or "24:00") into the time since midnight.
func clock(s string) (time.Duration, error) {
	if s == EndOfDay {
		return 24 * time.Hour, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Client calls locations-api. Its HTTP client is the caller's platform.Deps.Client, which
// reaches locations-api by its service name (in-process in `orange dev`, its cluster-local
// URL on Knative) and authenticates as the calling function. An answer other than 2xx is a
// *platform.CallError; a transport failure is not.
type Client struct {
	http *http.Client
}

// NewClient returns a client over c.
func NewClient(c *http.Client) *Client { return &Client{http: c} }

// Location reads branch code (GET /api/locations/{code}; public). An unknown code is a 404
// *platform.CallError.
func (c *Client) Location(ctx context.Context, code string) (Location, error) {
	var out Location
	err := platform.CallJSON(ctx, c.http, http.MethodGet, Service, Prefix+"/"+url.PathEscape(code), nil, &out)
	return out, err
}
