// Package customersapi is customers-api's contract with the functions that call it
// (design.md §3): the request and response types of the operations they use and a typed
// client. Callers import this package and nothing else of customers; customers itself
// serves these very types, so the two cannot drift, and a contract test runs the client
// against the real function.
//
// Dates are "2006-01-02" strings and times RFC 3339 strings, as on the wire: customers-api
// reports a malformed one under its field name.
package customersapi

// Service is customers-api's Knative Service name, the host its client addresses.
const Service = "customers-api"

// Prefix is where customers-api serves its operations.
const Prefix = "/api/customers"

// Period is the body of an eligibility check of a customer: when the rental would start and
// end.
type Period struct {
	PickupAt string `json:"pickupAt"`
	ReturnAt string `json:"returnAt"`
}

// Applicant is the body of an eligibility check of someone who is not a customer yet (a
// guest booking before it registers the guest): what the rules look at — the date of birth
// and the driver's licence, as a registration gives them — and the rental period. Or, in
// place of the date of birth and the licence, the whole Registration: it is then validated
// as a registration would be, so one answer lists every invalid field of it (under
// "registration.") before the rules decide on it.
type Applicant struct {
	DateOfBirth  string        `json:"dateOfBirth,omitempty"`
	Licence      *Licence      `json:"licence,omitempty"`
	Registration *Registration `json:"registration,omitempty"`
	PickupAt     string        `json:"pickupAt"`
	ReturnAt     string        `json:"returnAt"`
}

// Licence is a driver's licence as a registration or a licence update states it.
type Licence struct {
	Number         string `json:"number"`
	IssuingCountry string `json:"issuingCountry"`
	IssueDate      string `json:"issueDate"`
	ExpiryDate     string `json:"expiryDate"`
}

// Address is a postal address: Country is ISO 3166-1 alpha-2 (default DE).
type Address struct {
	Street     string `json:"street,omitempty"`
	PostalCode string `json:"postalCode,omitempty"`
	City       string `json:"city,omitempty"`
	Country    string `json:"country"`
}

// Registration is the body of a registration: a profile and, if the customer has it at
// hand, the licence. Type is individual (default) or business; PreferredLanguage de
// (default) or en.
type Registration struct {
	Type              string   `json:"type,omitempty"`
	CompanyName       string   `json:"companyName,omitempty"`
	VATID             string   `json:"vatId,omitempty"`
	FirstName         string   `json:"firstName"`
	LastName          string   `json:"lastName"`
	Email             string   `json:"email"`
	Phone             string   `json:"phone"`
	DateOfBirth       string   `json:"dateOfBirth"`
	Address           Address  `json:"address"`
	PreferredLanguage string   `json:"preferredLanguage,omitempty"`
	Licence           *Licence `json:"licence,omitempty"`
}

// Customer is what other functions need of a customer record: who it is, where to write to
// and its account status (active, suspended, blocked, erased). The record customers-api
// shows has more; these fields are part of it.
type Customer struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Status string `json:"status"`
}

// Finding is one reason or warning of an eligibility decision: a stable Code to switch on
// and a Message for people.
type Finding struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Eligibility is the decision whether a customer (or an applicant) may rent for a period.
// Reasons refuse; warnings do not, but the branch must act on them at pickup. For a
// customer's check, CustomerID and Customer say whose record was assessed, so a caller needs
// no second call to read it; an applicant's check has neither.
type Eligibility struct {
	CustomerID string    `json:"customerId,omitempty"`
	Customer   *Customer `json:"customer,omitempty"`
	Eligible   bool      `json:"eligible"`
	// PickupDay and ReturnDay are the days the rental starts and ends in Germany.
	PickupDay string    `json:"pickupDay"`
	ReturnDay string    `json:"returnDay"`
	Reasons   []Finding `json:"reasons"`
	Warnings  []Finding `json:"warnings"`
}

// Messages are the messages of findings, in order.
func Messages(fs []Finding) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Message)
	}
	return out
}

// Record is what payments-api reads of a customer's record for an invoice: the type
// (individual or business) and a business's company name and VAT id, which customers-api
// keeps through an erasure (they name a business, not a person). The record has more; these
// fields are part of it.
type Record struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	CompanyName string `json:"companyName,omitempty"`
	VATID       string `json:"vatId,omitempty"`
	Status      string `json:"status"`
}
