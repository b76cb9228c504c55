package customers

import (
	"fmt"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/platform"
)

// The eligibility rules (design.md §4, issue 5).
const (
	// MinRentalAge is the age a driver must have reached on the pickup day.
	MinRentalAge = 21
	// MinLicenceYears is how long the licence must have been held on the pickup day.
	MinLicenceYears = 1
)

// Finding codes: stable, for clients to switch on (and to translate); the messages are for
// people reading the response.
const (
	ReasonSuspended       = "customer_suspended"
	ReasonBlocked         = "customer_blocked"
	ReasonErased          = "customer_erased"
	ReasonEmailUnverified = "email_not_verified"
	ReasonUnderAge        = "under_minimum_age"
	ReasonNoLicence       = "licence_missing"
	ReasonLicenceTooNew   = "licence_held_less_than_one_year"
	ReasonLicenceExpires  = "licence_expires_before_return"
	WarningNonEULicence   = "licence_issued_outside_eu"
)

// euCountries are the EU member states (ISO 3166-1 alpha-2). Their licences are valid
// throughout the EU (Directive 2006/126/EC); any other licence gets a warning so the branch
// checks for an international driving permit or a translation at pickup.
var euCountries = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true,
	"EE": true, "FI": true, "FR": true, "DE": true, "GR": true, "HU": true, "IE": true,
	"IT": true, "LV": true, "LT": true, "LU": true, "MT": true, "NL": true, "PL": true,
	"PT": true, "RO": true, "SK": true, "SI": true, "ES": true, "SE": true,
}

// Period is the body of an eligibility check: when the rental would start and end. The
// times are strings so that a malformed one is reported under its field name.
type Period = customersapi.Period

// Rental is a validated Period reduced to what the rules look at: calendar days in Germany.
type Rental struct {
	PickupDay Date
	ReturnDay Date
}

// validatePeriod parses p into the rental days in zone, listing every invalid field.
func validatePeriod(p Period, zone *time.Location) (Rental, platform.FieldErrors) {
	var errs platform.FieldErrors
	pickup, perr := platform.ParseTime(p.PickupAt)
	if perr != nil {
		errs.Add("pickupAt", platform.TimeReason(p.PickupAt, "2027-05-01T10:00:00+02:00"))
	}
	ret, rerr := platform.ParseTime(p.ReturnAt)
	if rerr != nil {
		errs.Add("returnAt", platform.TimeReason(p.ReturnAt, "2027-05-04T10:00:00+02:00"))
	}
	if perr == nil && rerr == nil && !ret.After(pickup) {
		errs.Add("returnAt", "must be after pickupAt")
	}
	return Rental{PickupDay: DayIn(pickup, zone), ReturnDay: DayIn(ret, zone)}, errs
}

// Finding is one reason or warning of an eligibility decision.
type Finding = customersapi.Finding

// Eligibility is the decision whether a customer may rent for a period. Reasons refuse;
// warnings do not, but the branch must act on them at pickup. It is the contract's type:
// reservations-api reads it (with the customer's id, email and status) for every booking.
type Eligibility = customersapi.Eligibility

// Assess applies every rule to c for rental r and reports all that fail, not just the first:
// an agent on the phone needs the whole list. A stored customer's decision names the
// customer (id, email, status); an applicant's (c without an id) names nobody.
//
//   - The account must be active (suspended, blocked and erased customers are refused).
//   - An account's email address must be verified (issue 11): a registration proves nothing
//     about the address until its owner follows the link of the welcome mail. Guests are
//     registered by a guest booking, which has its own limits (reservations), and an
//     applicant is nobody's account yet: the rule is not theirs.
//   - The driver must be at least 21 on the pickup day: someone whose 21st birthday is the
//     pickup day may rent.
//   - The licence must have been issued at least a year before the pickup day: issued exactly
//     one year before (same date) is enough.
//   - The licence must be valid through the return day: a licence whose expiry date is the
//     return day is still valid that whole day, so the rental is allowed; one expiring the day
//     before is not.
//   - A licence issued outside the EU is a warning, not a refusal.
func Assess(c Customer, r Rental) Eligibility {
	e := Eligibility{PickupDay: r.PickupDay.String(), ReturnDay: r.ReturnDay.String(), Reasons: []Finding{}, Warnings: []Finding{}}
	if c.ID != "" {
		e.CustomerID = c.ID
		e.Customer = &customersapi.Customer{ID: c.ID, Email: c.Email, Status: string(c.Status)}
	}
	refuse := func(code, format string, args ...any) {
		e.Reasons = append(e.Reasons, Finding{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	switch c.Status {
	case StatusErased:
		refuse(ReasonErased, "the customer's data has been erased")
		return e
	case StatusSuspended:
		refuse(ReasonSuspended, "the customer account is suspended")
	case StatusBlocked:
		refuse(ReasonBlocked, "the customer account is blocked")
	}
	if c.ID != "" && c.Kind == KindAccount && !c.EmailVerified {
		refuse(ReasonEmailUnverified, "the account's email address is not verified yet: follow the link in the welcome mail")
	}
	if adult := c.DateOfBirth.AddYears(MinRentalAge); adult.After(r.PickupDay) {
		refuse(ReasonUnderAge, "drivers must be %d on the pickup day %s; the driver turns %d on %s", MinRentalAge, r.PickupDay, MinRentalAge, adult)
	}
	if l := c.Licence; l == nil {
		refuse(ReasonNoLicence, "no driver's licence has been given yet")
	} else {
		if held := l.IssueDate.AddYears(MinLicenceYears); held.After(r.PickupDay) {
			refuse(ReasonLicenceTooNew, "the licence must have been held for a year on the pickup day %s; it was issued on %s", r.PickupDay, l.IssueDate)
		}
		if l.ExpiryDate.Before(r.ReturnDay) {
			refuse(ReasonLicenceExpires, "the licence expires on %s, before the return day %s", l.ExpiryDate, r.ReturnDay)
		}
		if !euCountries[l.IssuingCountry] {
			e.Warnings = append(e.Warnings, Finding{Code: WarningNonEULicence,
				Message: fmt.Sprintf("the licence was issued outside the EU (%s): check for an international driving permit or a certified translation at pickup", l.IssuingCountry)})
		}
	}
	e.Eligible = len(e.Reasons) == 0
	return e
}

// Applicant is the body of an eligibility check of someone not registered yet: the date of
// birth and licence as a registration states them, and the rental period.
type Applicant = customersapi.Applicant

// validateApplicant parses an applicant into the record the rules assess (an active
// customer without an id) and the rental, listing every invalid field under the names a
// registration uses (prefixed "registration." for a whole registration, which is validated
// as POST /api/customers would). A missing licence is no error: the decision refuses it.
func validateApplicant(a Applicant, today Date, zone *time.Location) (Customer, Rental, platform.FieldErrors) {
	rental, errs := validatePeriod(Period{PickupAt: a.PickupAt, ReturnAt: a.ReturnAt}, zone)
	c := Customer{Status: StatusActive}
	if a.Registration != nil {
		if a.DateOfBirth != "" || a.Licence != nil {
			errs.Add("registration", "give the date of birth and the licence in the registration, not beside it")
		}
		profile, licence := splitRegistration(*a.Registration)
		rerrs := validateRegistration(&profile, licence, today)
		for _, e := range rerrs {
			errs.Add("registration."+e.Field, e.Reason)
		}
		if len(rerrs) == 0 {
			c.DateOfBirth = profile.parsed.dateOfBirth
			if licence != nil {
				c.Licence = &licence.parsed
			}
		}
		return c, rental, errs
	}
	dob, err := ParseDate(strings.TrimSpace(a.DateOfBirth))
	switch {
	case err != nil:
		errs.Add("dateOfBirth", "required: a date such as 1990-04-12")
	case dob.Before(earliestBirth) || dob.After(today):
		errs.Add("dateOfBirth", "must be from 1900-01-01 to today")
	default:
		c.DateOfBirth = dob
	}
	if a.Licence != nil {
		l := LicenceInput{Licence: *a.Licence}
		l.normalize()
		lerrs := l.validate("licence.", today)
		errs = append(errs, lerrs...)
		if len(lerrs) == 0 {
			errs = append(errs, licenceMatchesBirth("licence.issueDate", &l.parsed, c.DateOfBirth)...)
			c.Licence = &l.parsed
		}
	}
	return c, rental, errs
}
