package reservations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the reservations schema, with the outbox/inbox and the idempotency keys.
var Migrations = database.Migrations{Schema: "reservations", FS: migrationFiles, Dir: "migrations",
	With: []database.Migrations{events.Migrations(), idempotency.Migrations()}}

// Store keeps reservations in PostgreSQL.
type Store struct {
	db *database.DB
}

const selectColumns = `id, customer_id, vehicle_id, category, pickup_location, return_location, pickup_at, return_at,
	status, hold_expires_at, total_gross_cents, daily_rate_gross_cents, currency, cancel_reason, fee_cents, late_fee_cents,
	activated_at, completed_at, cancelled_at, version, created_at, updated_at, customer_email, payment_method_id,
	insurance, extras, net_cents, vat_cents, lines, payment_attempt, payment_declined_reason, guest,
	COALESCE(fee_pickup_at, pickup_at), change_fee_gross_cents, return_charges`

const getSQL = `SELECT ` + selectColumns + ` FROM reservations.reservations WHERE id = $1`

const insertSQL = `INSERT INTO reservations.reservations
	(customer_id, customer_email, vehicle_id, category, pickup_location, return_location, pickup_at, return_at,
	 hold_expires_at, total_gross_cents, daily_rate_gross_cents, currency, payment_method_id,
	 insurance, extras, net_cents, vat_cents, lines, guest)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + $9 * interval '1 millisecond', $10, $11, $12, $13,
	$14, $15, $16, $17, $18, $19)
RETURNING ` + selectColumns

// lockVehicleSQL serializes the bookings of one vehicle within their transactions.
const lockVehicleSQL = `SELECT pg_advisory_xact_lock(hashtext('reservations.vehicle'), hashtext($1::text))`

// lockBookingSQL is lockVehicleSQL for vehicle $1, then lockCustomerSQL for customer $2 —
// shared: an erasure or a guest's withdrawal (exclusive) waits for the customer's bookings in
// flight and they for it, but the bookings of one customer do not queue behind each other's
// commits (issue 19: all of one agent's or one customer's bookings did).
const lockBookingSQL = `SELECT pg_advisory_xact_lock(hashtext('reservations.vehicle'), hashtext($1::text)),
	pg_advisory_xact_lock_shared(hashtext('reservations.customer'), hashtext($2::text))`

// lockReservationVehicleSQL is lockVehicleSQL for the vehicle of reservation $1.
const lockReservationVehicleSQL = `SELECT pg_advisory_xact_lock(hashtext('reservations.vehicle'), hashtext(vehicle_id::text))
FROM reservations.reservations WHERE id = $1`

// transitionSQL is the state machine's guard: the row changes only when it is still in one
// of the states $2 the action leaves from. $4..$6 set the cancel reason and the fees when not
// null; the timestamps follow the new state; $8 is the payment attempt that confirmed it (0
// for other actions).
const transitionSQL = `UPDATE reservations.reservations SET
	status = $3,
	hold_expires_at = CASE WHEN $3 = 'pending' THEN hold_expires_at ELSE NULL END,
	payment_declined_reason = CASE WHEN $3 = 'confirmed' THEN '' ELSE payment_declined_reason END,
	cancel_reason = coalesce($4, cancel_reason),
	fee_cents = coalesce($5, fee_cents),
	late_fee_cents = coalesce($6, late_fee_cents),
	activated_at = CASE WHEN $3 = 'active' THEN now() ELSE activated_at END,
	completed_at = CASE WHEN $3 = 'completed' THEN now() ELSE completed_at END,
	cancelled_at = CASE WHEN $3 IN ('cancelled', 'expired', 'no_show') THEN now() ELSE cancelled_at END,
	payment_attempt = GREATEST(payment_attempt, $8),
	version = version + 1, updated_at = now()
WHERE id = $1 AND status = ANY($2) AND ($7::int = 0 OR version = $7)
RETURNING ` + selectColumns

// expireSQL takes a batch of past-due holds, skipping rows another sweep holds.
const expireSQL = `WITH picked AS MATERIALIZED (SELECT id FROM reservations.reservations
	WHERE status = 'pending' AND hold_expires_at < now()
	ORDER BY hold_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
UPDATE reservations.reservations r ` + expireSet + `
WHERE r.id IN (SELECT id FROM picked)
RETURNING ` + selectColumns

// expireSet is what an expiry writes (the sweep's expireSQL, a booking's expireVehicleHoldsSQL).
const expireSet = `SET status = 'expired', hold_expires_at = NULL, cancelled_at = now(), version = version + 1, updated_at = now()`

func scanReservation(row pgx.Row) (Reservation, error) {
	var r Reservation
	err := row.Scan(&r.ID, &r.CustomerID, &r.VehicleID, &r.Category, &r.PickupLocation, &r.ReturnLocation,
		&r.PickupAt, &r.ReturnAt, &r.Status, &r.HoldExpiresAt, &r.TotalGrossCents, &r.DailyRateGrossCents,
		&r.Currency, &r.CancelReason, &r.FeeCents, &r.LateFeeCents, &r.ActivatedAt, &r.CompletedAt,
		&r.CancelledAt, &r.Version, &r.CreatedAt, &r.UpdatedAt, &r.email, &r.paymentMethodID,
		&r.Insurance, &r.Extras, &r.NetCents, &r.VatCents, &r.Lines, &r.PaymentAttempt, &r.PaymentDeclinedReason, &r.Guest,
		&r.feePickupAt, &r.changeFeeGross, &r.ReturnCharges)
	if r.Extras == nil {
		r.Extras = []Extra{}
	}
	if r.ReturnCharges == nil {
		r.ReturnCharges = []events.PriceLine{}
	}
	r.priceWithReturn()
	if r.Lines == nil {
		r.Lines = []events.PriceLine{}
	}
	return r, err
}

// payload is the event payload of r: the whole booking as it stands.
func payload(r Reservation) events.Reservation {
	return events.Reservation{
		ReservationID: r.ID, Version: int64(r.Version), CustomerID: r.CustomerID, VehicleID: r.VehicleID,
		Category: r.Category, PickupLocation: r.PickupLocation, ReturnLocation: r.ReturnLocation,
		PickupAt: rfc3339(r.PickupAt), ReturnAt: rfc3339(r.ReturnAt),
		Status: string(r.Status), TotalGross: r.TotalGrossCents, Currency: r.Currency,
		Reason: r.CancelReason, FeeCents: r.FeeCents, LateFeeCents: r.LateFeeCents,
		NetCents: r.NetCents, VatCents: r.VatCents, Lines: r.Lines, PaymentAttempt: r.PaymentAttempt, Guest: r.Guest,
		CompletedAt: rfc3339Ptr(r.CompletedAt),
	}
}

// rfc3339Ptr is t as RFC 3339, "" for nil.
func rfc3339Ptr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return rfc3339(*t)
}

func emit(ctx context.Context, tx pgx.Tx, typ string, p events.Reservation) error {
	return events.Emit(ctx, tx, Migrations.Schema, ServiceName, typ, p.ReservationID, p)
}

// newHold is what a create stores.
type newHold struct {
	booking
	email string
	price price
	hold  time.Duration
	guest bool
}

// Create stores a pending hold and records reservation.created (with the payment method, for
// payments to authorize) in the same transaction. An overlapping blocking booking of the
// vehicle is refused by the exclusion constraint: 409; so is a customer erased while the
// booking was on its way (erasedRefusal). Under the booking route's Idempotency-Key
// (idempotency.WrapTx) the transaction is the request's: the key and its answer commit with
// the reservation and its event, one commit per booking.
func (s *Store) Create(ctx context.Context, h newHold) (Reservation, error) {
	r, err := s.create(ctx, h)
	if database.IsCode(err, database.ExclusionViolation) {
		// The car may be held only by a hold past its expiry that the sweep (once a minute)
		// has not reached: expire those now, and book if that freed the car — rather than
		// tell a guest whose hold lapsed "already booked" for up to a minute.
		if n, xerr := s.expirePastDueHolds(ctx, h.vehicleID); xerr == nil && n > 0 {
			r, err = s.create(ctx, h)
		}
	}
	switch {
	case database.IsCode(err, database.ExclusionViolation):
		return Reservation{}, errVehicleBooked()
	case database.IsCode(err, database.CheckViolation):
		return Reservation{}, platform.Invalid("the reservation breaks a rule of the reservations table")
	}
	return r, err
}

// expireVehicleHoldsSQL is expireSQL for one car.
const expireVehicleHoldsSQL = `UPDATE reservations.reservations ` + expireSet + `
WHERE vehicle_id = $1 AND status = 'pending' AND hold_expires_at < now()
RETURNING ` + selectColumns

// expirePastDueHolds expires vehicleID's holds past their expiry, each with its
// reservation.expired, as the sweep would, in a transaction of its own — only when there is
// one: a car simply taken costs its refusal a read, not a commit.
func (s *Store) expirePastDueHolds(ctx context.Context, vehicleID string) (int, error) {
	var due bool
	if err := s.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM reservations.reservations
		WHERE vehicle_id = $1 AND status = 'pending' AND hold_expires_at < now())`, vehicleID).Scan(&due); err != nil || !due {
		return 0, err
	}
	var n int
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		n, err = expire(ctx, tx, expireVehicleHoldsSQL, vehicleID)
		return err
	})
	return n, err
}

// create is Create's transaction.
func (s *Store) create(ctx context.Context, h newHold) (Reservation, error) {
	var r Reservation
	err := idempotency.InTx(ctx, s.db, func(tx pgx.Tx) error {
		// Concurrent inserts checked against one another by the exclusion constraint can
		// deadlock (each waits for the other's uncommitted row); queueing the bookings of one
		// vehicle on a transaction lock avoids that. The constraint still decides. The same
		// statement takes the customer's lock (shared) the erasure check needs.
		//
		// The locks, the checks (an erased customer, the car's chain of bookings: chain.go)
		// and the insert go in one round trip (issue 19): PostgreSQL runs a pipeline's
		// statements one after the other, each with its own snapshot, so the checks still read
		// after the locks are held; a refused insert is rolled back with the transaction.
		var b pgx.Batch
		b.Queue(lockBookingSQL, h.vehicleID, h.customerID)
		b.Queue(erasedSQL, h.customerID)
		b.Queue(chainSQL, h.vehicleID, h.pickupAt, h.returnAt, nil)
		b.Queue(insertSQL, h.customerID, h.email, h.vehicleID, h.category,
			h.pickupLocation, h.returnLocation, h.pickupAt, h.returnAt, h.hold.Milliseconds(),
			h.price.grossCents, h.price.dailyGrossCents, h.price.currency, h.paymentMethodID,
			h.price.insurance, extrasArg(h.extras), h.price.netCents, h.price.vatCents, h.price.lines, h.guest)
		results := tx.SendBatch(ctx, &b)
		_, lockErr := results.Exec()
		var erased bool
		erasedErr := results.QueryRow().Scan(&erased)
		var chain carChain
		chainErr := chain.scan(results.QueryRow())
		var insertErr error
		r, insertErr = scanReservation(results.QueryRow())
		closeErr := results.Close()
		switch {
		case lockErr != nil:
			return lockErr
		case erasedErr != nil:
			return erasedErr
		case erased:
			return erasedRefusal(h.customerID)
		case chainErr != nil:
			return chainErr
		}
		if err := chain.refusal(h.pickupLocation, h.returnLocation); err != nil {
			return err
		}
		switch {
		case insertErr != nil:
			return insertErr
		case closeErr != nil:
			return closeErr
		}
		p := payload(r)
		p.PaymentMethodID = h.paymentMethodID
		return emit(ctx, tx, events.ReservationCreated, p)
	})
	return r, err
}

// Get returns the reservation with id.
func (s *Store) Get(ctx context.Context, id string) (Reservation, error) {
	r, err := scanReservation(s.db.Pool.QueryRow(ctx, getSQL, id))
	if errors.Is(err, pgx.ErrNoRows) {
		// A booking finished long ago reads from the archive (archive.go).
		r, err = scanReservation(s.db.Pool.QueryRow(ctx, getArchivedSQL, id))
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return Reservation{}, platform.NotFound("no reservation with id %s", id)
	}
	return r, err
}

// change is what a transition sets besides the status; nil fields stay.
type change struct {
	reason       *string
	feeCents     *int64
	lateFeeCents *int64
	// counter is what the counter recorded at a handover or return (counter_store.go).
	counter *counterRecord
	// version, when not 0, is the version the decision was made on (a fee computed from the
	// booking's total, a car checked at the branch): a change in between is refused (409,
	// "please retry") instead of applying the decision to a booking it was not made for.
	version int
	// paymentAttempt is the attempt of the payment that confirms the booking: an agent's
	// authorization through payments-api is one the booking has not numbered, adopted so the
	// booking shows the attempt that paid.
	paymentAttempt int
}

// Transition applies action to reservation id if its state allows, recording the action's
// event in the same transaction. from narrows the states it may leave from (nil: all the
// machine allows). A reservation in another state is left unchanged: 409.
func (s *Store) Transition(ctx context.Context, id string, action Action, from []Status, c change) (Reservation, error) {
	var r Reservation
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		r, err = transitionTx(ctx, tx, id, action, from, c)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := s.Get(ctx, id)
		if gerr != nil {
			return Reservation{}, gerr
		}
		if c.version != 0 && cur.Version != c.version && slices.Contains(from, cur.Status) {
			return cur, platform.ConflictForNow("the reservation changed meanwhile (version %d, now %d); please retry", c.version, cur.Version).WithCode("changed_meanwhile")
		}
		return cur, illegal(action, cur.Status)
	}
	return r, err
}

// transitionTx is Transition inside tx; pgx.ErrNoRows when the row is missing or in a state
// the action does not leave from.
func transitionTx(ctx context.Context, tx pgx.Tx, id string, action Action, from []Status, c change) (Reservation, error) {
	t := Machine[action]
	if from == nil {
		from = t.from
	}
	if t.to == StatusConfirmed || t.to == StatusActive {
		// The new row version is checked by the exclusion constraint like an insert: queue
		// behind the vehicle's bookings in flight (see Create) rather than deadlock with them.
		if _, err := tx.Exec(ctx, lockReservationVehicleSQL, id); err != nil {
			return Reservation{}, err
		}
	}
	states := make([]string, len(from))
	for i, s := range from {
		states[i] = string(s)
	}
	r, err := scanReservation(tx.QueryRow(ctx, transitionSQL, id, states, string(t.to), c.reason, c.feeCents, c.lateFeeCents, c.version, c.paymentAttempt))
	if err != nil {
		return Reservation{}, err
	}
	p := payload(r)
	if c.counter != nil {
		if err := c.counter.record(ctx, tx, id, &p); err != nil {
			return Reservation{}, err
		}
		if c.counter.returnCharges != nil { // the row was read before they were recorded
			r.ReturnCharges = c.counter.returnCharges
			r.priceWithReturn()
		}
	}
	return r, emit(ctx, tx, t.event, p)
}

func illegal(a Action, s Status) error {
	return platform.Conflict("%s reservation cannot be %s", aStatus(s), actionVerb(a)).WithCode("status")
}

// aStatus is status with its article, for a message: "an active", "a cancelled", "a no show".
func aStatus(s Status) string {
	words := strings.ReplaceAll(string(s), "_", " ")
	if strings.ContainsRune("aeiou", rune(words[0])) {
		return "an " + words
	}
	return "a " + words
}

func actionVerb(a Action) string {
	switch a {
	case ActionConfirm:
		return "confirmed"
	case ActionActivate:
		return "picked up"
	case ActionComplete:
		return "returned"
	case ActionCancel:
		return "cancelled"
	case ActionNoShow:
		return "marked as a no-show"
	case ActionExpire:
		return "expired"
	}
	return string(a)
}

// ExpireDue expires pending holds past their expiry inside tx, each with its
// reservation.expired event, at most limit of them; it returns how many.
func ExpireDue(ctx context.Context, tx pgx.Tx, limit int) (int, error) {
	return expire(ctx, tx, expireSQL, limit)
}

// expire runs sql, an expiry RETURNING the expired rows, and records reservation.expired
// for each.
func expire(ctx context.Context, tx pgx.Tx, sql string, args ...any) (int, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	expired, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Reservation, error) { return scanReservation(row) })
	if err != nil {
		return 0, err
	}
	for _, r := range expired {
		if err := emit(ctx, tx, events.ReservationExpired, payload(r)); err != nil {
			return 0, err
		}
	}
	return len(expired), nil
}

// Filter narrows a search; empty fields match everything.
type Filter struct {
	Status     Status
	CustomerID string
	// Owner, when set, narrows the search to one customer's own bookings (a customer's list).
	Owner     string
	VehicleID string
	Category  string
	Location  string
	From, To  *time.Time
	Sort      string
	Page      int
	PageSize  int
}

// sortColumns maps the sort parameter to an ORDER BY clause.
var sortColumns = map[string]string{
	"pickupAt": "pickup_at, id", "-pickupAt": "pickup_at DESC, id",
	"createdAt": "created_at, id", "-createdAt": "created_at DESC, id",
	"returnAt": "return_at, id", "-returnAt": "return_at DESC, id",
}

// Search returns a page of reservations matching f and the total count. From/To select
// reservations whose period overlaps [From, To).
func (s *Store) Search(ctx context.Context, f Filter) ([]Reservation, int, error) {
	where := []string{"true"}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(string(f.Status)))
	}
	if f.CustomerID != "" {
		where = append(where, "customer_id = "+arg(f.CustomerID))
	}
	if f.Owner != "" {
		where = append(where, "customer_id = "+arg(f.Owner))
	}
	if f.VehicleID != "" {
		where = append(where, "vehicle_id = "+arg(f.VehicleID))
	}
	if f.Category != "" {
		where = append(where, "category = "+arg(f.Category))
	}
	if f.Location != "" {
		p := arg(f.Location)
		where = append(where, "(pickup_location = "+p+" OR return_location = "+p+")")
	}
	if f.From != nil || f.To != nil {
		where = append(where, "period && tstzrange("+arg(f.From)+"::timestamptz, "+arg(f.To)+"::timestamptz, '[)')")
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM reservations.reservations WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	order := sortColumns[f.Sort]
	if order == "" {
		order = sortColumns["pickupAt"]
	}
	q := `SELECT ` + selectColumns + ` FROM reservations.reservations WHERE ` + cond +
		` ORDER BY ` + order + ` LIMIT ` + arg(f.PageSize) + ` OFFSET ` + arg((f.Page-1)*f.PageSize)
	rows, err := s.db.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Reservation, error) { return scanReservation(row) })
	if out == nil {
		out = []Reservation{}
	}
	return out, total, err
}

// errVehicleBooked is the refusal of a booking, a change or its preview that another booking
// of the car overlaps (the exclusion constraint's, or the same question asked before it).
func errVehicleBooked() error {
	return platform.Conflict("the vehicle is already booked for an overlapping period").WithCode("vehicle_booked")
}

// priceWithReturn sets RentalGrossCents: the total, the late fee, and the return charges with
// 19 % VAT on their sum (payments' rule for the rental invoice).
func (r *Reservation) priceWithReturn() {
	r.RentalGrossCents = r.TotalGrossCents + r.LateFeeCents
	if charges := netOf(r.ReturnCharges); charges > 0 {
		r.RentalGrossCents += charges + rental.VATOf(charges)
	}
}

// netOf is the net of lines.
func netOf(lines []events.PriceLine) int64 {
	var n int64
	for _, l := range lines {
		n += l.NetCents
	}
	return n
}
