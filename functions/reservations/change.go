package reservations

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// ChangeRequest is the body of POST /api/reservations/{id}/change: what changes of a booking
// that has not started — dates, car (and with it the category), insurance, extras. A field
// left out keeps the booking's; extras, when given, replace the booking's list ([] drops
// them all).
type ChangeRequest struct {
	VehicleID *string  `json:"vehicleId,omitempty"`
	Category  *string  `json:"category,omitempty"`
	PickupAt  *string  `json:"pickupAt,omitempty"`
	ReturnAt  *string  `json:"returnAt,omitempty"`
	Insurance *string  `json:"insurance,omitempty"`
	Extras    *[]Extra `json:"extras,omitempty"`
}

// ChangeFeeCode is the line a change that lowers a confirmed booking's total adds.
const ChangeFeeCode = "CHANGE_FEE"

// VATPercent is the VAT rate a change fee's gross amount is split by (pricing's rate).
const VATPercent = 19

// changeSQL re-prices a booking in place, guarded by the version the change was computed
// from, the states a change leaves from and the pickup not having come ($17: now); the
// exclusion constraint checks the new period and car like an insert.
const changeSQL = `UPDATE reservations.reservations SET
	vehicle_id = $3, category = $4, pickup_at = $5, return_at = $6, insurance = $7, extras = $8,
	total_gross_cents = $9, daily_rate_gross_cents = $10, net_cents = $11, vat_cents = $12, lines = $13,
	currency = $14, version = version + 1, updated_at = now(),
	fee_pickup_at = CASE WHEN status = 'confirmed' THEN LEAST(COALESCE(fee_pickup_at, pickup_at), $5) END,
	change_fee_gross_cents = $16
WHERE id = $1 AND version = $2 AND status IN ('pending', 'confirmed') AND pickup_at > $15
RETURNING ` + selectColumns

// Change re-prices booking id as a (its owner, staff, or the guest's link) asked: a pending
// or confirmed booking whose pickup has not come. The new booking is checked as a new one
// would be (period rules, branches, eligibility for the new period, the car, pricing-api's
// quote); if its total is lower than the old one, a confirmed booking pays the change fee
// (changeFee) as a CHANGE_FEE line. The exclusion constraint guards the new period and car
// (409); ifVersion > 0 makes it conditional (412). reservation.changed carries the new
// totals and lines. A change that changes nothing answers the booking as it is.
func (s *Service) Change(ctx context.Context, a Actor, id string, in ChangeRequest, ifVersion int64) (Reservation, error) {
	if err := in.named(); err != nil {
		return Reservation{}, err
	}
	return decideAgain(ifVersion, func() (Reservation, error) { return s.change(ctx, a, id, in, ifVersion, false) })
}

// PreviewChange is Change without the change: the booking as the change would leave it — its
// new total and lines, the change fee included — for a page to show before the customer
// confirms; nothing is written. Its refusals are Change's.
func (s *Service) PreviewChange(ctx context.Context, a Actor, id string, in ChangeRequest) (Reservation, error) {
	if err := in.named(); err != nil {
		return Reservation{}, err
	}
	return s.change(ctx, a, id, in, 0, true)
}

// named refuses a change that names nothing to change.
func (in ChangeRequest) named() error {
	if in == (ChangeRequest{}) {
		return platform.Invalid("the change is invalid", platform.FieldError{Field: "body",
			Reason: "name at least one of vehicleId, category, pickupAt, returnAt, insurance, extras"})
	}
	return nil
}

// change is one decision of Change; preview answers it without writing it.
func (s *Service) change(ctx context.Context, a Actor, id string, in ChangeRequest, ifVersion int64, preview bool) (Reservation, error) {
	res, err := s.load(ctx, a, id)
	if err != nil {
		return Reservation{}, err
	}
	now := s.now()
	if err := changeAllowed(res, ifVersion, now); err != nil {
		return Reservation{}, err
	}
	b, errs := changed(res, in).validate(now, true)
	errs = slices.DeleteFunc(errs, func(f platform.FieldError) bool { return f.Field == "customerId" || f.Field == "paymentMethodId" })
	if len(errs) > 0 {
		return Reservation{}, platform.Invalid("the change is invalid", errs...)
	}
	if in.VehicleID != nil && in.Category == nil && b.vehicleID != res.VehicleID {
		b.category = "" // the new car's
	}
	if b.vehicleID == res.VehicleID && b.category == res.Category && b.pickupAt.Equal(res.PickupAt) && b.returnAt.Equal(res.ReturnAt) &&
		b.insurance == res.Insurance && reflect.DeepEqual(extrasArg(b.extras), res.Extras) {
		return res, nil
	}
	if err := s.checkBranches(ctx, b.pickupLocation, b.returnLocation, b.pickupAt, b.returnAt); err != nil {
		return Reservation{}, err
	}
	// Every change asks again, not only one of the dates: a customer blocked or erased since
	// the booking must not upgrade the car or the cover (cancelling stays open to them).
	if _, err := s.peers.eligibleCustomer(ctx, b); err != nil {
		return Reservation{}, err
	}
	check := s.peers.checkVehicle
	if b.vehicleID == res.VehicleID && b.category == res.Category {
		check = s.peers.keepVehicle
	}
	if err := check(ctx, &b); err != nil {
		return Reservation{}, err
	}
	p, err := s.peers.quote(ctx, b)
	if err != nil {
		return Reservation{}, err
	}
	if p, err = s.changeFee(ctx, res, p); err != nil {
		return Reservation{}, err
	}
	if preview {
		// What Change would refuse of the car's bookings, read (no lock, nothing written): a
		// preview that priced a period the car is taken in was refused at the confirmation.
		if err := s.store.Fits(ctx, res, b); err != nil {
			return Reservation{}, err
		}
		return changedTo(res, b, p), nil
	}
	out, err := s.store.Change(ctx, res, b, p, now)
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := s.store.Get(ctx, id)
		if gerr != nil {
			return Reservation{}, gerr
		}
		if err := changeAllowed(cur, ifVersion, s.now()); err != nil {
			return Reservation{}, err
		}
		return Reservation{}, platform.ConflictForNow("the reservation changed while it was being changed; please retry").WithCode("changed_meanwhile")
	}
	return out, err
}

// changeAllowed says why res cannot be changed at now, if it cannot.
func changeAllowed(res Reservation, ifVersion int64, now time.Time) error {
	switch {
	case ifVersion > 0 && int64(res.Version) != ifVersion:
		return platform.Stale("reservation", res.ID)
	case res.Status != StatusPending && res.Status != StatusConfirmed:
		return platform.Conflict("%s reservation cannot be changed: only a pending or confirmed one", aStatus(res.Status)).WithCode("status")
	case !now.Before(res.PickupAt):
		return platform.Conflict("the rental has started (its pickup time has come): it can no longer be changed").WithCode("rental_started")
	case res.Status == StatusPending && (res.HoldExpiresAt == nil || !res.HoldExpiresAt.After(now)):
		return platform.Conflict("the hold has expired; please book again").WithCode("hold_expired")
	}
	return nil
}

// changed is res as a booking request with in's changes applied.
func changed(res Reservation, in ChangeRequest) Booking {
	b := Booking{CustomerID: res.CustomerID, VehicleID: res.VehicleID, Category: res.Category,
		PickupLocation: res.PickupLocation, ReturnLocation: res.ReturnLocation,
		PickupAt: res.PickupAt.Format(time.RFC3339Nano), ReturnAt: res.ReturnAt.Format(time.RFC3339Nano),
		Insurance: res.Insurance, Extras: res.Extras, PaymentMethodID: res.paymentMethodID}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&b.VehicleID, in.VehicleID)
	set(&b.Category, in.Category)
	set(&b.PickupAt, in.PickupAt)
	set(&b.ReturnAt, in.ReturnAt)
	set(&b.Insurance, in.Insurance)
	if in.Extras != nil {
		b.Extras = *in.Extras
	}
	return b
}

// changeFee applies the change-fee policy to the new price p of confirmed booking res: a
// change that lowers the total is a partial cancellation of the reduction, so pricing's
// cancellation fee for the time left before the ORIGINAL pickup applies to it (≥ 48 h: 0 %,
// ≥ 24 h: 50 %, < 24 h: 100 %) and is added to the new total as a line CHANGE_FEE, its
// gross split into net and VAT (net = gross × 100 / 119, rounded half up; VAT the rest).
// An increase never costs a fee, and neither does any change of a pending hold (nothing is
// authorized yet: cancelling it is free, so shortening it is too).
//
// The fee is measured against the booking's price without the fee it already carries and
// timed from the earliest pickup it had while confirmed, and a change never lowers a fee
// already incurred: re-changing a changed booking, or moving its pickup away first, does not
// wear the fee down.
func (s *Service) changeFee(ctx context.Context, res Reservation, p price) (price, error) {
	if res.Status != StatusConfirmed {
		return p, nil
	}
	fee, percent := res.changeFeeGross, 0
	reduction := res.TotalGrossCents - res.changeFeeGross - p.grossCents
	if reduction > 0 {
		f, err := s.peers.cancellationFee(ctx, res.feePickupAt, s.now(), reduction)
		if err != nil {
			return p, err
		}
		if f.FeeCents > fee {
			fee, percent = f.FeeCents, f.FeePercent
		}
	}
	if fee == 0 {
		return p, nil
	}
	description := fmt.Sprintf("Change fee: %d %% of the %s reduction", percent, euros(reduction))
	if percent == 0 {
		description = "Change fee (of an earlier change)"
	}
	net := (fee*100*2 + (100 + VATPercent)) / (2 * (100 + VATPercent))
	p.lines = append(slices.Clip(p.lines), events.PriceLine{Code: ChangeFeeCode, Description: description,
		Quantity: 1, Per: "rental", UnitNetCents: net, NetCents: net})
	p.netCents += net
	p.vatCents += fee - net
	p.grossCents += fee
	p.changeFeeGross = fee
	return p, nil
}

// euros formats cents as "47.58 €".
func euros(cents int64) string { return fmt.Sprintf("%d.%02d €", cents/100, cents%100) }

// overlapSQL tells whether another booking that blocks the car ($1) overlaps [$3, $4): the
// exclusion constraint's question, asked before writing.
const overlapSQL = `SELECT EXISTS (SELECT 1 FROM reservations.reservations
WHERE vehicle_id = $1 AND id <> $2 AND status IN ('pending', 'confirmed', 'active')
  AND period && tstzrange($3, $4, '[)'))`

// Fits tells, reading only, whether res changed to b would fit the car's bookings as Change
// finds them: no other booking blocks the car in the new period (vehicle_booked), and the
// bookings before and after it still meet it (the chain's 409s). Change decides again under
// the car's lock; this is for a preview.
func (s *Store) Fits(ctx context.Context, res Reservation, b booking) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		var taken bool
		if err := tx.QueryRow(ctx, overlapSQL, b.vehicleID, res.ID, b.pickupAt, b.returnAt).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return errVehicleBooked()
		}
		return checkChain(ctx, tx, res.ID, b.vehicleID, b.pickupLocation, b.returnLocation, b.pickupAt, b.returnAt)
	})
}

// Change stores booking res re-priced as b at p, guarded by res's version, and records
// reservation.changed (with the payment method, for payments to adjust its authorization).
// pgx.ErrNoRows: the row moved on meanwhile; an overlap with another booking of the car is
// a 409.
func (s *Store) Change(ctx context.Context, res Reservation, b booking, p price, now time.Time) (Reservation, error) {
	var out Reservation
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		// Queue behind the bookings in flight of both cars (see Create), in one order.
		cars := []string{res.VehicleID, b.vehicleID}
		slices.Sort(cars)
		for _, v := range slices.Compact(cars) {
			if _, err := tx.Exec(ctx, lockVehicleSQL, v); err != nil {
				return err
			}
		}
		if err := checkChain(ctx, tx, res.ID, b.vehicleID, b.pickupLocation, b.returnLocation, b.pickupAt, b.returnAt); err != nil {
			return err
		}
		var err error
		out, err = scanReservation(tx.QueryRow(ctx, changeSQL, res.ID, res.Version, b.vehicleID, b.category, b.pickupAt, b.returnAt,
			p.insurance, extrasArg(b.extras), p.grossCents, p.dailyGrossCents, p.netCents, p.vatCents, p.lines, p.currency, now, p.changeFeeGross))
		if err != nil {
			return err
		}
		ev := payload(out)
		ev.PaymentMethodID = out.paymentMethodID
		return emit(ctx, tx, events.ReservationChanged, ev)
	})
	switch {
	case database.IsCode(err, database.ExclusionViolation):
		return Reservation{}, errVehicleBooked()
	case database.IsCode(err, database.CheckViolation):
		return Reservation{}, platform.Invalid("the change breaks a rule of the reservations table")
	}
	return out, err
}

// changedTo is res as a change to b priced at p would leave it (PreviewChange): what
// changeSQL writes, nothing stored.
func changedTo(res Reservation, b booking, p price) Reservation {
	out := res
	out.VehicleID, out.Category, out.PickupAt, out.ReturnAt = b.vehicleID, b.category, b.pickupAt, b.returnAt
	out.Insurance, out.Extras = p.insurance, extrasArg(b.extras)
	out.TotalGrossCents, out.DailyRateGrossCents, out.NetCents, out.VatCents = p.grossCents, p.dailyGrossCents, p.netCents, p.vatCents
	out.Lines, out.Currency, out.changeFeeGross = p.lines, p.currency, p.changeFeeGross
	return out
}
