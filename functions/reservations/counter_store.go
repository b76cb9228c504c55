package reservations

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
)

// counterRecord is what the counter records at a handover (pickup readings) or a return
// (return readings, damage notes, return charges); nil fields stay as they are. It is
// written in the transaction of its transition (change.counter), after the guarded status
// update, so a refused transition records nothing (migration 0006).
type counterRecord struct {
	pickupOdometerKm, pickupFuelEighths *int
	returnOdometerKm, returnFuelEighths *int
	damageNotes                         *string
	// returnCharges, when not nil, are the return's charges as pricing-api computed them.
	returnCharges []events.PriceLine
}

const recordCounterSQL = `UPDATE reservations.reservations SET
	pickup_odometer_km = coalesce($2, pickup_odometer_km),
	pickup_fuel_eighths = coalesce($3, pickup_fuel_eighths),
	return_odometer_km = coalesce($4, return_odometer_km),
	return_fuel_eighths = coalesce($5, return_fuel_eighths),
	damage_notes = coalesce($6, damage_notes),
	return_charges = coalesce($7::jsonb, return_charges)
WHERE id = $1`

// record stores c on reservation id inside tx and puts what the event carries of it (the
// return charges; never the notes, a staff note) into p.
func (c *counterRecord) record(ctx context.Context, tx pgx.Tx, id string, p *events.Reservation) error {
	var charges any
	if c.returnCharges != nil {
		charges = c.returnCharges
		p.ReturnCharges = c.returnCharges
	}
	_, err := tx.Exec(ctx, recordCounterSQL, id, c.pickupOdometerKm, c.pickupFuelEighths,
		c.returnOdometerKm, c.returnFuelEighths, c.damageNotes, charges)
	return err
}

// Counter is what the counter recorded of a booking's car, shown to staff: the readings at
// the handover and at the return (odometer in km, fuel in eighths of a tank), the damage
// notes and the return charges (net lines, pricing-api's). Null: not recorded yet.
type Counter struct {
	PickupOdometerKm  *int               `json:"pickupOdometerKm"`
	PickupFuelEighths *int               `json:"pickupFuelEighths"`
	ReturnOdometerKm  *int               `json:"returnOdometerKm"`
	ReturnFuelEighths *int               `json:"returnFuelEighths"`
	DamageNotes       string             `json:"damageNotes"`
	ReturnCharges     []events.PriceLine `json:"returnCharges"`
}

// counterSQL reads the counter's record of a live or an archived booking, in one statement
// (a booking moving to the archive meanwhile is found on one side or the other).
const (
	counterSQL = `SELECT ` + counterColumns + ` FROM reservations.reservations WHERE id = $1
UNION ALL SELECT ` + counterColumns + ` FROM reservations.archived_reservations WHERE id = $1`
	counterColumns = `pickup_odometer_km, pickup_fuel_eighths, return_odometer_km, return_fuel_eighths,
	damage_notes, return_charges`
)

// Counter reads what the counter recorded of reservation id.
func (s *Store) Counter(ctx context.Context, id string) (Counter, error) {
	var c Counter
	err := s.db.Pool.QueryRow(ctx, counterSQL, id).Scan(&c.PickupOdometerKm, &c.PickupFuelEighths,
		&c.ReturnOdometerKm, &c.ReturnFuelEighths, &c.DamageNotes, &c.ReturnCharges)
	if errors.Is(err, pgx.ErrNoRows) {
		return Counter{}, errNoReservation(id)
	}
	if c.ReturnCharges == nil {
		c.ReturnCharges = []events.PriceLine{}
	}
	return c, err
}
