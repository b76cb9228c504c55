package callcenter

import (
	"encoding/json"
	"time"

	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
)

// The portal's copies of what it reads of the functions' answers: only the fields its
// pages show (JSON ignores the rest), so a function adding a field changes nothing here.
// Where a contract package has the type (customersapi, pricingapi, locationsapi), it is
// used instead.

// page is one page of a list, as every list of the system answers it.
type page[T any] struct {
	Items    []T `json:"items"`
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
	Total    int `json:"total"`
}

// Pages is the number of pages of the list.
func (p page[T]) Pages() int {
	if p.PageSize <= 0 {
		return 1
	}
	return max(1, (p.Total+p.PageSize-1)/p.PageSize)
}

// Customer is a customer record as customers-api shows it to staff.
type Customer struct {
	ID                string                `json:"id"`
	Kind              string                `json:"kind"`
	Type              string                `json:"type"`
	CompanyName       string                `json:"companyName,omitempty"`
	VATID             string                `json:"vatId,omitempty"`
	FirstName         string                `json:"firstName"`
	LastName          string                `json:"lastName"`
	Email             string                `json:"email"`
	EmailVerified     bool                  `json:"emailVerified"`
	Phone             string                `json:"phone,omitempty"`
	DateOfBirth       string                `json:"dateOfBirth,omitempty"`
	Address           customersapi.Address  `json:"address"`
	Licence           *customersapi.Licence `json:"licence,omitempty"`
	PreferredLanguage string                `json:"preferredLanguage"`
	Status            string                `json:"status"`
	StatusReason      string                `json:"statusReason,omitempty"`
	ErasedAt          *time.Time            `json:"erasedAt,omitempty"`
	Version           int                   `json:"version"`
}

// Line is one priced line of a booking or an invoice (net cents).
type Line struct {
	Code         string `json:"code"`
	Description  string `json:"description"`
	Quantity     int    `json:"quantity"`
	UnitNetCents int64  `json:"unitNetCents"`
	NetCents     int64  `json:"netCents"`
}

// Reservation is a booking as reservations-api answers it; Counter is set by the counter's
// answers (readings, damage notes, return charges).
type Reservation struct {
	ID                    string     `json:"id"`
	CustomerID            string     `json:"customerId"`
	VehicleID             string     `json:"vehicleId"`
	Category              string     `json:"category"`
	PickupLocation        string     `json:"pickupLocation"`
	ReturnLocation        string     `json:"returnLocation"`
	PickupAt              time.Time  `json:"pickupAt"`
	ReturnAt              time.Time  `json:"returnAt"`
	Status                string     `json:"status"`
	HoldExpiresAt         *time.Time `json:"holdExpiresAt,omitempty"`
	TotalGrossCents       int64      `json:"totalGrossCents"`
	RentalGrossCents      int64      `json:"rentalGrossCents"` // with the late fee and the return charges: what is billed
	DailyRateGrossCents   int64      `json:"dailyRateGrossCents"`
	CancelReason          string     `json:"cancelReason,omitempty"`
	FeeCents              int64      `json:"feeCents"`
	LateFeeCents          int64      `json:"lateFeeCents"`
	ActivatedAt           *time.Time `json:"activatedAt,omitempty"`
	CompletedAt           *time.Time `json:"completedAt,omitempty"`
	CancelledAt           *time.Time `json:"cancelledAt,omitempty"`
	Insurance             string     `json:"insurance"`
	NetCents              int64      `json:"netCents"`
	VATCents              int64      `json:"vatCents"`
	Lines                 []Line     `json:"lines"`
	PaymentDeclinedReason string     `json:"paymentDeclinedReason,omitempty"`
	Guest                 bool       `json:"guest"`
	Version               int        `json:"version"`
	CreatedAt             time.Time  `json:"createdAt"`
	Counter               *Counter   `json:"counter,omitempty"`
}

// Counter is what the counter recorded of a booking's car: the readings at the handover
// and at the return, the damage notes and pricing's return charges (net lines).
type Counter struct {
	PickupOdometerKm  *int   `json:"pickupOdometerKm"`
	PickupFuelEighths *int   `json:"pickupFuelEighths"`
	ReturnOdometerKm  *int   `json:"returnOdometerKm"`
	ReturnFuelEighths *int   `json:"returnFuelEighths"`
	DamageNotes       string `json:"damageNotes"`
	ReturnCharges     []Line `json:"returnCharges"`
}

// Invoice is an invoice as payments-api answers it.
type Invoice struct {
	ID            string    `json:"id"`
	Number        string    `json:"number"`
	Kind          string    `json:"kind"`
	ReservationID string    `json:"reservationId"`
	CustomerID    string    `json:"customerId"`
	NetCents      int64     `json:"netCents"`
	VATCents      int64     `json:"vatCents"`
	GrossCents    int64     `json:"grossCents"`
	IssuedAt      time.Time `json:"issuedAt"`
	Lines         []Line    `json:"lines"`
}

// Notification is one entry of a customer's notification history.
type Notification struct {
	ID            string     `json:"id"`
	CustomerID    string     `json:"customerId"`
	Type          string     `json:"type"`
	Channel       string     `json:"channel"`
	Status        string     `json:"status"`
	Recipient     string     `json:"recipient"`
	Subject       string     `json:"subject,omitempty"`
	ReservationID string     `json:"reservationId,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	SentAt        *time.Time `json:"sentAt,omitempty"`
	Redacted      bool       `json:"redacted"`
}

// Offer is one available car with its gross price for the period (vehicles-api's search).
type Offer struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Category     string `json:"category"`
	LocationCode string `json:"locationCode"`
	Seats        int    `json:"seats"`
	Fuel         string `json:"fuel"`
	Transmission string `json:"transmission"`
	Price        struct {
		Days            int   `json:"days"`
		DailyGrossCents int64 `json:"dailyGrossCents"`
		TotalGrossCents int64 `json:"totalGrossCents"`
	} `json:"price"`
}

// Catalogue is what pricing-api offers besides the rental: extras and insurance packages.
type Catalogue struct {
	Extras           []CatalogueExtra     `json:"extras"`
	Insurance        []CatalogueInsurance `json:"insurance"`
	DefaultInsurance string               `json:"defaultInsurance"`
}

// CatalogueExtra is an extra of the catalogue (net price per day or per rental).
type CatalogueExtra struct {
	Code        string `json:"code"`
	Description string `json:"description"`
	NetCents    int64  `json:"netCents"`
	Per         string `json:"per"`
	MaxQuantity int    `json:"maxQuantity"`
}

// CatalogueInsurance is an insurance package of the catalogue.
type CatalogueInsurance struct {
	Code          string `json:"code"`
	Description   string `json:"description"`
	DailyNetCents int64  `json:"dailyNetCents"`
}

// DeadLetter is a dead letter as dead-letter shows it to admins (its data redacted).
type DeadLetter struct {
	ID           string     `json:"id"`
	Trigger      string     `json:"trigger"`
	Status       string     `json:"status"`
	ReceivedAt   time.Time  `json:"receivedAt"`
	Failures     int        `json:"failures"`
	LastFailedAt time.Time  `json:"lastFailedAt"`
	ReplayCount  int        `json:"replayCount"`
	ReplayedAt   *time.Time `json:"replayedAt,omitempty"`
	DiscardedAt  *time.Time `json:"discardedAt,omitempty"`
	Event        struct {
		ID      string          `json:"id"`
		Source  string          `json:"source"`
		Type    string          `json:"type"`
		Subject string          `json:"subject,omitempty"`
		Time    *time.Time      `json:"time,omitempty"`
		Data    json.RawMessage `json:"data,omitempty"`
	} `json:"event"`
	Error struct {
		Destination string  `json:"destination,omitempty"`
		Code        *int    `json:"code,omitempty"`
		Data        *string `json:"data,omitempty"`
	} `json:"error"`
}

// Report is the JSON report of report-worker (docs/reports.md defines each figure).
type Report struct {
	From        string      `json:"from"`
	To          string      `json:"to"`
	Granularity string      `json:"granularity"`
	Zone        string      `json:"zone"`
	Rows        []ReportRow `json:"rows"`
	Total       Figures     `json:"total"`
}

// ReportRow is the figures of one period at one branch for one category.
type ReportRow struct {
	Period   string `json:"period"`
	Branch   string `json:"branch"`
	Category string `json:"category"`
	Figures
}

// Figures are a report's figures.
type Figures struct {
	AvailableCarDays     int64   `json:"availableCarDays"`
	RentedCarDays        int64   `json:"rentedCarDays"`
	Utilisation          float64 `json:"utilisation"`
	RevenueNetCents      int64   `json:"revenueNetCents"`
	RevenueVATCents      int64   `json:"revenueVatCents"`
	RevenueGrossCents    int64   `json:"revenueGrossCents"`
	ADRCents             int64   `json:"adrCents"`
	RevPACCents          int64   `json:"revpacCents"`
	Bookings             int64   `json:"bookings"`
	Cancellations        int64   `json:"cancellations"`
	CancellationFeeCents int64   `json:"cancellationFeeCents"`
	NoShows              int64   `json:"noShows"`
	AverageLeadTimeDays  float64 `json:"averageLeadTimeDays"`
	OneWayShare          float64 `json:"oneWayShare"`
}

// Percent is a ratio (utilisation, one-way share) as a percentage with one decimal.

// Readings are the body of a handover: the odometer and the fuel gauge (eighths).
type Readings struct {
	OdometerKm  *int `json:"odometerKm"`
	FuelEighths *int `json:"fuelEighths"`
}

// booking is the body of a booking made by staff.
type booking struct {
	CustomerID      string                    `json:"customerId"`
	VehicleID       string                    `json:"vehicleId"`
	Category        string                    `json:"category"`
	PickupLocation  string                    `json:"pickupLocation"`
	ReturnLocation  string                    `json:"returnLocation"`
	PickupAt        string                    `json:"pickupAt"`
	ReturnAt        string                    `json:"returnAt"`
	Insurance       string                    `json:"insurance,omitempty"`
	Extras          []pricingapi.ExtraRequest `json:"extras,omitempty"`
	PaymentMethodID string                    `json:"paymentMethodId"`
}
