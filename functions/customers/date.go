package customers

import (
	"fmt"
	"time"
)

// Date is a calendar day with no time of day and no zone: a date of birth, a licence's issue
// and expiry dates, the day a rental starts. Rules about ages and licences are rules about
// days, so they compare Dates, never instants. It is "2006-01-02" in JSON and a SQL date.
type Date struct {
	year  int
	month time.Month
	day   int
}

// dateLayout is the one textual form of a Date (ISO 8601 calendar date).
const dateLayout = "2006-01-02"

// NewDate returns the given day; out-of-range values normalise as time.Date does.
func NewDate(year int, month time.Month, day int) Date {
	return dateOf(time.Date(year, month, day, 0, 0, 0, 0, time.UTC))
}

// ParseDate reads "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date such as 1990-04-12", s)
	}
	return dateOf(t), nil
}

// DayIn returns the calendar day instant t falls on in zone.
func DayIn(t time.Time, zone *time.Location) Date { return dateOf(t.In(zone)) }

func dateOf(t time.Time) Date { return Date{year: t.Year(), month: t.Month(), day: t.Day()} }

// Time is the day's midnight in UTC (what a SQL date parameter needs).
func (d Date) Time() time.Time { return time.Date(d.year, d.month, d.day, 0, 0, 0, 0, time.UTC) }

// IsZero reports whether d is the zero Date (no date).
func (d Date) IsZero() bool { return d == Date{} }

// AddYears moves d by n years. 29 February plus a year that has no 29 February is 1 March:
// someone born on a leap day turns 21 on 1 March in common years (BGB §188(3) reckoning).
func (d Date) AddYears(n int) Date { return dateOf(d.Time().AddDate(n, 0, 0)) }

// AddDays moves d by n days.
func (d Date) AddDays(n int) Date { return dateOf(d.Time().AddDate(0, 0, n)) }

// Before reports whether d is an earlier day than o.
func (d Date) Before(o Date) bool { return d.Time().Before(o.Time()) }

// After reports whether d is a later day than o.
func (d Date) After(o Date) bool { return d.Time().After(o.Time()) }

// String is the ISO form, "2006-01-02".
func (d Date) String() string { return d.Time().Format(dateLayout) }

// MarshalJSON writes the ISO form.
func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON reads the ISO form. Request bodies decode dates as strings instead, so that a
// bad date is reported with its field name; this serves clients of the API (and tests).
func (d *Date) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("a date must be a JSON string")
	}
	v, err := ParseDate(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// datePtr converts a nullable SQL date.
func datePtr(t *time.Time) Date {
	if t == nil {
		return Date{}
	}
	return dateOf(*t)
}

// dateArg is the SQL parameter for d: NULL for the zero Date.
func dateArg(d Date) any {
	if d.IsZero() {
		return nil
	}
	return d.Time()
}
