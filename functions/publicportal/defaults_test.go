package publicportal

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/orangecarrental/orange/functions/locations/locationsapi"
)

// The empty search form proposes 10:00 on days the branch is open then: the search is refused
// outside the branch's hours, so a default on a closed Sunday was a 422 for an untouched form.
func TestSearchDefaultsOnOpenDays(t *testing.T) {
	t.Parallel()
	weekdays := []locationsapi.OpeningHours{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
		weekdays = append(weekdays, locationsapi.OpeningHours{Day: d, Opens: "08:00", Closes: "18:00"})
	}
	branches := []Branch{{Code: "BER-HBF", TimeZone: "Europe/Berlin", Status: "active", OpeningHours: weekdays}}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tc := range []struct{ now, pickup, ret string }{
		{"2027-01-05 12:00", "2027-01-06T10:00", "2027-01-11T10:00"}, // Tuesday: Wednesday, three days on is Saturday → Monday
		{"2027-01-09 12:00", "2027-01-11T10:00", "2027-01-14T10:00"}, // Saturday: Monday to Thursday
		{"2027-01-03 23:30", "2027-01-04T10:00", "2027-01-07T10:00"}, // Sunday night: Monday
	} {
		now, _ := time.ParseInLocation("2006-01-02 15:04", tc.now, berlin)
		v := searchDefaults(url.Values{}, branches, now)
		assert.Equal(t, "BER-HBF", v.Get("location"), tc.now)
		assert.Equal(t, tc.pickup, v.Get("pickup"), tc.now)
		assert.Equal(t, tc.ret, v.Get("return"), tc.now)
	}
}
