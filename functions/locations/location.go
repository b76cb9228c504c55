// Package locations is the locations-api function: the rental branches (code, address,
// coordinates, opening hours, status). Every other function refers to a branch by its code.
package locations

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/platform"
)

// Status is a branch's operating state.
type Status string

// The branch states (locationsapi's, the contract callers read). Only active branches take
// new rentals.
const (
	StatusActive      Status = locationsapi.StatusActive
	StatusClosed      Status = locationsapi.StatusClosed
	StatusMaintenance Status = locationsapi.StatusMaintenance
)

func (s Status) valid() bool {
	return s == StatusActive || s == StatusClosed || s == StatusMaintenance
}

// Location is a rental branch.
type Location struct {
	Code         string         `json:"code"`
	Name         string         `json:"name"`
	Address      Address        `json:"address"`
	Coordinates  *Coordinates   `json:"coordinates,omitempty"`
	Phone        string         `json:"phone,omitempty"`
	Email        string         `json:"email,omitempty"`
	TimeZone     string         `json:"timeZone"`
	OpeningHours []OpeningHours `json:"openingHours"`
	Status       Status         `json:"status"`
	Version      int            `json:"version"`
	CreatedAt    time.Time      `json:"createdAt"`
	UpdatedAt    time.Time      `json:"updatedAt"`
}

// Address is a postal address. Country is ISO 3166-1 alpha-2; German postal codes have five
// digits.
type Address struct {
	Street     string `json:"street"`
	PostalCode string `json:"postalCode"`
	City       string `json:"city"`
	Country    string `json:"country,omitempty"`
}

// Coordinates place a branch on the map (WGS 84 degrees).
type Coordinates struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// OpeningHours is one opening window on a weekday, local time of the branch (its TimeZone),
// from Opens up to Closes (exclusive). A day with no window is closed; a day may have several
// (a lunch break). Closes may be "24:00", the end of the day: a branch open around the clock
// has 00:00–24:00 every day. A window never crosses midnight (split it in two).
type OpeningHours struct {
	Day    string `json:"day"`
	Opens  string `json:"opens"`
	Closes string `json:"closes"`
}

// Details are the fields a create or update sets.
type Details struct {
	Name         string         `json:"name"`
	Address      Address        `json:"address"`
	Coordinates  *Coordinates   `json:"coordinates,omitempty"`
	Phone        string         `json:"phone,omitempty"`
	Email        string         `json:"email,omitempty"`
	TimeZone     string         `json:"timeZone,omitempty"`
	OpeningHours []OpeningHours `json:"openingHours,omitempty"`
}

// NewLocation is the body of a create.
type NewLocation struct {
	Code string `json:"code"`
	Details
}

var (
	germanPostalPattern = regexp.MustCompile(`^[0-9]{5}$`)
	otherPostalPattern  = regexp.MustCompile(`^[A-Z0-9][A-Z0-9 -]{1,9}$`)
	countryPattern      = regexp.MustCompile(`^[A-Z]{2}$`)
	clockPattern        = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	phonePattern        = regexp.MustCompile(`^\+?[0-9 ()/-]{5,30}$`)
	weekdays            = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
)

// EndOfDay is the closing time of a window that lasts to midnight.
const EndOfDay = locationsapi.EndOfDay

// NormalizeCode makes a caller's code canonical (codes are upper case; callers may not be).
func NormalizeCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// normalize trims text fields and fills defaults, so validation and storage see one form.
func (d *Details) normalize() {
	d.Name = strings.TrimSpace(d.Name)
	d.Address.Street = strings.TrimSpace(d.Address.Street)
	d.Address.PostalCode = strings.ToUpper(strings.TrimSpace(d.Address.PostalCode))
	d.Address.City = strings.TrimSpace(d.Address.City)
	d.Address.Country = strings.ToUpper(strings.TrimSpace(d.Address.Country))
	if d.Address.Country == "" {
		d.Address.Country = "DE"
	}
	d.Phone = strings.TrimSpace(d.Phone)
	d.Email = strings.TrimSpace(d.Email)
	if d.TimeZone == "" {
		d.TimeZone = "Europe/Berlin"
	}
	for i := range d.OpeningHours {
		d.OpeningHours[i].Day = strings.ToLower(strings.TrimSpace(d.OpeningHours[i].Day))
	}
	if d.OpeningHours == nil {
		d.OpeningHours = []OpeningHours{}
	}
}

// validate lists every invalid field at once, so a form can show them together.
func (d Details) validate() []platform.FieldError {
	var errs platform.FieldErrors
	if d.Name == "" || len(d.Name) > 200 {
		errs.Add("name", "required, at most 200 characters")
	}
	if d.Address.Street == "" || len(d.Address.Street) > 200 {
		errs.Add("address.street", "required, at most 200 characters")
	}
	if d.Address.City == "" || len(d.Address.City) > 100 {
		errs.Add("address.city", "required, at most 100 characters")
	}
	switch {
	case !countryPattern.MatchString(d.Address.Country):
		errs.Add("address.country", "must be an ISO 3166-1 alpha-2 code such as DE")
	case d.Address.Country == "DE" && !germanPostalPattern.MatchString(d.Address.PostalCode):
		errs.Add("address.postalCode", "a German postal code has exactly 5 digits")
	case d.Address.Country != "DE" && !otherPostalPattern.MatchString(d.Address.PostalCode):
		errs.Add("address.postalCode", "must be 2 to 10 letters, digits, spaces or dashes")
	}
	if c := d.Coordinates; c != nil {
		if c.Latitude < -90 || c.Latitude > 90 {
			errs.Add("coordinates.latitude", "must be between -90 and 90")
		}
		if c.Longitude < -180 || c.Longitude > 180 {
			errs.Add("coordinates.longitude", "must be between -180 and 180")
		}
	}
	if d.Phone != "" && !phonePattern.MatchString(d.Phone) {
		errs.Add("phone", "must be a phone number such as +49 30 1234560")
	}
	if d.Email != "" {
		if a, err := mail.ParseAddress(d.Email); err != nil || a.Address != d.Email {
			errs.Add("email", "must be an email address")
		}
	}
	if _, err := time.LoadLocation(d.TimeZone); err != nil || d.TimeZone == "Local" {
		errs.Add("timeZone", "must be an IANA time zone such as Europe/Berlin")
	}
	for i, h := range d.OpeningHours {
		field := fmt.Sprintf("openingHours[%d]", i)
		if !isWeekday(h.Day) {
			errs.Add(field+".day", "must be a weekday name such as monday")
		}
		if !clockPattern.MatchString(h.Opens) || !clockPattern.MatchString(h.Closes) && h.Closes != EndOfDay {
			errs.Add(field, "opens and closes must be HH:MM (closes may be 24:00, the end of the day)")
		} else if h.Opens >= h.Closes {
			errs.Add(field, "must open before it closes")
		} else {
			// A window may not overlap another of its day (nor repeat it): the hours are one
			// week, not a pile of windows (1,100 identical mondays were stored).
			for j, g := range d.OpeningHours[:i] {
				if g.Day == h.Day && g.Opens < h.Closes && h.Opens < g.Closes {
					errs.Add(field, fmt.Sprintf("overlaps openingHours[%d] (%s %s–%s)", j, g.Day, g.Opens, g.Closes))
					break
				}
			}
		}
	}
	if len(d.OpeningHours) > maxOpeningWindows {
		errs.Add("openingHours", fmt.Sprintf("at most %d windows: a few a day", maxOpeningWindows))
	}
	return errs
}

// maxOpeningWindows bounds a week's opening windows.
const maxOpeningWindows = 7 * 4

func isWeekday(day string) bool {
	for _, d := range weekdays {
		if d == day {
			return true
		}
	}
	return false
}
