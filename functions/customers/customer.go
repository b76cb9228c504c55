package customers

import (
	"time"

	"github.com/orangecarrental/orange/functions/customers/customersapi"
)

// Type says whether a customer rents privately or for a company.
type Type string

// The customer types. Business customers are invoiced to their company, with its VAT id.
const (
	TypeIndividual Type = "individual"
	TypeBusiness   Type = "business"
)

func (t Type) valid() bool { return t == TypeIndividual || t == TypeBusiness }

// Status is a customer account's standing.
type Status string

// The account states. Only active customers may rent. Suspended is temporary (a payment to
// clear, a document to check), blocked is for good (fraud, an unpaid damage claim); agents set
// both. Erased is the end state of a GDPR erasure and is reached only through the erasure
// operation, never by a status change.
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusBlocked   Status = "blocked"
	StatusErased    Status = "erased"
)

// settable reports whether an agent may set s through a status change.
func (s Status) settable() bool {
	return s == StatusActive || s == StatusSuspended || s == StatusBlocked
}

func (s Status) valid() bool { return s.settable() || s == StatusErased }

// Kind says how a customer came to us: an account registered to sign in and book, or a
// guest registered by a guest booking (reservations-api, POST /api/customers/guests).
type Kind string

// The kinds. An account's email address must be verified before it can book (eligibility
// refuses it until then), and its registration sends a welcome mail with the verification
// link. A guest gets no welcome: its booking is its mail (docs/customers.md).
const (
	KindAccount Kind = "account"
	KindGuest   Kind = "guest"
)

// Language is the language a customer is written to in; the notifier picks its templates by it.
type Language string

// The languages we write in. German is the default: the company rents in Germany.
const (
	LanguageGerman  Language = "de"
	LanguageEnglish Language = "en"
)

func (l Language) valid() bool { return l == LanguageGerman || l == LanguageEnglish }

// Customer is a customer's record as the API shows it. An erased customer keeps only what
// bookkeeping needs (id, type, company name and VAT id, country, language, dates); every
// personal field is empty.
type Customer struct {
	ID          string `json:"id"`
	Kind        Kind   `json:"kind"`
	Type        Type   `json:"type"`
	CompanyName string `json:"companyName,omitempty"`
	VATID       string `json:"vatId,omitempty"`
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Email       string `json:"email"`
	// EmailVerified says that someone followed the link sent to Email (accounts), or that
	// the address predates verification (docs/customers.md). It is false again after the
	// address changes.
	EmailVerified bool   `json:"emailVerified"`
	Phone         string `json:"phone,omitempty"`
	// DateOfBirth is zero only for erased customers.
	DateOfBirth Date    `json:"dateOfBirth,omitzero"`
	Address     Address `json:"address"`
	// Licence is nil until the customer gives one (registration may come before it).
	Licence           *Licence `json:"licence,omitempty"`
	PreferredLanguage Language `json:"preferredLanguage"`
	Status            Status   `json:"status"`
	// StatusReason is the agent's note on the last status change; only staff see it.
	StatusReason string     `json:"statusReason,omitempty"`
	ErasedAt     *time.Time `json:"erasedAt,omitempty"`
	Version      int        `json:"version"`
	CreatedAt    time.Time  `json:"createdAt"`
	UpdatedAt    time.Time  `json:"updatedAt"`

	// statusChangedBy names who made the last status change (kept for disputes; not shown).
	statusChangedBy string
}

// Erased reports whether the customer's personal data has been erased.
func (c Customer) Erased() bool { return c.Status == StatusErased }

// Address is a postal address. Country is ISO 3166-1 alpha-2; German postal codes have five
// digits. Street, postal code and city are empty only for erased customers, whose country is
// kept (it decides how their past invoices were taxed). It is the contract's type.
type Address = customersapi.Address

// Licence is a driver's licence.
type Licence struct {
	Number string `json:"number"`
	// IssuingCountry is ISO 3166-1 alpha-2; outside the EU the branch checks for an
	// international driving permit (an eligibility warning).
	IssuingCountry string `json:"issuingCountry"`
	IssueDate      Date   `json:"issueDate"`
	// ExpiryDate is the last day the licence is valid on.
	ExpiryDate Date `json:"expiryDate"`
}

// Profile is what a customer states about themselves: the body of a profile update and the
// core of a registration. Dates are strings here so that a malformed one is reported under its
// field name with every other bad field.
type Profile struct {
	Type              Type         `json:"type,omitempty"`
	CompanyName       string       `json:"companyName,omitempty"`
	VATID             string       `json:"vatId,omitempty"`
	FirstName         string       `json:"firstName"`
	LastName          string       `json:"lastName"`
	Email             string       `json:"email"`
	Phone             string       `json:"phone"`
	DateOfBirth       string       `json:"dateOfBirth"`
	Address           Address      `json:"address"`
	PreferredLanguage Language     `json:"preferredLanguage,omitempty"`
	parsed            parsedFields // filled by validate
}

// LicenceInput is the body of a licence update and the optional licence of a registration:
// the contract's Licence and, once validated, its parsed form.
type LicenceInput struct {
	customersapi.Licence
	parsed Licence // filled by validate
}

// Registration is the body of a registration: a profile and, if the customer has it at hand,
// the licence. It is the contract's type, which guest bookings send through reservations-api.
type Registration = customersapi.Registration

// splitRegistration separates a registration into the profile and the licence it is
// validated as.
func splitRegistration(r Registration) (Profile, *LicenceInput) {
	p := Profile{Type: Type(r.Type), CompanyName: r.CompanyName, VATID: r.VATID, FirstName: r.FirstName,
		LastName: r.LastName, Email: r.Email, Phone: r.Phone, DateOfBirth: r.DateOfBirth,
		Address: r.Address, PreferredLanguage: Language(r.PreferredLanguage)}
	if r.Licence == nil {
		return p, nil
	}
	return p, &LicenceInput{Licence: *r.Licence}
}

// StatusChange is the body of a status change: agents always say why.
type StatusChange struct {
	Status Status `json:"status"`
	Reason string `json:"reason"`
}

// parsedFields are a Profile's values that validation parses.
type parsedFields struct {
	dateOfBirth Date
}

// apply copies a validated profile into c.
func (p Profile) apply(c *Customer) {
	c.Type = p.Type
	c.CompanyName = p.CompanyName
	c.VATID = p.VATID
	c.FirstName = p.FirstName
	c.LastName = p.LastName
	c.Email = p.Email
	c.Phone = p.Phone
	c.DateOfBirth = p.parsed.dateOfBirth
	c.Address = p.Address
	c.PreferredLanguage = p.PreferredLanguage
}

// newCustomer is the record a validated registration of kind k creates: active, its email
// address not verified, version 1.
func newCustomer(k Kind, p Profile, l *LicenceInput) Customer {
	c := Customer{Kind: k, Status: StatusActive}
	p.apply(&c)
	if l != nil {
		parsed := l.parsed
		c.Licence = &parsed
	}
	return c
}
