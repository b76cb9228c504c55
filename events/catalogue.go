// Package events is the event backbone of Orange Car Rental: the catalogue of CloudEvent
// types with one payload struct each, the transactional outbox every producer writes in the
// same transaction as its state change, the relay that publishes the outbox to a Broker
// (Knative's over HTTP, or the in-process one of `orange dev`), and the receiver with its
// inbox that makes a redelivered event change nothing.
//
// Types are reverse-DNS and versioned (com.orangecarrental.<aggregate>.<fact>.v1); the
// source names the producing function; the subject is the aggregate id. Brokers keep no
// order, so every payload carries the aggregate's version and a read model applies an event
// only when it is newer than what it holds.
package events

// Event types. A consumer filters on these in its Trigger; a test holds every Trigger filter
// to this list and every type to at least one Trigger or the External list.
const (
	CustomerRegistered    = "com.orangecarrental.customer.registered.v1"
	CustomerUpdated       = "com.orangecarrental.customer.updated.v1"
	CustomerStatusChanged = "com.orangecarrental.customer.status_changed.v1"
	CustomerErased        = "com.orangecarrental.customer.erased.v1"

	LocationCreated       = "com.orangecarrental.location.created.v1"
	LocationUpdated       = "com.orangecarrental.location.updated.v1"
	LocationStatusChanged = "com.orangecarrental.location.status_changed.v1"

	VehicleCreated       = "com.orangecarrental.vehicle.created.v1"
	VehicleUpdated       = "com.orangecarrental.vehicle.updated.v1"
	VehicleStatusChanged = "com.orangecarrental.vehicle.status_changed.v1"
	VehicleMoved         = "com.orangecarrental.vehicle.moved.v1"

	// Facts about a car that come from outside the system: telematics boxes and partner
	// garages send them to sync-worker's /api/events as CloudEvents, and sync-worker publishes
	// them (validated, deduplicated) to the Broker; vehicles-api applies them. Readings carry
	// the time they were taken: a reading older than the last one applied changes nothing.
	VehicleOdometerRead    = "com.orangecarrental.vehicle.odometer_read.v1"
	VehicleFuelRead        = "com.orangecarrental.vehicle.fuel_read.v1"
	VehiclePositionRead    = "com.orangecarrental.vehicle.position_read.v1"
	VehicleDamageReported  = "com.orangecarrental.vehicle.damage_reported.v1"
	VehicleRepairCompleted = "com.orangecarrental.vehicle.repair_completed.v1"

	ReservationCreated   = "com.orangecarrental.reservation.created.v1"
	ReservationConfirmed = "com.orangecarrental.reservation.confirmed.v1"
	ReservationActivated = "com.orangecarrental.reservation.activated.v1"
	ReservationCompleted = "com.orangecarrental.reservation.completed.v1"
	ReservationCancelled = "com.orangecarrental.reservation.cancelled.v1"
	ReservationExpired   = "com.orangecarrental.reservation.expired.v1"
	ReservationNoShow    = "com.orangecarrental.reservation.no_show.v1"
	// ReservationChanged: dates, car, extras or insurance of a booking that has not started
	// changed; the payload is the booking as re-priced (payments adjusts the authorization).
	ReservationChanged = "com.orangecarrental.reservation.changed.v1"
	// ReservationPaymentRequested: the renter named another payment method for a pending
	// booking whose card was declined; payments authorizes on it (attempt PaymentAttempt).
	ReservationPaymentRequested = "com.orangecarrental.reservation.payment_requested.v1"

	PaymentAuthorized = "com.orangecarrental.payment.authorized.v1"
	PaymentFailed     = "com.orangecarrental.payment.failed.v1"
	PaymentCaptured   = "com.orangecarrental.payment.captured.v1"
	PaymentVoided     = "com.orangecarrental.payment.voided.v1"
	PaymentRefunded   = "com.orangecarrental.payment.refunded.v1"
	// PaymentCharged: a second charge on the booking's payment method for an amount beyond
	// the capture tolerance of the authorization (AmountCents is the charge).
	PaymentCharged = "com.orangecarrental.payment.charged.v1"
	InvoiceIssued  = "com.orangecarrental.invoice.issued.v1"

	// ReportFrozen: report-worker froze a month's report (stored, never recomputed); the
	// notifier mails its summary to the admins (REPORT_MAIL_TO).
	ReportFrozen = "com.orangecarrental.report.frozen.v1"

	// Ping is what a Knative PingSource sends; it is produced outside the system.
	Ping = "dev.knative.sources.ping"
)

// Types maps every event type of the system to a new zero payload of its struct.
var Types = map[string]func() any{
	CustomerRegistered:          func() any { return new(Customer) },
	CustomerUpdated:             func() any { return new(Customer) },
	CustomerStatusChanged:       func() any { return new(CustomerStatus) },
	CustomerErased:              func() any { return new(CustomerErasure) },
	LocationCreated:             func() any { return new(Location) },
	LocationUpdated:             func() any { return new(Location) },
	LocationStatusChanged:       func() any { return new(Location) },
	VehicleCreated:              func() any { return new(Vehicle) },
	VehicleUpdated:              func() any { return new(Vehicle) },
	VehicleStatusChanged:        func() any { return new(Vehicle) },
	VehicleMoved:                func() any { return new(Vehicle) },
	VehicleOdometerRead:         func() any { return new(OdometerReading) },
	VehicleFuelRead:             func() any { return new(FuelReading) },
	VehiclePositionRead:         func() any { return new(PositionReading) },
	VehicleDamageReported:       func() any { return new(DamageReport) },
	VehicleRepairCompleted:      func() any { return new(RepairCompletion) },
	ReservationCreated:          func() any { return new(Reservation) },
	ReservationConfirmed:        func() any { return new(Reservation) },
	ReservationActivated:        func() any { return new(Reservation) },
	ReservationCompleted:        func() any { return new(Reservation) },
	ReservationCancelled:        func() any { return new(Reservation) },
	ReservationExpired:          func() any { return new(Reservation) },
	ReservationNoShow:           func() any { return new(Reservation) },
	ReservationChanged:          func() any { return new(Reservation) },
	ReservationPaymentRequested: func() any { return new(Reservation) },
	PaymentAuthorized:           func() any { return new(Payment) },
	PaymentFailed:               func() any { return new(Payment) },
	PaymentCaptured:             func() any { return new(Payment) },
	PaymentVoided:               func() any { return new(Payment) },
	PaymentRefunded:             func() any { return new(Payment) },
	PaymentCharged:              func() any { return new(Payment) },
	InvoiceIssued:               func() any { return new(Invoice) },
	ReportFrozen:                func() any { return new(ReportSummary) },
	Ping:                        func() any { return new(map[string]any) },
}

// External lists types that come from outside the system, so no producer here emits them.
var External = map[string]bool{Ping: true}

// Customer is the payload of customer.registered and customer.updated.
type Customer struct {
	CustomerID string `json:"customerId"`
	Version    int64  `json:"version"`
	// Kind is "account" (registered to sign in and book) or "guest" (registered by a guest
	// booking); empty in events recorded before kinds existed, which were all accounts. The
	// notifier welcomes accounts only: a guest's mail is its booking's.
	Kind  string `json:"kind,omitempty"`
	Email string `json:"email"`
	// EmailVerified says that Email is known to reach the customer (docs/customers.md).
	EmailVerified bool `json:"emailVerified"`
	// VerificationToken is set when the event asks the notifier to mail a verification link
	// to Email: an account's registration, an account's new address. It is single-use and
	// expires (customers.VerificationTTL); customers-api keeps only its hash and scrubs it
	// from its outbox once used.
	VerificationToken string `json:"verificationToken,omitempty"`
	FirstName         string `json:"firstName"`
	LastName          string `json:"lastName"`
	PreferredLanguage string `json:"preferredLanguage"`
	// Phone is the customer's mobile number (E.164 as customers-api stores it), empty when
	// none is known: the notifier texts pickup reminders to it when the customer allows SMS.
	Phone string `json:"phone,omitempty"`
}

// CustomerStatus is the payload of customer.status_changed.
type CustomerStatus struct {
	CustomerID string `json:"customerId"`
	Version    int64  `json:"version"`
	Status     string `json:"status"`
	Reason     string `json:"reason,omitempty"`
}

// CustomerErasure is the payload of customer.erased: only the id, by design.
type CustomerErasure struct {
	CustomerID string `json:"customerId"`
	Version    int64  `json:"version"`
}

// Location is the payload of the location events.
type Location struct {
	Code    string `json:"code"`
	Version int64  `json:"version"`
	Name    string `json:"name"`
	City    string `json:"city"`
	Status  string `json:"status"`
}

// OdometerReading is the payload of vehicle.odometer_read: the odometer of car VehicleID
// (vehicles-api's id) at ReadAt (RFC 3339).
type OdometerReading struct {
	VehicleID  string `json:"vehicleId"`
	ReadAt     string `json:"readAt"`
	OdometerKm int64  `json:"odometerKm"`
}

// FuelReading is the payload of vehicle.fuel_read: the tank (or battery) level in eighths,
// 0 (empty) to 8 (full), the unit the counter records at pickup and return.
type FuelReading struct {
	VehicleID   string `json:"vehicleId"`
	ReadAt      string `json:"readAt"`
	FuelEighths int    `json:"fuelEighths"`
}

// PositionReading is the payload of vehicle.position_read: where the car is (WGS 84).
type PositionReading struct {
	VehicleID string  `json:"vehicleId"`
	ReadAt    string  `json:"readAt"`
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// DamageReport is the payload of vehicle.damage_reported: a partner garage or a telematics
// box found damage. Severity is minor, major or total_loss; Description is the reporter's
// words about the car (never about a person).
type DamageReport struct {
	VehicleID   string `json:"vehicleId"`
	ReportedAt  string `json:"reportedAt"`
	Severity    string `json:"severity"`
	Description string `json:"description,omitempty"`
}

// RepairCompletion is the payload of vehicle.repair_completed: the garage finished the
// repair of the car; it may be rented again.
type RepairCompletion struct {
	VehicleID   string `json:"vehicleId"`
	CompletedAt string `json:"completedAt"`
	Note        string `json:"note,omitempty"`
}

// Vehicle is the payload of the vehicle events.
type Vehicle struct {
	VehicleID    string `json:"vehicleId"`
	Version      int64  `json:"version"`
	Category     string `json:"category"`
	LocationCode string `json:"locationCode"`
	Status       string `json:"status"`
	LicensePlate string `json:"licensePlate"`
}

// Reservation is the payload of every reservation event: the whole booking as it stands
// after the fact, so a read model can be rebuilt from any one of them.
type Reservation struct {
	ReservationID  string `json:"reservationId"`
	Version        int64  `json:"version"`
	CustomerID     string `json:"customerId"`
	VehicleID      string `json:"vehicleId"`
	Category       string `json:"category"`
	PickupLocation string `json:"pickupLocation"`
	ReturnLocation string `json:"returnLocation"`
	PickupAt       string `json:"pickupAt"`
	ReturnAt       string `json:"returnAt"`
	Status         string `json:"status"`
	TotalGross     int64  `json:"totalGrossCents"`
	Currency       string `json:"currency"`
	Reason         string `json:"reason,omitempty"`
	FeeCents       int64  `json:"feeCents,omitempty"`
	// PaymentMethodID is the opaque id payments-api gave the card (pm_…; design.md §9: no
	// card data outside payments); on reservation.created, payments authorizes on it.
	PaymentMethodID string `json:"paymentMethodId,omitempty"`
	// LateFeeCents is what a late return adds (reservation.completed).
	LateFeeCents int64 `json:"lateFeeCents,omitempty"`
	// CompletedAt is when the car came back (RFC 3339; reservation.completed and after):
	// the return the customer made, where ReturnAt is the one booked — the completion mail
	// told an early or late return the booked time.
	CompletedAt string `json:"completedAt,omitempty"`
	// NetCents and VatCents split TotalGross (NetCents + VatCents = TotalGross); Lines are
	// the priced lines of the booking as pricing-api quoted them (their NetCents add up to
	// NetCents). Every change re-prices them; the invoice shows them.
	NetCents int64       `json:"netCents,omitempty"`
	VatCents int64       `json:"vatCents,omitempty"`
	Lines    []PriceLine `json:"lines,omitempty"`
	// ReturnCharges are what the return added besides a late fee (refuelling …), net, as
	// pricing-api defines them (reservation.completed).
	ReturnCharges []PriceLine `json:"returnCharges,omitempty"`
	// PaymentAttempt counts the payment methods tried for the booking (1 at creation; each
	// reservation.payment_requested adds one), so payments keys each attempt apart.
	PaymentAttempt int `json:"paymentAttempt,omitempty"`
	// Guest says the booking was made by a guest (no account): the notifier mails the
	// guest's manage-booking link with the confirmation.
	Guest bool `json:"guest,omitempty"`
}

// PriceLine is one priced line of a booking: NetCents = Quantity × UnitNetCents.
type PriceLine struct {
	Code         string `json:"code"`
	Description  string `json:"description"`
	Quantity     int    `json:"quantity"`
	Per          string `json:"per"`
	UnitNetCents int64  `json:"unitNetCents"`
	NetCents     int64  `json:"netCents"`
}

// Payment is the payload of the payment events.
type Payment struct {
	PaymentID     string `json:"paymentId"`
	Version       int64  `json:"version"`
	ReservationID string `json:"reservationId"`
	CustomerID    string `json:"customerId"`
	AmountCents   int64  `json:"amountCents"`
	Currency      string `json:"currency"`
	Status        string `json:"status"`
	Reason        string `json:"reason,omitempty"`
	// Attempt is the booking's payment attempt the payment belongs to
	// (events.Reservation.PaymentAttempt): a late payment.failed of an earlier card must not
	// mark the card named since as declined. 0 in events recorded before attempts existed.
	Attempt int `json:"attempt,omitempty"`
}

// ReportSummary is the payload of report.frozen: the month (yyyy-mm, Europe/Berlin) and
// its figures over all branches and categories — fleet figures only, nothing personal. The
// whole report is at GET /api/reports/monthly/{Month}.
type ReportSummary struct {
	Month             string  `json:"month"`
	Version           int64   `json:"version"`
	FrozenAt          string  `json:"frozenAt"`
	AvailableCarDays  int64   `json:"availableCarDays"`
	RentedCarDays     int64   `json:"rentedCarDays"`
	Utilisation       float64 `json:"utilisation"`
	RevenueNetCents   int64   `json:"revenueNetCents"`
	RevenueVatCents   int64   `json:"revenueVatCents"`
	RevenueGrossCents int64   `json:"revenueGrossCents"`
	ADRCents          int64   `json:"adrCents"`
	RevPACCents       int64   `json:"revpacCents"`
	Bookings          int64   `json:"bookings"`
	Cancellations     int64   `json:"cancellations"`
	NoShows           int64   `json:"noShows"`
	Currency          string  `json:"currency"`
}

// Invoice is the payload of invoice.issued.
type Invoice struct {
	InvoiceID     string `json:"invoiceId"`
	Version       int64  `json:"version"`
	Number        string `json:"number"`
	ReservationID string `json:"reservationId"`
	CustomerID    string `json:"customerId"`
	NetCents      int64  `json:"netCents"`
	VatCents      int64  `json:"vatCents"`
	GrossCents    int64  `json:"grossCents"`
	Currency      string `json:"currency"`
	// Kind is what the invoice bills: "rental" (the rental at its return), "cancellation"
	// (a cancellation fee) or "no_show" (a no-show fee); empty in older events: rental.
	Kind string `json:"kind,omitempty"`
}
