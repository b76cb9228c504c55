package reservations

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/platform"
)

// Branches (docs/counter.md): reservations reads a branch — its status, time zone and
// opening hours — from locations-api through locationsapi, and keeps what it read for
// RESERVATION_BRANCH_TTL (30 s by default), so a booking does not pay a call per branch: a
// branch closed by a fleet manager refuses bookings at most that long after the change.

// DefaultBranchTTL is how long a branch read from locations-api is used without asking again.
const DefaultBranchTTL = 30 * time.Second

// branchCache is the locations-api cache reservations reads branches through.
type branchCache struct{ *locationsapi.Cache }

func newBranchCache(client *http.Client, timeout, ttl time.Duration) *branchCache {
	return &branchCache{locationsapi.NewCache(locationsapi.NewClient(client), timeout, ttl)}
}

// errNoBranch is locations-api's answer for a code it does not know.
var errNoBranch = locationsapi.ErrUnknown

// get returns branch code: errNoBranch for an unknown one; anything else that keeps
// locations-api from answering is unavailable.
func (c *branchCache) get(ctx context.Context, code string) (locationsapi.Location, error) {
	l, err := c.Location(ctx, code)
	if err != nil && !errors.Is(err, errNoBranch) {
		return locationsapi.Location{}, unavailable("locations-api location", err)
	}
	return l, err
}

// branchRefusals are the reasons one booking does not fit its branches.
type branchRefusals []platform.FieldError

// checkBranches holds a booking's branches and times to locations' rules: both branches
// exist (else 400 naming the field), take bookings — a closed branch or one in maintenance
// does not — and the pickup falls inside the pickup branch's opening hours and the return
// inside the return branch's, each in that branch's own time zone (else 422 naming each
// field, the answer saying the hours of that day). Every booking is checked, walk-ins
// included (docs/counter.md says why).
func (s *Service) checkBranches(ctx context.Context, pickupLocation, returnLocation string, pickupAt, returnAt time.Time) error {
	if returnLocation == "" {
		returnLocation = pickupLocation
	}
	var unknown platform.FieldErrors
	pick, perr := s.branches.get(ctx, pickupLocation)
	ret, rerr := pick, perr
	if returnLocation != pickupLocation {
		ret, rerr = s.branches.get(ctx, returnLocation)
	}
	for _, e := range []struct {
		field string
		err   error
	}{{"pickupLocation", perr}, {"returnLocation", rerr}} {
		switch {
		case errors.Is(e.err, errNoBranch):
			unknown.Add(e.field, "no such branch")
		case e.err != nil:
			return e.err
		}
	}
	if len(unknown) > 0 {
		return platform.Invalid("the booking is invalid", unknown...)
	}
	var refused branchRefusals
	refused.check(pick, "pickupLocation", "pickupAt", "picked up", pickupAt)
	if returnLocation != pickupLocation || pick.Status == locationsapi.StatusActive {
		// A branch that takes no bookings is named once, as the pickup's.
		refused.check(ret, "returnLocation", "returnAt", "returned", returnAt)
	}
	if len(refused) > 0 {
		msgs := make([]string, len(refused))
		for i, f := range refused {
			msgs[i] = f.Reason
		}
		return &platform.Error{Kind: platform.KindUnprocessable, Fields: refused,
			Message: "the booking does not fit its branches: " + strings.Join(msgs, "; ")}
	}
	return nil
}

// check adds why branch b refuses a car to be moved (verb) at instant at, if it does.
func (r *branchRefusals) check(b locationsapi.Location, branchField, timeField, verb string, at time.Time) {
	if f := b.Refusal(branchField, timeField, verb, at); f != nil {
		*r = append(*r, *f)
	}
}

// branchDay answers the calendar day of an instant at the branch with code, in the
// branch's own time zone.
func (s *Service) branchDay(ctx context.Context, code string) (func(time.Time) string, error) {
	b, err := s.branches.get(ctx, code)
	if errors.Is(err, errNoBranch) {
		return nil, platform.Conflict("the branch %s no longer exists", code).WithCode("branch_gone")
	}
	if err != nil {
		return nil, err
	}
	zone, _ := b.Zone() // get checked it
	return func(t time.Time) string { return t.In(zone).Format(time.DateOnly) }, nil
}
