package pricing

import (
	"strings"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
)

// Per says what a catalogue price is charged for (the contract's type).
type Per = pricingapi.Per

// A price is charged per rental day (once per billed day and item) or once per rental.
const (
	PerDay    = pricingapi.PerDay
	PerRental = pricingapi.PerRental
)

// Extra is a bookable add-on with its net price.
type Extra struct {
	Code        string `json:"code"`
	Description string `json:"description"`
	NetCents    int64  `json:"netCents"`
	Per         Per    `json:"per"`
	MaxQuantity int    `json:"maxQuantity"`
}

// Extras is the catalogue of add-ons, in the order a quote lists them. The figures are the
// original system's (gross there), taken as net prices.
var Extras = []Extra{
	{Code: "GPS", Description: "GPS navigation", NetCents: 500, Per: PerDay, MaxQuantity: 1},
	{Code: "CHILD_SEAT", Description: "Child seat", NetCents: 800, Per: PerDay, MaxQuantity: 3},
	{Code: "ADDITIONAL_DRIVER", Description: "Additional driver", NetCents: 1000, Per: PerDay, MaxQuantity: 3},
	{Code: "ROOF_RACK", Description: "Roof rack", NetCents: 1000, Per: PerDay, MaxQuantity: 1},
	{Code: "SKI_RACK", Description: "Ski rack", NetCents: 800, Per: PerDay, MaxQuantity: 1},
	{Code: "BIKE_RACK", Description: "Bike rack", NetCents: 1200, Per: PerDay, MaxQuantity: 1},
	{Code: "SNOW_CHAINS", Description: "Snow chains", NetCents: 1500, Per: PerRental, MaxQuantity: 1},
	{Code: "CROSS_BORDER", Description: "Cross-border permit", NetCents: 1500, Per: PerRental, MaxQuantity: 1},
}

// extraByCode finds a catalogue extra by its (case-insensitive) code.
func extraByCode(code string) (Extra, bool) {
	code = strings.ToUpper(strings.TrimSpace(code))
	for _, e := range Extras {
		if e.Code == code {
			return e, true
		}
	}
	return Extra{}, false
}

// Insurance is a damage-cover package: a net price per day and the excess (deductible) the
// renter still pays per damage.
type Insurance struct {
	Code          string `json:"code"`
	Description   string `json:"description"`
	DailyNetCents int64  `json:"dailyNetCents"`
	ExcessCents   int64  `json:"excessCents"`
}

// DefaultInsurance is what a quote gets when it names none: the legally required liability
// cover, included in the daily rate.
const DefaultInsurance = "LIABILITY"

// InsurancePackages are the packages, least cover first.
var InsurancePackages = []Insurance{
	{Code: "LIABILITY", Description: "Liability only (included)", DailyNetCents: 0, ExcessCents: 250_000},
	{Code: "PARTIAL", Description: "Partial cover: theft, fire, glass, storm, wildlife (excess 1,000 €)", DailyNetCents: 800, ExcessCents: 100_000},
	{Code: "FULL", Description: "Full cover (excess 500 €)", DailyNetCents: 1500, ExcessCents: 50_000},
	{Code: "ZERO_EXCESS", Description: "Full cover without excess", DailyNetCents: 2500, ExcessCents: 0},
}

// insuranceByCode finds a package by its (case-insensitive) code.
func insuranceByCode(code string) (Insurance, bool) {
	code = strings.ToUpper(strings.TrimSpace(code))
	for _, p := range InsurancePackages {
		if p.Code == code {
			return p, true
		}
	}
	return Insurance{}, false
}
