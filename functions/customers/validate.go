package customers

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/orangecarrental/orange/platform"
)

// The limits the schema enforces too (migrations/0001_customers.sql).
const (
	// MinAccountAge is the age a customer must have reached to hold an account: a rental
	// contract needs full legal capacity (18 in Germany). Renting takes MinRentalAge.
	MinAccountAge = 18
	// MinLicenceAge is the youngest age at which any country issues a full car licence; an
	// earlier issue date is a typing error.
	MinLicenceAge = 16
)

var (
	earliestBirth       = NewDate(1900, 1, 1)
	countryPattern      = regexp.MustCompile(`^[A-Z]{2}$`)
	germanPostalPattern = regexp.MustCompile(`^[0-9]{5}$`)
	otherPostalPattern  = regexp.MustCompile(`^[A-Z0-9][A-Z0-9 -]{1,9}$`)
	phonePattern        = regexp.MustCompile(`^\+?[0-9 ()/-]{5,30}$`)
	licencePattern      = regexp.MustCompile(`^[A-Z0-9][A-Z0-9 -]{3,18}[A-Z0-9]$`)
	vatSeparators       = strings.NewReplacer(" ", "", ".", "", "-", "")
	// genericVATPattern is the shape every VAT id has: a two-letter prefix and 2–13 more
	// characters. vatPatterns hold the exact formats of the countries we see most.
	genericVATPattern = regexp.MustCompile(`^[A-Z]{2}[A-Z0-9+*]{2,13}$`)
	vatPatterns       = map[string]*regexp.Regexp{
		"DE": regexp.MustCompile(`^DE[0-9]{9}$`),
		"AT": regexp.MustCompile(`^ATU[0-9]{8}$`),
		"BE": regexp.MustCompile(`^BE[01][0-9]{9}$`),
		"DK": regexp.MustCompile(`^DK[0-9]{8}$`),
		"FR": regexp.MustCompile(`^FR[0-9A-HJ-NP-Z]{2}[0-9]{9}$`),
		"IT": regexp.MustCompile(`^IT[0-9]{11}$`),
		"LU": regexp.MustCompile(`^LU[0-9]{8}$`),
		"NL": regexp.MustCompile(`^NL[0-9]{9}B[0-9]{2}$`),
		"PL": regexp.MustCompile(`^PL[0-9]{10}$`),
	}
)

// normalize trims text and fills defaults, so validation and storage see one form.
func (p *Profile) normalize() {
	p.Type = Type(strings.ToLower(strings.TrimSpace(string(p.Type))))
	if p.Type == "" {
		p.Type = TypeIndividual
	}
	p.CompanyName = strings.TrimSpace(p.CompanyName)
	p.VATID = vatSeparators.Replace(strings.ToUpper(strings.TrimSpace(p.VATID)))
	p.FirstName = strings.TrimSpace(p.FirstName)
	p.LastName = strings.TrimSpace(p.LastName)
	p.Email = strings.TrimSpace(p.Email)
	p.Phone = strings.TrimSpace(p.Phone)
	p.DateOfBirth = strings.TrimSpace(p.DateOfBirth)
	p.Address.Street = strings.TrimSpace(p.Address.Street)
	p.Address.PostalCode = strings.ToUpper(strings.TrimSpace(p.Address.PostalCode))
	p.Address.City = strings.TrimSpace(p.Address.City)
	p.Address.Country = strings.ToUpper(strings.TrimSpace(p.Address.Country))
	if p.Address.Country == "" {
		p.Address.Country = "DE"
	}
	p.PreferredLanguage = Language(strings.ToLower(strings.TrimSpace(string(p.PreferredLanguage))))
	if p.PreferredLanguage == "" {
		p.PreferredLanguage = LanguageGerman
	}
}

// validate lists every invalid field of p (today is the current day in Germany) and keeps the
// parsed values for apply.
func (p *Profile) validate(today Date) platform.FieldErrors {
	var errs platform.FieldErrors
	if !p.Type.valid() {
		errs.Add("type", "must be individual or business")
	}
	if p.Type == TypeBusiness {
		if reason := companyNameProblem(p.CompanyName); reason != "" {
			errs.Add("companyName", reason)
		}
		if reason := vatProblem(p.VATID); reason != "" {
			errs.Add("vatId", reason)
		}
	} else {
		if p.CompanyName != "" {
			errs.Add("companyName", "only business customers have a company name")
		}
		if p.VATID != "" {
			errs.Add("vatId", "only business customers have a VAT id")
		}
	}
	if reason := nameProblem(p.FirstName); reason != "" {
		errs.Add("firstName", reason)
	}
	if reason := nameProblem(p.LastName); reason != "" {
		errs.Add("lastName", reason)
	}
	if reason := emailProblem(p.Email); reason != "" {
		errs.Add("email", reason)
	}
	switch {
	case strings.TrimSpace(p.Phone) == "":
		errs.Add("phone", "required: a phone number such as +49 30 1234567")
	case !phonePattern.MatchString(p.Phone):
		errs.Add("phone", "not a phone number: 5 to 30 digits, spaces and +()/-, such as +49 30 1234567")
	}
	p.parsed.dateOfBirth = Date{}
	if dob, err := ParseDate(p.DateOfBirth); err != nil {
		errs.Add("dateOfBirth", "required: a date such as 1990-04-12")
	} else if dob.Before(earliestBirth) {
		errs.Add("dateOfBirth", "must be 1900-01-01 or later")
	} else if dob.AddYears(MinAccountAge).After(today) {
		errs.Add("dateOfBirth", "customers must be at least 18 years old")
	} else {
		p.parsed.dateOfBirth = dob
	}
	validateAddress(&errs, p.Address)
	if !p.PreferredLanguage.valid() {
		errs.Add("preferredLanguage", "must be de or en")
	}
	return errs
}

func validateAddress(errs *platform.FieldErrors, a Address) {
	if n := utf8.RuneCountInString(a.Street); n < 1 || n > 200 {
		errs.Add("address.street", "required, at most 200 characters")
	} else if reason := textProblem(a.Street); reason != "" {
		errs.Add("address.street", reason)
	}
	if n := utf8.RuneCountInString(a.City); n < 1 || n > 100 {
		errs.Add("address.city", "required, at most 100 characters")
	} else if reason := textProblem(a.City); reason != "" {
		errs.Add("address.city", reason)
	}
	if !validCountry(a.Country) {
		errs.Add("address.country", "must be an ISO 3166-1 alpha-2 code such as DE")
	}
	// The postal code is checked whatever the country: a bad country hid a bad postal code
	// until the next submit. By the German rule only for Germany.
	switch {
	case a.Country == "DE" && !germanPostalPattern.MatchString(a.PostalCode):
		errs.Add("address.postalCode", "a German postal code has exactly 5 digits")
	case a.Country != "DE" && !otherPostalPattern.MatchString(a.PostalCode):
		errs.Add("address.postalCode", "must be 2 to 10 letters, digits, spaces or dashes")
	}
}

// emailProblem returns why s is not an email address we can write to, or "".
func emailProblem(s string) string {
	if s == "" || len(s) > 254 {
		return "required, at most 254 characters"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s, "@") {
		return "must be an email address such as anna@example.com"
	}
	domain := strings.ToLower(s[strings.LastIndex(s, "@")+1:])
	if domain == "invalid" || strings.HasSuffix(domain, ".invalid") {
		// Reserved (RFC 2606) and used for the placeholders of erased customers.
		return "must be an email address we can deliver to"
	}
	return ""
}

// vatProblem returns why id is not a well-formed VAT identification number, or "".
func vatProblem(id string) string {
	if id == "" {
		return "required for business customers"
	}
	if p, ok := vatPatterns[id[:min(2, len(id))]]; ok {
		if !p.MatchString(id) {
			if strings.HasPrefix(id, "DE") {
				return "a German VAT id is DE followed by 9 digits, such as DE123456789"
			}
			return "not a valid VAT id for its country"
		}
		return ""
	}
	if !genericVATPattern.MatchString(id) {
		return "must be a VAT id: a two-letter country prefix and 2 to 13 letters or digits"
	}
	return ""
}

// normalize makes a licence's text canonical.
func (l *LicenceInput) normalize() {
	l.Number = strings.ToUpper(strings.TrimSpace(l.Number))
	l.IssuingCountry = strings.ToUpper(strings.TrimSpace(l.IssuingCountry))
	l.IssueDate = strings.TrimSpace(l.IssueDate)
	l.ExpiryDate = strings.TrimSpace(l.ExpiryDate)
}

// validate lists every invalid field of l, named under prefix ("licence." in a registration,
// "" in a licence update), and keeps the parsed licence.
func (l *LicenceInput) validate(prefix string, today Date) platform.FieldErrors {
	var errs platform.FieldErrors
	if !licencePattern.MatchString(l.Number) {
		errs.Add(prefix+"number", "required: 5 to 20 letters or digits")
	}
	if !validCountry(l.IssuingCountry) {
		errs.Add(prefix+"issuingCountry", "must be an ISO 3166-1 alpha-2 code such as DE")
	}
	issued, issuedErr := ParseDate(l.IssueDate)
	switch {
	case issuedErr != nil:
		errs.Add(prefix+"issueDate", "required: a date such as 2012-05-31")
	case issued.After(today):
		errs.Add(prefix+"issueDate", "cannot be in the future")
	case issued.Before(earliestBirth):
		errs.Add(prefix+"issueDate", "must be 1900-01-01 or later")
	}
	expires, expiresErr := ParseDate(l.ExpiryDate)
	switch {
	case expiresErr != nil:
		errs.Add(prefix+"expiryDate", "required: a date such as 2037-05-30")
	case issuedErr == nil && !expires.After(issued):
		errs.Add(prefix+"expiryDate", "must be after the issue date")
	}
	l.parsed = Licence{Number: l.Number, IssuingCountry: l.IssuingCountry, IssueDate: issued, ExpiryDate: expires}
	return errs
}

// licenceMatchesBirth reports a licence dated before its holder could have had one. It needs
// both dates, so it runs once the record they meet in is known.
func licenceMatchesBirth(field string, l *Licence, dob Date) platform.FieldErrors {
	var errs platform.FieldErrors
	if l != nil && !dob.IsZero() && l.IssueDate.Before(dob.AddYears(MinLicenceAge)) {
		errs.Add(field, "a licence cannot be issued before its holder's 16th birthday")
	}
	return errs
}

// validateRegistration normalizes and validates a registration's profile and licence (when
// given), listing every invalid field of both.
func validateRegistration(p *Profile, l *LicenceInput, today Date) platform.FieldErrors {
	p.normalize()
	errs := p.validate(today)
	if l != nil {
		l.normalize()
		lerrs := l.validate("licence.", today)
		errs = append(errs, lerrs...)
		if len(lerrs) == 0 {
			errs = append(errs, licenceMatchesBirth("licence.issueDate", &l.parsed, p.parsed.dateOfBirth)...)
		}
	}
	return errs
}

// normalize trims a status change.
func (s *StatusChange) normalize() {
	s.Status = Status(strings.ToLower(strings.TrimSpace(string(s.Status))))
	s.Reason = strings.TrimSpace(s.Reason)
}

// validate lists every invalid field of a status change.
func (s StatusChange) validate() platform.FieldErrors {
	var errs platform.FieldErrors
	switch {
	case s.Status == StatusErased:
		errs.Add("status", "erasure is its own operation: POST /api/customers/{id}/erasure")
	case !s.Status.settable():
		errs.Add("status", "must be active, suspended or blocked")
	}
	if n := utf8.RuneCountInString(s.Reason); n < 1 || n > 500 {
		errs.Add("reason", "required, at most 500 characters: say why the status changes")
	}
	return errs
}

// validCountry tells whether c is an ISO 3166-1 alpha-2 code of a country ("XX", "EU", "ZZ"
// have the shape and name none).
func validCountry(c string) bool {
	if !countryPattern.MatchString(c) {
		return false
	}
	r, err := language.ParseRegion(c)
	return err == nil && r.IsCountry()
}
