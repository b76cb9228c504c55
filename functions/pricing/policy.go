package pricing

import (
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// RatePolicy is a net daily rate for a vehicle category, at one branch or (LocationCode nil)
// at every branch, valid from ValidFrom (inclusive) to ValidTo (exclusive; nil: until further
// notice). Among active policies, at most one per category and branch is valid at any
// instant (the schema enforces it); a branch's own policy beats the general one.
type RatePolicy struct {
	ID                string   `json:"id"`
	Category          Category `json:"category"`
	LocationCode      *string  `json:"locationCode"`
	DailyRateNetCents int64    `json:"dailyRateNetCents"`
	// DailyRateGrossCents is the daily rate with VAT, for display.
	DailyRateGrossCents int64      `json:"dailyRateGrossCents"`
	ValidFrom           time.Time  `json:"validFrom"`
	ValidTo             *time.Time `json:"validTo"`
	// Active is false once deactivated: the policy stays readable (it priced past quotes)
	// but prices nothing and blocks no other policy.
	Active        bool       `json:"active"`
	Version       int        `json:"version"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	DeactivatedAt *time.Time `json:"deactivatedAt,omitempty"`
}

// PolicyTerms are the fields an update replaces. Category and branch are what a policy is
// about and cannot change: to price another category, create another policy.
type PolicyTerms struct {
	DailyRateNetCents int64   `json:"dailyRateNetCents"`
	ValidFrom         string  `json:"validFrom"`
	ValidTo           *string `json:"validTo,omitempty"`
}

// NewRatePolicy is the body of a create. (The terms are spelled out rather than embedded, so
// that decoding errors name a field as the client wrote it.)
type NewRatePolicy struct {
	Category string `json:"category"`
	// LocationCode is a branch code; absent, null or "" makes a general policy.
	LocationCode      *string `json:"locationCode,omitempty"`
	DailyRateNetCents int64   `json:"dailyRateNetCents"`
	ValidFrom         string  `json:"validFrom"`
	ValidTo           *string `json:"validTo,omitempty"`
}

// terms are validated PolicyTerms.
type terms struct {
	dailyNet  int64
	validFrom time.Time
	validTo   *time.Time
}

// policyDraft is a validated NewRatePolicy.
type policyDraft struct {
	category Category
	location *string
	terms
}

// check checks the terms, recording every invalid field in errs.
func (p PolicyTerms) check(errs *platform.FieldErrors) terms {
	t := terms{dailyNet: p.DailyRateNetCents}
	checkDailyRate(errs, "dailyRateNetCents", p.DailyRateNetCents)
	from, fromOK := checkTime(errs, "validFrom", p.ValidFrom)
	t.validFrom = from
	if p.ValidTo != nil && strings.TrimSpace(*p.ValidTo) != "" {
		if to, ok := parseTime(*p.ValidTo); !ok {
			errs.Add("validTo", "an RFC 3339 time, or null for no end")
		} else if to.Year() < 2000 || to.Year() > 2199 {
			errs.Add("validTo", "must lie between the years 2000 and 2199, or be null for no end")
		} else if fromOK && !to.After(from) {
			errs.Add("validTo", "must be after validFrom")
		} else {
			t.validTo = &to
		}
	}
	return t
}

// validate checks a new policy, listing every invalid field.
func (n NewRatePolicy) validate() (policyDraft, error) {
	var errs platform.FieldErrors
	d := policyDraft{category: checkCategory(&errs, "category", n.Category)}
	if n.LocationCode != nil && strings.TrimSpace(*n.LocationCode) != "" {
		code := checkLocation(&errs, "locationCode", *n.LocationCode)
		d.location = &code
	}
	d.terms = PolicyTerms{DailyRateNetCents: n.DailyRateNetCents, ValidFrom: n.ValidFrom, ValidTo: n.ValidTo}.check(&errs)
	if len(errs) > 0 {
		return policyDraft{}, platform.Invalid("the rate policy is invalid", errs...)
	}
	return d, nil
}

// validate checks an update's terms, listing every invalid field.
func (p PolicyTerms) validate() (terms, error) {
	var errs platform.FieldErrors
	t := p.check(&errs)
	if len(errs) > 0 {
		return terms{}, platform.Invalid("the rate policy is invalid", errs...)
	}
	return t, nil
}
