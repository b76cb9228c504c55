package callcenter

import (
	"context"
	"net/url"
	"sort"
	"time"

	"github.com/orangecarrental/orange/functions/locations/locationsapi"
)

// Day is one calendar day of one branch, on the branch's own clock: the counter's lists are
// "today at BER-HBF", whatever zone the agent's browser or the server is in.
type Day struct {
	Branch locationsapi.Location
	Zone   *time.Location
	// Start and End are the day's first instant and the next day's first (a day of 23 or
	// 25 hours around a clock change included).
	Start, End time.Time
}

// branchDay is the day of branch in its time zone that holds at (the branch's "today" when
// at is now), or the given date (yyyy-mm-dd) when date is not empty.
func branchDay(branch locationsapi.Location, at time.Time, date string) (Day, error) {
	zone, err := branch.Zone()
	if err != nil {
		return Day{}, err
	}
	local := at.In(zone)
	y, m, d := local.Date()
	if date != "" {
		t, err := time.ParseInLocation("2006-01-02", date, zone)
		if err != nil {
			return Day{}, err
		}
		y, m, d = t.Date()
	}
	start := time.Date(y, m, d, 0, 0, 0, 0, zone)
	return Day{Branch: branch, Zone: zone, Start: start, End: time.Date(y, m, d+1, 0, 0, 0, 0, zone)}, nil
}

// CounterDay is what the counter of one branch has to do on one day.
type CounterDay struct {
	Day
	// Pickups are the confirmed bookings to hand over at the branch on the day, and those
	// of earlier days nobody has picked up yet (late: a no-show candidate).
	Pickups []Reservation
	// Returns are the cars out (active bookings) due back at the branch on the day or
	// before (overdue).
	Returns []Reservation
}

// maxCounterList bounds one list of the counter page: one page of reservations-api's
// search (its largest). A branch with more due in a day needs the booking search.
const maxCounterList = 100

// counterDay asks reservations-api for the branch's pickups and returns of day. The search
// answers bookings whose period overlaps a window at either of their branches; the counter
// keeps those whose pickup (return) is at this branch and falls before the day's end.
func (a api) counterDay(ctx context.Context, day Day) (CounterDay, error) {
	out := CounterDay{Day: day}
	// Confirmed bookings of the branch overlapping the week up to the day's end: a
	// confirmed booking whose pickup passed more than RESERVATION_NO_SHOW_GRACE (3 h) ago is
	// marked a no-show by the nightly sweep, so a week back finds every late one.
	pickups, err := a.reservations(ctx, url.Values{
		"status": {"confirmed"}, "location": {day.Branch.Code},
		"from": {day.Start.AddDate(0, 0, -7).UTC().Format(time.RFC3339)}, "to": {day.End.UTC().Format(time.RFC3339)},
		"sort": {"pickupAt"}, "pageSize": {"100"},
	})
	if err != nil {
		return out, err
	}
	for _, r := range pickups.Items {
		if r.PickupLocation == day.Branch.Code && r.PickupAt.Before(day.End) {
			out.Pickups = append(out.Pickups, r)
		}
	}
	// Cars out that come back here: every active booking of the branch (few at a time),
	// due before the day ends.
	returns, err := a.reservations(ctx, url.Values{
		"status": {"active"}, "location": {day.Branch.Code}, "sort": {"returnAt"}, "pageSize": {"100"},
	})
	if err != nil {
		return out, err
	}
	for _, r := range returns.Items {
		if r.ReturnLocation == day.Branch.Code && r.ReturnAt.Before(day.End) {
			out.Returns = append(out.Returns, r)
		}
	}
	sort.SliceStable(out.Returns, func(i, j int) bool { return out.Returns[i].ReturnAt.Before(out.Returns[j].ReturnAt) })
	return out, nil
}
