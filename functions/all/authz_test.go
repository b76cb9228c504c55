package all_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/functions/gateway"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/internal/devtest"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// The callers of the matrix. Customer A owns the fixtures; customer B must not see them.
// reservations-api and vehicles-api are functions calling with their own identity (the two
// that call others); delivery is the event platform delivering to the route's function —
// from one of its own Triggers or PingSources on its receiver, else from a stranger.
var callers = []string{"anonymous", "customerA", "customerB", "agent", "fleet", "admin", "reservations-api", "vehicles-api", "delivery"}

// demoUser maps a caller to the development issuer's demo user or function identity.
var demoUser = map[string]string{
	"customerA": "alice", "customerB": "bob", "agent": "carla", "fleet": "frank", "admin": "ada",
	"reservations-api": "service:reservations-api", "vehicles-api": "service:vehicles-api",
}

// policy is a row's statuses: for the six kinds of people, then for the two functions' own
// identities; a delivery's token opens no route but a receiver (403).
func policy(people [6]int, reservations, vehicles int) [9]int {
	return [9]int{people[0], people[1], people[2], people[3], people[4], people[5], reservations, vehicles, 403}
}

// receiver is the row of a /cloudevents route: the event platform's deliveries from the
// function's own senders only; a person, a function, even an admin is refused.
func receiver(ok int) [9]int { return [9]int{401, 403, 403, 403, 403, 403, 403, 403, ok} }

// forwards marks the gateway's forwarding routes: their answer is whatever the function
// behind them answers, which the rows of that function's routes pin down.
const forwards = -1

// row is the expected policy of one route, written out by hand: it is not read from the route
// tables it checks. Statuses are per caller, in the order of callers.
type row struct {
	path   string // concrete path to call (fixtures filled in)
	body   func(seq int) string
	header func(seq int) map[string]string // extra request headers of call seq (a CloudEvent's ce-*)
	expect [9]int
	// reset, when set, runs before each call of the row and once after its last: it puts back
	// a fixture the row's calls change (an erasure), so each call meets the same state and
	// later rows still find the fixture.
	reset func(t *testing.T, db *database.DB)
}

func everyone(status int) [9]int {
	return [9]int{status, status, status, status, status, status, status, status, status}
}

func locationBody(seq int) string {
	return fmt.Sprintf(`{"code":"TST-%03d","name":"Matrix %d","address":{"street":"Teststraße 1","postalCode":"10115","city":"Berlin"}}`, seq, seq)
}

// detailsBody keeps Berlin open around the clock: later rows book there at any hour.
func detailsBody(int) string {
	return `{"name":"Berlin Hauptbahnhof","address":{"street":"Europaplatz 1","postalCode":"10557","city":"Berlin"},"openingHours":` + devtest.AroundTheClock + `}`
}

func statusBody(int) string { return `{"status":"active"}` }

// fleetOnly: branches are maintained by fleet managers (and admins).
var fleetOnly = func(ok int) [9]int { return policy([6]int{401, 403, 403, 403, ok, ok}, 403, 403) }

// pricingStaff: rate policies (planned prices included) are read by fleet managers and
// agents; pricingFee: the cancellation fee is for customers, agents and reservations-api.
var (
	pricingStaff = policy([6]int{401, 403, 403, 200, 200, 200}, 403, 403)
	pricingFee   = policy([6]int{401, 200, 200, 200, 403, 200}, 200, 403)
	// pricingReturn: the return charges are priced at the counter by agents and by
	// reservations-api completing a rental.
	pricingReturn = policy([6]int{401, 403, 403, 200, 403, 200}, 200, 403)
)

// pricingPeriod is a rental period that is valid whenever the test runs: pickup in 3 days.
func pricingPeriod() string {
	pickup := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	return fmt.Sprintf(`"pickupAt":%q,"returnAt":%q`, pickup.Format(time.RFC3339), pickup.Add(72*time.Hour).Format(time.RFC3339))
}

// ratePolicyBody opens a rate for its own (fictitious) branch, so repeated creates never overlap.
func ratePolicyBody(seq int) string {
	return fmt.Sprintf(`{"category":"KLEIN","locationCode":"TST-%03d","dailyRateNetCents":2999,"validFrom":"2025-01-01T00:00:00Z"}`, seq)
}

// ratePolicyTermsBody repeats the seed KOMPAKT policy's terms: an update that changes nothing.
func ratePolicyTermsBody(int) string {
	return `{"dailyRateNetCents":3999,"validFrom":"2025-01-01T00:00:00+01:00"}`
}

func quoteBody(int) string {
	return `{"pickupLocation":"BER-HBF","category":"KOMPAKT",` + pricingPeriod() + `}`
}

func ratesBody(int) string {
	return `{"pickupLocation":"BER-HBF",` + pricingPeriod() + `,"items":[{"key":"v1","category":"KOMPAKT","dailyRateNetCents":null}]}`
}

func cancellationFeeBody(int) string {
	return fmt.Sprintf(`{"pickupAt":%q,"totalGrossCents":14276}`, time.Now().Add(72*time.Hour).UTC().Format(time.RFC3339))
}

func returnChargesBody(int) string { return `{"fuelAtPickup":8,"fuelAtReturn":6}` }

// vehicleRoute is a demo car (the BMW 5er at BER-HBF) the fleet rows read and change; every
// change leaves it as it was, so the rows can repeat for every caller.
const vehicleRoute = "/api/vehicles/f1ee0000-0000-4000-8000-000000000006"

// vehicleSearchPath searches Berlin's compact cars for three days from three days ahead; the
// search calls pricing-api for real, through the transport.
var vehicleSearchPath = func() string {
	pickup := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	return "/api/vehicles?location=BER-HBF&category=KOMPAKT&pickup=" + pickup.Format(time.RFC3339) +
		"&return=" + pickup.Add(72*time.Hour).Format(time.RFC3339)
}()

// vehicleBody is a new car with a plate of its own per call.
func vehicleBody(seq int) string {
	return fmt.Sprintf(`{"name":"Matrix %d","category":"KLEIN","locationCode":"BER-HBF","seats":4,"fuel":"petrol","transmission":"manual","licencePlate":"B-MX %d"}`, seq, seq)
}

func vehicleDetailsBody(int) string {
	return `{"name":"BMW 5er","category":"OBER","seats":5,"fuel":"diesel","transmission":"automatic","licencePlate":"B-OC 1006"}`
}

func vehicleStatusBody(int) string { return `{"status":"available"}` }
func vehicleMoveBody(int) string   { return `{"locationCode":"BER-HBF"}` }
func vehicleRateBody(int) string   { return `{"dailyRateNetCents":null}` }

// fleetStaff: the inventory is for fleet managers and call-center agents (and admins).
var fleetStaff = policy([6]int{401, 403, 403, 200, 200, 200}, 403, 403)

// customerA is customer A's own record, the fixture of the customers rows.
const customerA = "/api/customers/" + devissuer.CustomerAlice

// Customers: a customer reaches only their own record (B gets 404); agents and admins reach
// all; reservations-api asks for eligibility only; fleet managers have no access.
var (
	customerRead        = policy([6]int{401, 200, 404, 200, 403, 200}, 403, 403)
	customerWrite       = policy([6]int{401, 200, 404, 200, 403, 200}, 403, 403)
	customerEligibility = policy([6]int{401, 200, 404, 200, 403, 200}, 200, 403)
)

func registrationBody(seq int) string {
	return fmt.Sprintf(`{"firstName":"Matrix","lastName":"Caller","email":"matrix%d@example.com","phone":"+49 30 1234567",
		"dateOfBirth":"1990-01-01","address":{"street":"Teststraße 1","postalCode":"10115","city":"Berlin"}}`, seq)
}

// verificationBody is a token no link carries: the route admits anyone, the token nobody.
func verificationBody(int) string { return `{"token":"NOTATOKENOFANYLINK"}` }

// aliceProfileBody and aliceLicenceBody repeat customer A's seeded data: updates that change
// nothing (her own date of birth included, which only staff may change).
func aliceProfileBody(int) string {
	return `{"firstName":"Alice","lastName":"Hartmann","email":"alice@example.com","phone":"+49 30 5550101",
		"dateOfBirth":"1990-04-12","address":{"street":"Invalidenstraße 44","postalCode":"10115","city":"Berlin"},"preferredLanguage":"en"}`
}

func aliceLicenceBody(int) string {
	return `{"number":"B072RRE2I55","issuingCountry":"DE","issueDate":"2009-06-15","expiryDate":"2034-06-15"}`
}

func customerStatusBody(int) string { return `{"status":"active","reason":"authorization matrix"}` }

func eligibilityBody(int) string {
	pickup := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Hour)
	return fmt.Sprintf(`{"pickupAt":%q,"returnAt":%q}`, pickup.Format(time.RFC3339), pickup.Add(72*time.Hour).Format(time.RFC3339))
}

// applicantEligibilityBody is a guest's date of birth and licence, as a registration states
// them, and a rental period valid whenever the test runs.
func applicantEligibilityBody(int) string {
	pickup := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Hour)
	return fmt.Sprintf(`{"dateOfBirth":"1990-01-01","licence":{"number":"B1234567","issuingCountry":"DE","issueDate":"2010-01-01","expiryDate":"2040-01-01"},"pickupAt":%q,"returnAt":%q}`,
		pickup.Format(time.RFC3339), pickup.Add(72*time.Hour).Format(time.RFC3339))
}

// restoreAlice saves customer A's record on its first run and puts it back on every later
// one, so each caller of the erasure row erases a live record.
func restoreAlice() func(t *testing.T, db *database.DB) {
	var saved string
	return func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if saved == "" {
			require.NoError(t, db.Pool.QueryRow(ctx, `SELECT row_to_json(c)::text FROM customers.customers c WHERE id = $1`,
				devissuer.CustomerAlice).Scan(&saved))
			return
		}
		_, err := db.Pool.Exec(ctx, `DELETE FROM customers.customers WHERE id = $1`, devissuer.CustomerAlice)
		require.NoError(t, err)
		_, err = db.Pool.Exec(ctx, `INSERT INTO customers.customers SELECT * FROM json_populate_record(NULL::customers.customers, $1::json)`, saved)
		require.NoError(t, err)
	}
}

// registeredEventData and registeredEventHeaders are a binary-mode customer.registered
// CloudEvent, a new customer and a new event id per call (each is applied, answered 202).
func registeredEventData(seq int) string {
	return fmt.Sprintf(`{"customerId":"00000000-0000-4000-8000-%012d","version":1,"email":"matrix%d@example.com","firstName":"Matrix","lastName":"Caller","preferredLanguage":"de"}`, seq, seq)
}

func registeredEventHeaders(seq int) map[string]string {
	return map[string]string{"ce-specversion": "1.0", "ce-id": fmt.Sprintf("authz-matrix-%d", seq),
		"ce-source": "authz-matrix", "ce-type": events.CustomerRegistered}
}

// erasedEventData and erasedEventHeaders are a binary-mode customer.erased CloudEvent of
// a customer nobody knows, a new event id per call.
func erasedEventData(seq int) string {
	return fmt.Sprintf(`{"customerId":"00000000-0000-4000-8000-%012d","version":2}`, seq)
}

func erasedEventHeaders(seq int) map[string]string {
	return map[string]string{"ce-specversion": "1.0", "ce-id": fmt.Sprintf("authz-erased-%d", seq),
		"ce-source": "authz-matrix", "ce-type": events.CustomerErased}
}

// deadLetterMissing is no dead letter; deadLetterAdmins is the dead-letter API's policy.
const deadLetterMissing = "/api/dead-letters/dead0000-0000-4000-8000-0000000000ff"

func deadLetterAdmins(ok int) [9]int { return policy([6]int{401, 403, 403, 403, 403, ok}, 403, 403) }

// Payments: customer A's fixture payment and invoice, put in place by paymentFixtures.
const (
	paymentFixture     = "9a9e0000-0000-4000-8000-000000000001"
	paymentReservation = "9a9e0000-0000-4000-8000-000000000101"
	invoiceFixture     = "9a9e0000-0000-4000-8000-000000000201"
	// paymentMissing is no payment: mutations reach the handler (404) or stop at the access check.
	paymentMissing = "/api/payments/9a9e0000-0000-4000-8000-0000000000ff"
)

// paymentRead: customers read their own payments and invoices (B gets 404); agents and
// admins read all; fleet managers and functions none. paymentWrite: agents and admins.
var (
	paymentRead  = policy([6]int{401, 200, 404, 200, 403, 200}, 403, 403)
	paymentList  = policy([6]int{401, 200, 200, 200, 403, 200}, 403, 403)
	paymentWrite = func(ok int) [9]int { return policy([6]int{401, 403, 403, ok, 403, ok}, 403, 403) }
)

func paymentFixtures(t *testing.T, db *database.DB) {
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `INSERT INTO payments.payments (id, reservation_id, customer_id, status, authorized_cents, provider, provider_authorization)
		VALUES ($1, $2, $3, 'authorized', 14276, 'sandbox', 'sbx_auth_fixture') ON CONFLICT DO NOTHING`, paymentFixture, paymentReservation, devissuer.CustomerAlice)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO payments.invoices (id, number, year, seq, reservation_id, payment_id, customer_id, net_cents, vat_cents, gross_cents)
		VALUES ($1, 'OCR-2000-000001', 2000, 1, $2, $3, $4, 11997, 2279, 14276) ON CONFLICT DO NOTHING`, invoiceFixture, paymentReservation, paymentFixture, devissuer.CustomerAlice)
	require.NoError(t, err)
}

// declinedPayments gives every booking of authorizationBody a declined payment, once: an
// agent's authorization is another attempt at one (payments' retriesFailed).
// noPartner removes the partner putPartner's row creates, so each call creates it anew.
func noPartner(t *testing.T, db *database.DB) {
	_, err := db.Pool.Exec(context.Background(), `DELETE FROM sync.partners WHERE client_id = 'authz-partner'`)
	require.NoError(t, err)
}

func declinedPayments(t *testing.T, db *database.DB) {
	_, err := db.Pool.Exec(context.Background(), `INSERT INTO payments.payments (reservation_id, customer_id, status, authorized_cents, provider, failure_reason)
		SELECT ('9a9e0000-0000-4000-8000-' || lpad((100000 + g)::text, 12, '0'))::uuid, $1, 'failed', 14276, 'sandbox', 'card_declined'
		FROM generate_series(0, 20000) g
		WHERE NOT EXISTS (SELECT 1 FROM payments.payments WHERE reservation_id = '9a9e0000-0000-4000-8000-000000100000')`, devissuer.CustomerAlice)
	require.NoError(t, err)
}

// paymentMethod is a payment-method id of the form payments-api issues (no such method: an
// authorization with it is recorded as failed, 201, and a booking only passes it on).
const paymentMethod = "pm_a11ce0000000000000000000000000aa"

// authorizationBody and invoiceBody are for a new reservation per call.
func authorizationBody(seq int) string {
	return fmt.Sprintf(`{"reservationId":"9a9e0000-0000-4000-8000-%012d","customerId":%q,"amountCents":14276,"paymentMethodId":%q}`, 100000+seq, devissuer.CustomerAlice, paymentMethod)
}

// cardBody is a sandbox test token to tokenize: anyone may, a guest before booking.
func cardBody(int) string { return `{"token":"tok_success"}` }

func invoiceBody(seq int) string {
	return fmt.Sprintf(`{"reservationId":"9a9e0000-0000-4000-8000-%012d","customerId":%q,"lines":[{"description":"Car rental","grossCents":14276}]}`, 200000+seq, devissuer.CustomerAlice)
}

func amountBody(int) string { return `{"amountCents":100}` }

// Reservations: customer A's fixture booking, put in the state a row needs by
// reservationFixture before each call (a vehicle of its own, so no other row's booking
// overlaps it). Transitions from that state succeed for the callers allowed.
const (
	reservationID      = "7e5e0000-0000-4000-8000-000000000001"
	reservationVehicle = "7e5e0000-0000-4000-8000-00000000f001"
	reservationRoute   = "/api/reservations/" + reservationID
)

func reservationFixture(status string, pickupIn time.Duration) func(t *testing.T, db *database.DB) {
	return func(t *testing.T, db *database.DB) {
		pickup := time.Now().Add(pickupIn).UTC().Truncate(time.Second)
		_, err := db.Pool.Exec(context.Background(), `INSERT INTO reservations.reservations (id, customer_id, customer_email,
			vehicle_id, category, pickup_location, return_location, pickup_at, return_at, status, hold_expires_at, total_gross_cents)
			VALUES ($1, $2, 'alice@example.com', $3, 'KOMPAKT', 'BER-HBF', 'BER-HBF', $4, $5, $6, now() + interval '15 minutes', 14276)
			ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, pickup_at = EXCLUDED.pickup_at, return_at = EXCLUDED.return_at,
				hold_expires_at = EXCLUDED.hold_expires_at, version = 1`,
			reservationID, devissuer.CustomerAlice, reservationVehicle, pickup, pickup.Add(48*time.Hour), status)
		require.NoError(t, err)
		// The fixture's car, at the pickup branch and free: a handover asks vehicles-api.
		_, err = db.Pool.Exec(context.Background(), `INSERT INTO fleet.vehicles (id, name, category, location_code, seats, fuel, transmission, licence_plate)
			VALUES ($1, 'Matrix Golf', 'KOMPAKT', 'BER-HBF', 5, 'petrol', 'manual', 'B-ZZ 9999')
			ON CONFLICT (id) DO UPDATE SET location_code = 'BER-HBF', status = 'available'`, reservationVehicle)
		require.NoError(t, err)
	}
}

// readingsBody is a handover's or a return's readings (odometer, fuel in eighths).
func readingsBody(int) string { return `{"odometerKm":100,"fuelEighths":8}` }

// reservationSlot is a two-hour rental of its own per call, from three days ahead, so the
// bookings of the seeded compact cars the rows use never overlap.
func reservationSlot(seq int) string {
	pickup := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour).Add(time.Duration(seq) * 3 * time.Hour)
	return fmt.Sprintf(`"pickupAt":%q,"returnAt":%q`, pickup.Format(time.RFC3339), pickup.Add(2*time.Hour).Format(time.RFC3339))
}

// reservationBody books customer A the VW Golf at BER-HBF (seeded by fleet).
func reservationBody(seq int) string {
	return fmt.Sprintf(`{"customerId":%q,"vehicleId":"f1ee0000-0000-4000-8000-000000000002","category":"KOMPAKT",
		"pickupLocation":"BER-HBF",%s,"paymentMethodId":%q}`, devissuer.CustomerAlice, reservationSlot(seq), paymentMethod)
}

// guestReservationBody registers a new guest and books the VW ID.3 at BER-HBF.
func guestReservationBody(seq int) string {
	return fmt.Sprintf(`{"customer":{"firstName":"Matrix","lastName":"Guest","email":"matrix-guest%d@example.com","phone":"+49 30 1234567",
		"dateOfBirth":"1990-01-01","address":{"street":"Teststraße 1","postalCode":"10115","city":"Berlin"},
		"licence":{"number":"B072RRE2I%02d","issuingCountry":"DE","issueDate":"2009-06-15","expiryDate":"2034-06-15"}},
		"vehicleId":"f1ee0000-0000-4000-8000-000000000003","pickupLocation":"BER-HBF",%s,
		"paymentMethodId":%q}`, seq, seq%100, reservationSlot(seq), paymentMethod)
}

func cancelBody(int) string { return `{"reason":"authorization matrix"}` }

// pingHeaders is a PingSource's event, a new id per call (each sweeps, answered 202).
func pingHeaders(seq int) map[string]string {
	return map[string]string{"ce-specversion": "1.0", "ce-id": fmt.Sprintf("authz-ping-%d", seq),
		"ce-source": "authz-matrix", "ce-type": events.Ping}
}

func emptyObject(int) string { return `{}` }

// webhookMissing is no webhook subscription; webhookBody a valid one (a public literal
// address: no name to resolve); syncEventHeaders an event sync-worker's Triggers deliver.
const (
	webhookMissingID = "5e5e0000-0000-4000-8000-0000000000ff"
	webhookMissing   = "/api/webhooks/" + webhookMissingID
)

// portalReservation and portalMissing are the call-center portal's paths of a booking and
// of a missing object (a signed-out caller never gets as far as reading them).
const (
	portalReservation = "/call-center/reservations/" + reservationID
	portalMissing     = "5e5e0000-0000-4000-8000-0000000000fe"
)

func webhookBody(int) string {
	return `{"url":"https://93.184.216.34/hook","types":["` + events.ReservationConfirmed + `"]}`
}

func syncEventHeaders(seq int) map[string]string {
	return map[string]string{"ce-specversion": "1.0", "ce-id": fmt.Sprintf("authz-sync-%d", seq),
		"ce-source": "authz-matrix", "ce-type": events.ReservationConfirmed}
}

// housekeeping is admins only (and a function not in the matrix: cleanup-worker).
var housekeeping = policy([6]int{401, 403, 403, 403, 403, 200}, 403, 403)

// archiveBody archives what finished before 2020: nothing here.
func archiveBody(int) string { return `{"finishedBefore":"2020-01-01T00:00:00Z"}` }

// reservationRead: customers their own (B 404), agents, admins; reservationStaff and
// reservationAgents: agents and admins.
var (
	reservationRead   = policy([6]int{401, 200, 404, 200, 403, 200}, 403, 403)
	reservationStaff  = policy([6]int{401, 403, 403, 200, 403, 200}, 403, 403)
	reservationAgents = policy([6]int{401, 403, 403, 200, 403, 200}, 403, 403)
)

// notificationFixture is a sent mail of customer A, who is known to notifications (the
// customer events that would tell it are not flowing here).
const notificationFixture = "9071f000-0000-4000-8000-000000000001"

func notificationFixtures(t *testing.T, db *database.DB) {
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `INSERT INTO notifier.recipients (customer_id, version, email, first_name, last_name, language)
		VALUES ($1, 1, 'alice@example.com', 'Alice', 'Hartmann', 'en') ON CONFLICT DO NOTHING`, devissuer.CustomerAlice)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO notifier.notifications (id, event_source, event_id, type, customer_id, recipient, language,
		subject, body, status, attempts, sent_at) VALUES ($1, 'authz-matrix', 'fixture', 'message', $2, 'alice@example.com', 'en',
		'Matrix', 'Hello', 'sent', 1, now()) ON CONFLICT DO NOTHING`, notificationFixture, devissuer.CustomerAlice)
	require.NoError(t, err)
}

// notificationRead: customer A and staff (B gets 404); notificationAgents: agents and admins.
var (
	notificationRead   = policy([6]int{401, 200, 404, 200, 403, 200}, 403, 403)
	notificationAgents = func(ok int) [9]int { return policy([6]int{401, 403, 403, ok, 403, ok}, 403, 403) }
)

func messageBody(int) string {
	return `{"customerId":"` + devissuer.CustomerAlice + `","subject":"Matrix","body":"Hello"}`
}

func preferencesBody(int) string { return `{"email":true,"sms":false}` }

// expected is keyed by "<service> <operation>".
var expected = map[string]row{
	"api-gateway forward:customers-api":   {expect: everyone(forwards)},
	"api-gateway forward:customers-api/*": {expect: everyone(forwards)},

	"customers-api getOpenAPI":                {path: "/openapi.json", expect: everyone(200)},
	"customers-api getCustomersOpenAPI":       {path: "/api/customers/openapi.json", expect: everyone(200)},
	"customers-api registerCustomer":          {path: "/api/customers", body: registrationBody, expect: everyone(201)},
	"customers-api registerGuest":             {path: "/api/customers/guests", body: registrationBody, expect: policy([6]int{401, 403, 403, 403, 403, 201}, 201, 403)},
	"customers-api withdrawGuest":             {path: "/api/customers/guests/99999999-9999-4999-8999-999999999999", expect: policy([6]int{401, 403, 403, 403, 403, 404}, 404, 403)}, // no such guest: 404 once through
	"customers-api verifyEmail":               {path: "/api/customers/verify-email", body: verificationBody, expect: everyone(400)},
	"customers-api searchCustomers":           {path: "/api/customers", expect: policy([6]int{401, 403, 403, 200, 403, 200}, 403, 403)},
	"customers-api getCustomer":               {path: customerA, expect: customerRead},
	"customers-api updateCustomerProfile":     {path: customerA, body: aliceProfileBody, expect: customerWrite},
	"customers-api updateCustomerLicence":     {path: customerA + "/licence", body: aliceLicenceBody, expect: customerWrite},
	"customers-api changeCustomerStatus":      {path: customerA + "/status", body: customerStatusBody, expect: policy([6]int{401, 403, 403, 200, 403, 200}, 403, 403)},
	"customers-api checkCustomerEligibility":  {path: customerA + "/eligibility", body: eligibilityBody, expect: customerEligibility},
	"customers-api checkApplicantEligibility": {path: "/api/customers/eligibility", body: applicantEligibilityBody, expect: policy([6]int{401, 403, 403, 200, 403, 200}, 200, 403)},
	"customers-api eraseCustomer":             {path: customerA + "/erasure", reset: restoreAlice(), expect: customerWrite},
	// alice's address is verified: nothing to send (409) for whoever may ask.
	"customers-api sendVerificationLink": {path: customerA + "/verification", expect: policy([6]int{401, 409, 404, 409, 403, 409}, 403, 403)},

	"api-gateway forward:locations-api":   {expect: everyone(forwards)},
	"api-gateway forward:locations-api/*": {expect: everyone(forwards)},

	"locations-api getOpenAPI":           {path: "/openapi.json", expect: everyone(200)},
	"locations-api getLocationsOpenAPI":  {path: "/api/locations/openapi.json", expect: everyone(200)},
	"locations-api listLocations":        {path: "/api/locations", expect: everyone(200)},
	"locations-api getLocation":          {path: "/api/locations/BER-HBF", expect: everyone(200)},
	"locations-api createLocation":       {path: "/api/locations", body: locationBody, expect: fleetOnly(201)},
	"locations-api updateLocation":       {path: "/api/locations/BER-HBF", body: detailsBody, expect: fleetOnly(200)},
	"locations-api changeLocationStatus": {path: "/api/locations/BER-HBF/status", body: statusBody, expect: fleetOnly(200)},

	"api-gateway forward:pricing-api":   {expect: everyone(forwards)},
	"api-gateway forward:pricing-api/*": {expect: everyone(forwards)},

	"pricing-api getOpenAPI":        {path: "/openapi.json", expect: everyone(200)},
	"pricing-api getPricingOpenAPI": {path: "/api/pricing/openapi.json", expect: everyone(200)},
	"pricing-api getCatalogue":      {path: "/api/pricing/catalogue", expect: everyone(200)},
	"pricing-api listRatePolicies":  {path: "/api/pricing/policies", expect: pricingStaff},
	"pricing-api getRatePolicy":     {path: "/api/pricing/policies/00000000-0000-4000-8000-000000000002", expect: pricingStaff},
	"pricing-api createRatePolicy":  {path: "/api/pricing/policies", body: ratePolicyBody, expect: fleetOnly(201)},
	"pricing-api updateRatePolicy":  {path: "/api/pricing/policies/00000000-0000-4000-8000-000000000002", body: ratePolicyTermsBody, expect: fleetOnly(200)},
	// Deactivation is final and every seed policy prices something other rows rely on, so the
	// row targets a policy that does not exist: the 404 proves the access check let the caller
	// through to the handler, the 401/403 that it stops everyone else.
	"pricing-api deactivateRatePolicy":     {path: "/api/pricing/policies/99999999-9999-4999-8999-999999999999/deactivate", expect: fleetOnly(404)},
	"pricing-api createQuote":              {path: "/api/pricing/quotes", body: quoteBody, expect: everyone(200)},
	"pricing-api calculateRates":           {path: "/api/pricing/rates", body: ratesBody, expect: everyone(200)},
	"pricing-api calculateCancellationFee": {path: "/api/pricing/cancellation-fee", body: cancellationFeeBody, expect: pricingFee},
	"pricing-api calculateReturnCharges":   {path: "/api/pricing/return-charges", body: returnChargesBody, expect: pricingReturn},

	"api-gateway forward:vehicles-api":   {expect: everyone(forwards)},
	"api-gateway forward:vehicles-api/*": {expect: everyone(forwards)},

	// The event catalogue, served by the gateway itself for producers (public, read-only).
	"api-gateway listEventSchemas":  {path: "/api/events/schemas", expect: everyone(200)},
	"api-gateway getEventSchema":    {path: "/api/events/schemas/com.orangecarrental.vehicle.fuel_read.v1.json", expect: everyone(200)},
	"api-gateway getEventsAsyncAPI": {path: "/api/events/asyncapi.json", expect: everyone(200)},
	// Another method on a catalogue document (a POST here) is the gateway's 405.
	"api-gateway eventSchemasReadOnly":   {path: "/api/events/schemas", body: emptyObject, expect: everyone(405)},
	"api-gateway eventSchemaReadOnly":    {path: "/api/events/schemas/com.orangecarrental.vehicle.fuel_read.v1.json", body: emptyObject, expect: everyone(405)},
	"api-gateway eventsAsyncAPIReadOnly": {path: "/api/events/asyncapi.json", body: emptyObject, expect: everyone(405)},

	"vehicles-api getOpenAPI":             {path: "/openapi.json", expect: everyone(200)},
	"vehicles-api getVehiclesOpenAPI":     {path: "/api/vehicles/openapi.json", expect: everyone(200)},
	"vehicles-api searchVehicles":         {path: vehicleSearchPath, expect: everyone(200)},
	"vehicles-api createVehicle":          {path: "/api/vehicles", body: vehicleBody, expect: fleetOnly(201)},
	"vehicles-api listInventory":          {path: "/api/vehicles/inventory", expect: fleetStaff},
	"vehicles-api getVehicle":             {path: vehicleRoute, expect: everyone(200)},
	"vehicles-api getVehicleTelematics":   {path: vehicleRoute + "/telematics", expect: fleetStaff},
	"vehicles-api updateVehicle":          {path: vehicleRoute, body: vehicleDetailsBody, expect: fleetOnly(200)},
	"vehicles-api changeVehicleStatus":    {path: vehicleRoute + "/status", body: vehicleStatusBody, expect: fleetOnly(200)},
	"vehicles-api moveVehicle":            {path: vehicleRoute + "/location", body: vehicleMoveBody, expect: fleetOnly(200)},
	"vehicles-api changeVehicleDailyRate": {path: vehicleRoute + "/daily-rate", body: vehicleRateBody, expect: fleetOnly(200)},
	// Only fleet's own Triggers deliver; a type fleet does not consume is acknowledged (202)
	// and ignored.
	"vehicles-api receiveEvent": {path: "/cloudevents", body: registeredEventData, header: registeredEventHeaders, expect: receiver(202)},

	"api-gateway forward:dead-letter":   {expect: everyone(forwards)},
	"api-gateway forward:dead-letter/*": {expect: everyone(forwards)},

	"dead-letter getOpenAPI":            {path: "/openapi.json", expect: everyone(200)},
	"dead-letter getDeadLettersOpenAPI": {path: "/api/dead-letters/openapi.json", expect: everyone(200)},
	// Dead letters from the Triggers that dead-letter here only; customer.erased from its own.
	"dead-letter receiveDeadLetter": {path: "/", body: registeredEventData, header: registeredEventHeaders, expect: receiver(202)},
	"dead-letter receiveEvent":      {path: "/cloudevents", body: erasedEventData, header: erasedEventHeaders, expect: receiver(202)},
	// Admins only; no such letter here.
	"dead-letter listDeadLetters":   {path: "/api/dead-letters", expect: deadLetterAdmins(200)},
	"dead-letter replayDeadLetters": {path: "/api/dead-letters/replay", expect: deadLetterAdmins(200)},
	"dead-letter getDeadLetter":     {path: deadLetterMissing, expect: deadLetterAdmins(404)},
	"dead-letter replayDeadLetter":  {path: deadLetterMissing + "/replay", expect: deadLetterAdmins(404)},
	"dead-letter discardDeadLetter": {path: deadLetterMissing + "/discard", expect: deadLetterAdmins(404)},

	"api-gateway forward:payments-api":   {expect: everyone(forwards)},
	"api-gateway forward:payments-api/*": {expect: everyone(forwards)},

	"payments-api getOpenAPI":         {path: "/openapi.json", expect: everyone(200)},
	"payments-api getPaymentsOpenAPI": {path: "/api/payments/openapi.json", expect: everyone(200)},
	"payments-api authorizePayment":   {path: "/api/payments", body: authorizationBody, reset: declinedPayments, expect: paymentWrite(201)},
	"payments-api findPayments":       {path: "/api/payments?reservation=" + paymentReservation, reset: paymentFixtures, expect: paymentList},
	"payments-api getPayment":         {path: "/api/payments/" + paymentFixture, reset: paymentFixtures, expect: paymentRead},
	"payments-api capturePayment":     {path: paymentMissing + "/capture", body: amountBody, expect: paymentWrite(404)},
	"payments-api voidPayment":        {path: paymentMissing + "/void", expect: paymentWrite(404)},
	"payments-api refundPayment":      {path: paymentMissing + "/refund", body: amountBody, expect: paymentWrite(404)},
	"payments-api issueInvoice":       {path: "/api/invoices", body: invoiceBody, expect: policy([6]int{401, 403, 403, 403, 403, 201}, 403, 403)},
	"payments-api listInvoices":       {path: "/api/invoices", expect: paymentList},
	"payments-api getInvoice":         {path: "/api/invoices/" + invoiceFixture, reset: paymentFixtures, expect: paymentRead},
	"payments-api getInvoicePDF":      {path: "/api/invoices/" + invoiceFixture + "/pdf", reset: paymentFixtures, expect: paymentRead},
	"payments-api receiveEvent":       {path: "/cloudevents", body: registeredEventData, header: registeredEventHeaders, expect: receiver(202)},

	// Tokenizing a card is open to everyone: a guest needs a payment method before booking.
	"payments-api createPaymentMethod": {path: "/api/payments/methods", body: cardBody, expect: everyone(201)},

	"api-gateway forward:reservations-api":   {expect: everyone(forwards)},
	"api-gateway forward:reservations-api/*": {expect: everyone(forwards)},

	"reservations-api getOpenAPI":             {path: "/openapi.json", expect: everyone(200)},
	"reservations-api getReservationsOpenAPI": {path: "/api/reservations/openapi.json", expect: everyone(200)},
	// Customer B names customer A in the body: refused as no such customer (400), never booked.
	"reservations-api createReservation":      {path: "/api/reservations", body: reservationBody, expect: policy([6]int{401, 201, 400, 201, 403, 201}, 403, 403)},
	"reservations-api createGuestReservation": {path: "/api/reservations/guest", body: guestReservationBody, expect: everyone(201)},
	"reservations-api lookupReservation":      {path: "/api/reservations/lookup?id=" + reservationID + "&email=alice@example.com", reset: reservationFixture("pending", 72*time.Hour), expect: everyone(200)},
	"reservations-api searchReservations":     {path: "/api/reservations", expect: policy([6]int{401, 200, 200, 200, 403, 200}, 403, 403)}, // customers: their own
	"reservations-api getReservation":         {path: reservationRoute, reset: reservationFixture("pending", 72*time.Hour), expect: reservationRead},
	"reservations-api activateReservation":    {path: reservationRoute + "/activate", body: readingsBody, reset: reservationFixture("confirmed", -time.Hour), expect: reservationAgents},
	"reservations-api completeReservation":    {path: reservationRoute + "/complete", body: readingsBody, reset: reservationFixture("active", -time.Hour), expect: reservationAgents},
	"reservations-api previewCancellation":    {path: reservationRoute + "/cancellation-fee", reset: reservationFixture("pending", 72*time.Hour), expect: policy([6]int{401, 200, 404, 200, 403, 200}, 403, 403)},
	"reservations-api cancelReservation":      {path: reservationRoute + "/cancel", body: cancelBody, reset: reservationFixture("pending", 72*time.Hour), expect: policy([6]int{401, 200, 404, 200, 403, 200}, 403, 403)},
	"reservations-api namePaymentMethod":      {path: reservationRoute + "/payment-method", body: func(int) string { return `{"paymentMethodId":"` + paymentMethod + `"}` }, reset: reservationFixture("pending", 72*time.Hour), expect: policy([6]int{401, 409, 404, 409, 403, 409}, 403, 403)}, // no decline yet: 409 once through
	"reservations-api changeReservation":      {path: reservationRoute + "/change", body: func(int) string { return `{"insurance":"FULL"}` }, reset: reservationFixture("pending", 72*time.Hour), expect: policy([6]int{401, 200, 404, 200, 403, 200}, 403, 403)},
	"reservations-api previewChange":          {path: reservationRoute + "/change-preview", body: func(int) string { return `{"insurance":"FULL"}` }, reset: reservationFixture("pending", 72*time.Hour), expect: policy([6]int{401, 200, 404, 200, 403, 200}, 403, 403)},
	// A guest's link routes are public: a forged link is a 404 for everyone. The link itself is
	// notification-worker's (not a caller here; the reservations tests call it as that), and
	// the fixture is no guest booking: 404 for an admin.
	"reservations-api getGuestReservation":      {path: reservationRoute + "/guest?token=forged", reset: reservationFixture("pending", 72*time.Hour), expect: everyone(404)},
	"reservations-api previewGuestCancellation": {path: reservationRoute + "/guest/cancellation-fee?token=forged", reset: reservationFixture("pending", 72*time.Hour), expect: everyone(404)},
	"reservations-api cancelGuestReservation":   {path: reservationRoute + "/guest/cancel?token=forged", body: cancelBody, reset: reservationFixture("pending", 72*time.Hour), expect: everyone(404)},
	"reservations-api changeGuestReservation":   {path: reservationRoute + "/guest/change?token=forged", body: func(int) string { return `{"insurance":"FULL"}` }, reset: reservationFixture("pending", 72*time.Hour), expect: everyone(404)},
	"reservations-api previewGuestChange":       {path: reservationRoute + "/guest/change-preview?token=forged", body: func(int) string { return `{"insurance":"FULL"}` }, reset: reservationFixture("pending", 72*time.Hour), expect: everyone(404)},
	"reservations-api nameGuestPaymentMethod":   {path: reservationRoute + "/guest/payment-method?token=forged", body: func(int) string { return `{"paymentMethodId":"` + paymentMethod + `"}` }, reset: reservationFixture("pending", 72*time.Hour), expect: everyone(404)},
	"reservations-api getGuestLink":             {path: reservationRoute + "/guest-link", reset: reservationFixture("pending", 72*time.Hour), expect: policy([6]int{401, 403, 403, 403, 403, 404}, 403, 403)},
	"reservations-api markReservationNoShow":    {path: reservationRoute + "/no-show", body: emptyObject, reset: reservationFixture("confirmed", -time.Hour), expect: reservationAgents},
	"reservations-api getReservationCounter":    {path: reservationRoute + "/counter", reset: reservationFixture("active", -time.Hour), expect: reservationAgents},
	// Only reservations' own Triggers and its sweep PingSource deliver.
	"reservations-api receiveEvent": {path: "/cloudevents", body: emptyObject, header: pingHeaders, expect: receiver(202)},
	// Housekeeping: admins and cleanup-worker's own identity (not a caller here: the cleanup
	// and reservationsapi tests call them as that) — nothing due, nothing old enough here.
	"reservations-api markNoShows":         {path: "/api/reservations/no-shows", body: emptyObject, expect: housekeeping},
	"reservations-api archiveReservations": {path: "/api/reservations/archive", body: archiveBody, expect: housekeeping},

	// cleanup-worker: admins list its runs; only its nightly PingSource wakes it (a ping
	// with other data is a manual run, answered 200 with what it did).
	"api-gateway forward:cleanup-worker":   {expect: everyone(forwards)},
	"api-gateway forward:cleanup-worker/*": {expect: everyone(forwards)},
	"cleanup-worker listCleanupRuns":       {path: "/api/cleanup/runs", expect: housekeeping},
	"cleanup-worker receivePing":           {path: "/cloudevents", body: emptyObject, header: pingHeaders, expect: receiver(200)},

	// report-worker: admins and fleet managers read reports (a month never frozen: 404);
	// admins rebuild the model; only its own Triggers and monthly PingSource deliver (a ping
	// freezes last month, or finds it frozen: 202 either way).
	"api-gateway forward:report-worker":   {expect: everyone(forwards)},
	"api-gateway forward:report-worker/*": {expect: everyone(forwards)},
	"report-worker getReport":             {path: "/api/reports?from=2026-11-01&to=2026-11-30", expect: fleetOnly(200)},
	"report-worker getMonthlyReport":      {path: "/api/reports/monthly/2020-01", expect: fleetOnly(404)},
	"report-worker rebuildReports":        {path: "/api/reports/rebuild", expect: housekeeping},
	"report-worker receiveEvent":          {path: "/cloudevents", body: emptyObject, header: pingHeaders, expect: receiver(202)},

	// sync-worker: admins manage webhooks and partners (missing ones: 404); only partners
	// send events (an admin passes the role check and is refused by the handler: no
	// partner); only its own Triggers deliver (no subscription here: nothing queued, 202).
	"api-gateway forward:sync-worker":   {expect: everyone(forwards)},
	"api-gateway forward:sync-worker/*": {expect: everyone(forwards)},
	"sync-worker listWebhooks":          {path: "/api/webhooks", expect: housekeeping},
	"sync-worker createWebhook":         {path: "/api/webhooks", body: webhookBody, expect: policy([6]int{401, 403, 403, 403, 403, 201}, 403, 403)},
	"sync-worker getWebhook":            {path: webhookMissing, expect: deadLetterAdmins(404)},
	"sync-worker updateWebhook":         {path: webhookMissing, body: func(int) string { return `{"description":"x"}` }, expect: deadLetterAdmins(404)},
	"sync-worker deleteWebhook":         {path: webhookMissing, expect: deadLetterAdmins(404)},
	"sync-worker listWebhookDeliveries": {path: webhookMissing + "/deliveries", expect: deadLetterAdmins(404)},
	"sync-worker getWebhookDelivery":    {path: webhookMissing + "/deliveries/" + webhookMissingID, expect: deadLetterAdmins(404)},
	"sync-worker replayWebhookDelivery": {path: webhookMissing + "/deliveries/" + webhookMissingID + "/replay", body: emptyObject, expect: deadLetterAdmins(404)},
	"sync-worker listPartners":          {path: "/api/partners", expect: housekeeping},
	"sync-worker putPartner": {path: "/api/partners/authz-partner", body: func(int) string { return `{"types":["` + events.VehicleOdometerRead + `"]}` },
		reset: noPartner, expect: policy([6]int{401, 403, 403, 403, 403, 201}, 403, 403)}, // each call creates it
	"sync-worker deletePartner": {path: "/api/partners/authz-nobody", expect: deadLetterAdmins(404)},
	"sync-worker postEvents":    {path: "/api/events", body: emptyObject, expect: policy([6]int{401, 403, 403, 403, 403, 403}, 403, 403)},
	"sync-worker receiveEvent":  {path: "/cloudevents", body: emptyObject, header: syncEventHeaders, expect: receiver(202)},

	// Only the worker's own Triggers deliver; /dev/mail exists in folder mode only (the dev
	// host serves it on the laptop): every caller gets through the router; getMail asks for a
	// mail that is not there, so 404 for all.
	"notification-worker receiveEvent": {path: "/cloudevents", body: registeredEventData, header: registeredEventHeaders, expect: receiver(202)},
	"notification-worker listMail":     {path: "/dev/mail", expect: everyone(200)},
	"notification-worker getMail":      {path: "/dev/mail/00000000-0000-4000-8000-00000000e3a1", expect: everyone(404)},
	// The SMS folder (SMS_MODE=folder, the default), a dev page like /dev/mail.
	"notification-worker listSMS": {path: "/dev/sms", expect: everyone(200)},
	"notification-worker getSMS":  {path: "/dev/sms/00000000-0000-4000-8000-00000000e3a2", expect: everyone(404)},

	// notifications-api: customers read their own history and set their own channels (B gets
	// 404), agents and admins read everyone's, send, resend and preview; no function calls it.
	"api-gateway forward:notifications-api":   {expect: everyone(forwards)},
	"api-gateway forward:notifications-api/*": {expect: everyone(forwards)},

	"notifications-api getOpenAPI":              {path: "/openapi.json", expect: everyone(200)},
	"notifications-api getNotificationsOpenAPI": {path: "/api/notifications/openapi.json", expect: everyone(200)},
	"notifications-api listNotifications":       {path: "/api/notifications", reset: notificationFixtures, expect: policy([6]int{401, 200, 200, 200, 403, 200}, 403, 403)},
	"notifications-api sendNotification":        {path: "/api/notifications", body: messageBody, reset: notificationFixtures, expect: notificationAgents(202)},
	"notifications-api listTemplates":           {path: "/api/notifications/templates", expect: notificationAgents(200)},
	"notifications-api previewTemplate":         {path: "/api/notifications/templates/" + events.ReservationConfirmed + "/preview?lang=en", expect: notificationAgents(200)},
	"notifications-api getPreferences":          {path: "/api/notifications/preferences?customerId=" + devissuer.CustomerAlice, reset: notificationFixtures, expect: notificationRead},
	"notifications-api putPreferences":          {path: "/api/notifications/preferences?customerId=" + devissuer.CustomerAlice, body: preferencesBody, reset: notificationFixtures, expect: notificationRead},
	"notifications-api getNotification":         {path: "/api/notifications/" + notificationFixture, reset: notificationFixtures, expect: notificationRead},
	"notifications-api resendNotification":      {path: "/api/notifications/" + notificationFixture + "/resend", reset: notificationFixtures, expect: notificationAgents(202)},

	// call-center-portal: pages read the session cookie, never a bearer token, so every
	// caller here is signed out: a page sends the browser to sign in (303), a form post
	// without the session's CSRF token is the 403 page. Who may see a page once signed in
	// is the APIs' answer to the user (functions/callcenter's tests).
	"call-center-portal call-center-portal.home":              {path: "/call-center/", expect: everyone(303)},
	"call-center-portal call-center-portal.customers":         {path: "/call-center/customers", expect: everyone(303)},
	"call-center-portal call-center-portal.customerSearch":    {path: "/call-center/customers", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.customer":          {path: "/call-center/customers/" + devissuer.CustomerAlice, expect: everyone(303)},
	"call-center-portal call-center-portal.eraseForm":         {path: "/call-center/customers/" + devissuer.CustomerAlice + "/erase", expect: everyone(303)},
	"call-center-portal call-center-portal.erase":             {path: "/call-center/customers/" + devissuer.CustomerAlice + "/erase", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.resend":            {path: "/call-center/notifications/" + portalMissing + "/resend", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.bookForm":          {path: "/call-center/customers/" + devissuer.CustomerAlice + "/book", expect: everyone(303)},
	"call-center-portal call-center-portal.book":              {path: "/call-center/customers/" + devissuer.CustomerAlice + "/book", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.reservation":       {path: portalReservation, expect: everyone(303)},
	"call-center-portal call-center-portal.paymentMethod":     {path: portalReservation + "/payment-method", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.pickupForm":        {path: portalReservation + "/pickup", expect: everyone(303)},
	"call-center-portal call-center-portal.pickup":            {path: portalReservation + "/pickup", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.returnForm":        {path: portalReservation + "/return", expect: everyone(303)},
	"call-center-portal call-center-portal.return":            {path: portalReservation + "/return", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.noShowForm":        {path: portalReservation + "/no-show", expect: everyone(303)},
	"call-center-portal call-center-portal.noShow":            {path: portalReservation + "/no-show", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.cancelForm":        {path: portalReservation + "/cancel", expect: everyone(303)},
	"call-center-portal call-center-portal.cancel":            {path: portalReservation + "/cancel", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.invoicePDF":        {path: "/call-center/invoices/" + portalMissing + "/pdf", expect: everyone(303)},
	"call-center-portal call-center-portal.counter":           {path: "/call-center/counter", expect: everyone(303)},
	"call-center-portal call-center-portal.deadLetters":       {path: "/call-center/dead-letters", expect: everyone(303)},
	"call-center-portal call-center-portal.deadLetter":        {path: "/call-center/dead-letters/" + portalMissing, expect: everyone(303)},
	"call-center-portal call-center-portal.replayDeadLetter":  {path: "/call-center/dead-letters/" + portalMissing + "/replay", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.discardDeadLetter": {path: "/call-center/dead-letters/" + portalMissing + "/discard", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.reports":           {path: "/call-center/reports", expect: everyone(303)},
	"call-center-portal call-center-portal.reportChart":       {path: "/call-center/reports/chart.svg", expect: everyone(303)},
	"call-center-portal call-center-portal.reportCSV":         {path: "/call-center/reports/report.csv", expect: everyone(303)},
	// platform/web's routes of the portal: sign-in goes to the issuer, a callback without
	// its state is refused, sign-out needs the CSRF token, "/call-center" gets its slash
	// back, assets and unknown paths are 404 pages ("/call-center/" itself is home).
	"call-center-portal call-center-portal.auth.login":    {path: "/call-center/auth/login", expect: everyone(303)},
	"call-center-portal call-center-portal.auth.callback": {path: "/call-center/auth/callback", expect: everyone(400)},
	"call-center-portal call-center-portal.auth.logout":   {path: "/call-center/auth/logout", body: emptyObject, expect: everyone(403)},
	"call-center-portal call-center-portal.static":        {path: "/call-center/static/", expect: everyone(404)},
	"call-center-portal call-center-portal.base":          {path: "/call-center", expect: everyone(301)},
	"call-center-portal call-center-portal.not-found":     {path: "/call-center/", expect: everyone(303)},

	// public-portal: its pages read the session cookie, never a bearer token, so every
	// caller here is a visitor without a session. Search and a guest's pages answer anyone
	// (a malformed search is the 400 page, an unknown car or a booking this browser did not
	// make the 404 page); "my bookings" sends the browser to sign in (303); a form post
	// without the session's CSRF token is the 403 page, before anything is called. What a
	// signed-in customer may see is the APIs' answer to them (functions/publicportal's tests).
	"public-portal public-portal.home":                 {path: "/", expect: everyone(200)},
	"public-portal public-portal.search":               {path: "/search?location=BER-HBF", expect: everyone(400)},
	"public-portal public-portal.vehicle":              {path: "/vehicles/" + portalMissing, expect: everyone(404)},
	"public-portal public-portal.book":                 {path: "/book?vehicle=" + portalMissing, expect: everyone(404)},
	"public-portal public-portal.book-submit":          {path: "/book", body: emptyObject, expect: everyone(403)},
	"public-portal public-portal.status":               {path: "/bookings/" + reservationID, expect: everyone(404)},
	"public-portal public-portal.retry-card":           {path: "/bookings/" + reservationID + "/payment-method", body: emptyObject, expect: everyone(403)},
	"public-portal public-portal.my-bookings":          {path: "/my-bookings", expect: everyone(303)},
	"public-portal public-portal.my-booking":           {path: "/my-bookings/" + reservationID, expect: everyone(303)},
	"public-portal public-portal.change":               {path: "/my-bookings/" + reservationID + "/change", expect: everyone(303)},
	"public-portal public-portal.change-submit":        {path: "/my-bookings/" + reservationID + "/change", body: emptyObject, expect: everyone(403)},
	"public-portal public-portal.cancel":               {path: "/my-bookings/" + reservationID + "/cancel", expect: everyone(303)},
	"public-portal public-portal.cancel-submit":        {path: "/my-bookings/" + reservationID + "/cancel", body: emptyObject, expect: everyone(403)},
	"public-portal public-portal.invoice":              {path: "/my-bookings/" + reservationID + "/invoices/" + portalMissing, expect: everyone(303)},
	"public-portal public-portal.manage":               {path: "/manage-booking?reservation=" + reservationID, expect: everyone(200)},
	"public-portal public-portal.manage-token":         {path: "/manage-booking", body: emptyObject, expect: everyone(403)},
	"public-portal public-portal.manage-change":        {path: "/manage-booking/change?reservation=" + reservationID, expect: everyone(404)},
	"public-portal public-portal.manage-change-submit": {path: "/manage-booking/change", body: emptyObject, expect: everyone(403)},
	"public-portal public-portal.manage-cancel":        {path: "/manage-booking/cancel?reservation=" + reservationID, expect: everyone(404)},
	"public-portal public-portal.manage-cancel-submit": {path: "/manage-booking/cancel", body: emptyObject, expect: everyone(403)},
	"public-portal public-portal.manage-card":          {path: "/manage-booking/payment-method", body: emptyObject, expect: everyone(403)},
	"public-portal public-portal.verify-email":         {path: "/verify-email", expect: everyone(200)},
	"public-portal public-portal.verify-email-submit":  {path: "/verify-email", body: emptyObject, expect: everyone(403)},
	"public-portal public-portal.auth.login":           {path: "/auth/login", expect: everyone(303)},
	"public-portal public-portal.auth.callback":        {path: "/auth/callback", expect: everyone(400)},
	"public-portal public-portal.auth.logout":          {path: "/auth/logout", body: emptyObject, expect: everyone(403)},
	"public-portal public-portal.static":               {path: "/static/", expect: everyone(404)},
	"public-portal public-portal.not-found":            {path: "/", expect: everyone(200)},
}

// TestAuthorizationMatrix calls every route of every function as every kind of caller and
// compares the status with the policy above. Routes under /api/ are called through the
// gateway, the way the public reaches them, and directly at the function, the way a
// cluster-local caller could (no function may rely on the gateway having checked); both
// must answer the same. A route without a row — a new route someone forgot to classify —
// fails the test, and so does a row for a route that no longer exists.
func TestAuthorizationMatrix(t *testing.T) {
	ctx := context.Background()
	reg, err := all.Registry()
	require.NoError(t, err)
	db := pg.NewDB(t, reg.Migrations()...)
	id := authtest.New(t)
	for _, fn := range reg.Functions() {
		id.Issuer.AddClients(fn.Service)
	}
	m, err := host.Mount(ctx, reg, host.MountDeps{
		DB:             db,
		Logger:         platform.NewLogger(io.Discard, "error", "authz"),
		Auth:           id.Config,
		KeyClient:      id.KeyClient,
		Events:         id.Events,
		EventKeyClient: id.KeyClient,
		ClientSecret:   devissuer.ClientSecret,
		CallTimeout:    5 * time.Second,
		// Every caller of the matrix books as a guest from one client address: the guest
		// hold limit (three an hour) is reservations' own test's, not this one's.
		Env: host.Env{Lookuper: envconfig.MapLookuper(map[string]string{"RESERVATION_GUEST_HOLDS_PER_ADDRESS": "1000"})},
	})
	require.NoError(t, err)
	devtest.OpenAroundTheClock(t, db)
	public := platform.Observe(platform.NewLogger(io.Discard, "error", "authz"), m.Handler)

	tokens := map[string]string{}
	for caller, user := range demoUser {
		tokens[caller] = id.Bearer(t, user)
	}
	// A partner (an external producer, platform.RolePartner) is no column of the matrix: it
	// may call only the routes that name its role (sync-worker's /api/events, whose own
	// tests pin its answers); every other protected route refuses it (403, checked below).
	partner := id.Bearer(t, "partner:"+devissuer.DevPartner)

	var seq atomic.Int64
	// call sends one request as caller: to the public handler (through the gateway) when
	// service is empty, else straight to service through the transport, as another function
	// in the cluster would.
	// delivery is the token of the event platform delivering to svc: from the route's own
	// first sender on a receiver, else from a Trigger no route names.
	delivery := func(svc string, access platform.Access) string {
		sender := platform.Trigger("authz-matrix-stranger")
		if len(access.Senders) > 0 {
			sender = access.Senders[0]
		}
		return id.DeliveryBearer(t, sender, svc)
	}
	call := func(method, path string, r row, caller, token, service string) int {
		target := path
		if service != "" {
			target = "http://" + service + path
		}
		n := int(seq.Add(1))
		var body io.Reader
		if r.body != nil {
			body = strings.NewReader(r.body(n))
		}
		req := httptest.NewRequest(method, target, body)
		if r.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if r.header != nil {
			for k, v := range r.header(n) {
				req.Header.Set(k, v)
			}
		}
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		if service == "" {
			rec := httptest.NewRecorder()
			public.ServeHTTP(rec, req)
			return rec.Code
		}
		req.RequestURI = ""
		resp, err := m.Transport.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	seen := map[string]bool{}
	services := make([]string, 0, len(m.APIs))
	for svc := range m.APIs {
		services = append(services, svc)
	}
	sort.Strings(services)
	for _, svc := range services {
		for _, rt := range m.APIs[svc].Routes() {
			key := svc + " " + rt.Name
			seen[key] = true
			r, ok := expected[key]
			if !assert.True(t, ok, "route %s %s of %s has no row in the expected policy: add one", rt.Method, rt.Path, svc) {
				continue
			}
			if r.expect[0] == forwards {
				continue
			}
			require.True(t, matches(rt.Path, r.path), "row %q calls %s, which is not route %s", key, r.path, rt.Path)
			// A route for any method (the gateway's read-only catalogue's 405) is called with a
			// POST when its row sends a body.
			method := rt.Method
			if method == "" && r.body != nil {
				method = http.MethodPost
			}
			reset := func() {
				if r.reset != nil {
					r.reset(t, db)
				}
			}
			for i, caller := range callers {
				want := r.expect[i]
				token := tokens[caller]
				if caller == "delivery" {
					token = delivery(svc, rt.Access)
				}
				reset()
				got := call(method, r.path, r, caller, token, svc)
				assert.Equal(t, want, got, "%s %s as %s (direct to %s)", rt.Method, r.path, caller, svc)
				if strings.HasPrefix(r.path, "/api/") {
					if caller == "delivery" && svc != gateway.ServiceName {
						// A delivery's token is addressed to one function: at the gateway it
						// is a token for someone else, refused before anything is forwarded
						// (the gateway's own routes, the event catalogue, are that function).
						want = http.StatusUnauthorized
					}
					reset()
					got := call(method, r.path, r, caller, token, "")
					assert.Equal(t, want, got, "%s %s as %s (through the gateway)", rt.Method, r.path, caller)
				}
			}
			if r.expect[0] == http.StatusUnauthorized && !slices.Contains(rt.Access.Roles, platform.RolePartner) {
				reset()
				got := call(rt.Method, r.path, r, "partner", partner, svc)
				assert.Equal(t, http.StatusForbidden, got, "%s %s as a partner (direct to %s)", rt.Method, r.path, svc)
				if strings.HasPrefix(r.path, "/api/") {
					reset()
					got := call(rt.Method, r.path, r, "partner", partner, "")
					assert.Equal(t, http.StatusForbidden, got, "%s %s as a partner (through the gateway)", rt.Method, r.path)
				}
			}
			reset()
		}
	}
	for key := range expected {
		assert.True(t, seen[key], "the expected policy has a row for %q, which no function serves", key)
	}
}

// matches reports whether path is an instance of the gorilla/mux template tmpl.
func matches(tmpl, path string) bool {
	path, _, _ = strings.Cut(path, "?") // a query (a search's parameters) is not part of the route
	want, got := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		variable := strings.HasPrefix(want[i], "{") && strings.HasSuffix(want[i], "}")
		if !(variable && got[i] != "" || want[i] == got[i]) {
			return false
		}
	}
	return true
}

// TestGatewayKnowsEveryFunction holds the gateway's forwarding table to the functions' own
// prefixes: every non-public function's API prefix (/api/…) is forwarded to that function.
func TestGatewayKnowsEveryFunction(t *testing.T) {
	reg, err := all.Registry()
	require.NoError(t, err)
	var want, got []string
	for _, fn := range reg.Functions() {
		if fn.Public {
			continue
		}
		for _, p := range fn.Prefixes {
			if !strings.HasPrefix(p, "/api/") {
				continue // a development page (notification-worker's /dev/mail): never forwarded
			}
			want = append(want, p+" → "+fn.Service)
		}
	}
	for _, u := range gateway.Upstreams {
		got = append(got, u.Prefix+" → "+u.Service)
	}
	sort.Strings(want)
	sort.Strings(got)
	assert.Equal(t, want, got)
}
