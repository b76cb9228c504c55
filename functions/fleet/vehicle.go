package fleet

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orangecarrental/orange/functions/fleet/fleetapi"
	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
)

// Category is a vehicle class. Pricing keeps one rate policy per category, so it is also
// what a car costs unless the car carries its own rate.
type Category string

// The categories of the original system, from the small city car to the luxury class.
const (
	CategoryKlein   Category = "KLEIN"
	CategoryKompakt Category = "KOMPAKT"
	CategoryMittel  Category = "MITTEL"
	CategoryOber    Category = "OBER"
	CategorySUV     Category = "SUV"
	CategoryKombi   Category = "KOMBI"
	CategoryTrans   Category = "TRANS"
	CategoryLuxus   Category = "LUXUS"
)

// valid reports whether c is one of the categories (rental.Categories).
func (c Category) valid() bool { return rental.ValidCategory(c) }

// Fuel is what a vehicle runs on; customers filter on it.
type Fuel string

// The fuels the fleet knows.
const (
	FuelPetrol       Fuel = "petrol"
	FuelDiesel       Fuel = "diesel"
	FuelElectric     Fuel = "electric"
	FuelHybrid       Fuel = "hybrid"
	FuelPlugInHybrid Fuel = "plug_in_hybrid"
	FuelHydrogen     Fuel = "hydrogen"
)

var fuels = []Fuel{FuelPetrol, FuelDiesel, FuelElectric, FuelHybrid, FuelPlugInHybrid, FuelHydrogen}

func (f Fuel) valid() bool { return slices.Contains(fuels, f) }

// Transmission is the gearbox; many customers can only drive one kind.
type Transmission string

// The gearboxes.
const (
	TransmissionManual    Transmission = "manual"
	TransmissionAutomatic Transmission = "automatic"
)

var transmissions = []Transmission{TransmissionManual, TransmissionAutomatic}

func (t Transmission) valid() bool { return slices.Contains(transmissions, t) }

// Status is where a vehicle is in its working life. Which changes are allowed is a table in
// the schema (fleet.status_transitions), documented in docs/fleet.md.
type Status string

// The vehicle states. Only available and reserved vehicles are offered by the search (and
// then only outside their bookings).
const (
	StatusAvailable    Status = fleetapi.StatusAvailable
	StatusReserved     Status = fleetapi.StatusReserved
	StatusRented       Status = fleetapi.StatusRented
	StatusMaintenance  Status = fleetapi.StatusMaintenance
	StatusOutOfService Status = fleetapi.StatusOutOfService
)

// How validation names the statuses in its messages.
const (
	statusList          = "available, reserved, rented, maintenance or out_of_service"
	initialStatusesList = "available, maintenance or out_of_service"
)

var statuses = []Status{StatusAvailable, StatusReserved, StatusRented, StatusMaintenance, StatusOutOfService}

func (s Status) valid() bool { return slices.Contains(statuses, s) }

// initial reports whether a new vehicle may start in s: reserved and rented need a booking,
// which a car that has just arrived cannot have.
func (s Status) initial() bool {
	return s == StatusAvailable || s == StatusMaintenance || s == StatusOutOfService
}

// Vehicle is one car of the fleet.
type Vehicle struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Category     Category     `json:"category"`
	LocationCode string       `json:"locationCode"`
	Seats        int          `json:"seats"`
	Fuel         Fuel         `json:"fuel"`
	Transmission Transmission `json:"transmission"`
	LicencePlate string       `json:"licencePlate"`
	Status       Status       `json:"status"`
	// DailyRateNetCents overrides the category's net daily rate for this car; nil means the
	// category policy of pricing applies.
	DailyRateNetCents *int64    `json:"dailyRateNetCents"`
	Version           int64     `json:"version"`
	CreatedAt         time.Time `json:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt"`
}

// Details are the fields an update replaces: what the car is. Where it is, its status and
// its rate change through their own operations, each with its own rule.
type Details struct {
	Name         string       `json:"name"`
	Category     Category     `json:"category"`
	Seats        int          `json:"seats"`
	Fuel         Fuel         `json:"fuel"`
	Transmission Transmission `json:"transmission"`
	LicencePlate string       `json:"licencePlate"`
}

// NewVehicle is the body of a create.
type NewVehicle struct {
	Name              string       `json:"name"`
	Category          Category     `json:"category"`
	LocationCode      string       `json:"locationCode"`
	Seats             int          `json:"seats"`
	Fuel              Fuel         `json:"fuel"`
	Transmission      Transmission `json:"transmission"`
	LicencePlate      string       `json:"licencePlate"`
	Status            Status       `json:"status,omitempty"`
	DailyRateNetCents *int64       `json:"dailyRateNetCents,omitempty"`
}

// Details returns the descriptive part of a new vehicle.
func (n NewVehicle) Details() Details {
	return Details{Name: n.Name, Category: n.Category, Seats: n.Seats, Fuel: n.Fuel, Transmission: n.Transmission, LicencePlate: n.LicencePlate}
}

// The bounds of a per-vehicle daily rate: one euro to ten thousand euros, net, in cents.
const (
	MinDailyRateNetCents = 100
	MaxDailyRateNetCents = 1_000_000
)

var (
	// A plate as people type it: area code, a dash or space, recognition letters, an
	// optional separator, the number and an optional E or H suffix.
	platePattern = regexp.MustCompile(`^([A-ZÄÖÜ]{1,3})[- ]+([A-Z]{1,2})[- ]*([1-9][0-9]{0,3})([EH]?)$`)
)

// NormalizeLocationCode makes a caller's branch code canonical (codes are upper case).
func NormalizeLocationCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// NormalizePlate returns a German licence plate in its written form ("B-OC 1001"), however
// the caller separated it, and whether it is a well-formed plate: area code of 1–3 letters,
// 1–2 recognition letters, a number of 1–4 digits without a leading zero, an optional E or
// H suffix, and at most 8 characters besides separators and suffix. The area code must be
// separated from the letters ("BOC 1001" could be B-OC or BO-C).
func NormalizePlate(plate string) (string, bool) {
	p := strings.ToUpper(strings.Join(strings.Fields(plate), " "))
	m := platePattern.FindStringSubmatch(p)
	if m == nil || utf8.RuneCountInString(m[1]+m[2]+m[3]) > 8 {
		return p, false
	}
	return m[1] + "-" + m[2] + " " + m[3] + m[4], true
}

// normalize trims and canonicalises, so validation and storage see one form.
func (d *Details) normalize() {
	d.Name = strings.Join(strings.Fields(d.Name), " ")
	d.Category = Category(strings.ToUpper(strings.TrimSpace(string(d.Category))))
	d.Fuel = Fuel(strings.ToLower(strings.TrimSpace(string(d.Fuel))))
	d.Transmission = Transmission(strings.ToLower(strings.TrimSpace(string(d.Transmission))))
	d.LicencePlate, _ = NormalizePlate(d.LicencePlate)
}

// validate lists every invalid field at once, so a form can show them together.
func (d Details) validate() []platform.FieldError {
	var errs platform.FieldErrors
	if n := utf8.RuneCountInString(d.Name); n < 1 || n > 100 {
		errs.Add("name", "required, at most 100 characters")
	}
	if !d.Category.valid() {
		errs.Add("category", "must be one of "+rental.CategoryList())
	}
	if d.Seats < 2 || d.Seats > 9 {
		errs.Add("seats", "must be between 2 and 9")
	}
	if !d.Fuel.valid() {
		errs.Add("fuel", "must be one of "+join(fuels))
	}
	if !d.Transmission.valid() {
		errs.Add("transmission", "must be manual or automatic")
	}
	if _, ok := NormalizePlate(d.LicencePlate); !ok {
		errs.Add("licencePlate", "must be a German plate such as B-OC 1001: area code, 1-2 letters, 1-4 digits, optional E or H")
	}
	return errs
}

// normalize trims and canonicalises a create's fields.
func (n *NewVehicle) normalize() {
	d := n.Details()
	d.normalize()
	n.Name, n.Category, n.Seats, n.Fuel, n.Transmission, n.LicencePlate = d.Name, d.Category, d.Seats, d.Fuel, d.Transmission, d.LicencePlate
	n.LocationCode = NormalizeLocationCode(n.LocationCode)
	n.Status = Status(strings.ToLower(strings.TrimSpace(string(n.Status))))
	if n.Status == "" {
		n.Status = StatusAvailable
	}
}

// validate lists every invalid field of a create.
func (n NewVehicle) validate() []platform.FieldError {
	errs := n.Details().validate()
	if !rental.ValidBranchCode(n.LocationCode) {
		errs = append(errs, platform.FieldError{Field: "locationCode", Reason: "must be a branch code such as BER-HBF"})
	}
	if !n.Status.initial() {
		errs = append(errs, platform.FieldError{Field: "status", Reason: "a new vehicle is " + initialStatusesList})
	}
	if f := validateRate(n.DailyRateNetCents); f != nil {
		errs = append(errs, *f)
	}
	return errs
}

func validateRate(cents *int64) *platform.FieldError {
	if cents == nil || (*cents >= MinDailyRateNetCents && *cents <= MaxDailyRateNetCents) {
		return nil
	}
	return &platform.FieldError{Field: "dailyRateNetCents", Reason: fmt.Sprintf("must be null or between %d and %d cents", MinDailyRateNetCents, MaxDailyRateNetCents)}
}

func join[T ~string](all []T) string {
	s := make([]string, len(all))
	for i, a := range all {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}
