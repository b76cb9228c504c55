package reservations

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
)

// A car's bookings follow one another: each starts where the one before it left the car.
// A one-way booking (returned at another branch) that ends before a booking of the same car
// starting at the old branch strands that later booking — its car is elsewhere on its day,
// and neither the customer (a change: "the vehicle is at …") nor the fleet (a move: "has a
// booking that has not ended") can mend it. So a booking, new or changed, must fit the car's
// chain of blocking bookings: the one before it returns the car where it starts, and the one
// after it starts where it returns the car. The check runs inside the booking's transaction,
// under the car's lock, so two bookings of the car cannot both pass a check made earlier.
//
// chainSQL reads, for car $1 and the booking $4 (NULL for a new one) over [$2, $3), the
// return branch of the blocking booking before it and the pickup branch and time of the one
// after it (NULL when there is none).
const chainSQL = `SELECT
	(SELECT b.return_location FROM reservations.reservations b
	 WHERE b.vehicle_id = $1 AND b.status IN ('pending', 'confirmed', 'active') AND b.return_at <= $2
	   AND b.id IS DISTINCT FROM $4::uuid
	 ORDER BY b.return_at DESC LIMIT 1),
	next.pickup_location, next.pickup_at
FROM (SELECT NULL) AS one
LEFT JOIN LATERAL (SELECT b.pickup_location, b.pickup_at FROM reservations.reservations b
	 WHERE b.vehicle_id = $1 AND b.status IN ('pending', 'confirmed', 'active') AND b.pickup_at >= $3
	   AND b.id IS DISTINCT FROM $4::uuid
	 ORDER BY b.pickup_at LIMIT 1) AS next ON true`

// carChain is what chainSQL read.
type carChain struct {
	before     *string
	next       *string
	nextPickup *time.Time
}

func (c *carChain) scan(row pgx.Row) error { return row.Scan(&c.before, &c.next, &c.nextPickup) }

// refusal says why a booking from pickupLocation to returnLocation does not fit the chain.
func (c carChain) refusal(pickupLocation, returnLocation string) error {
	switch {
	case c.before != nil && *c.before != pickupLocation:
		return platform.Conflict("the vehicle is booked before this period and returned at %s: it will not be at %s", *c.before, pickupLocation).WithCode("vehicle_returned_elsewhere")
	case c.next != nil && *c.next != returnLocation:
		return platform.Conflict("the vehicle is booked from %s on %s: returned at %s, that booking would be without its car",
			*c.next, c.nextPickup.UTC().Format(time.RFC3339), returnLocation).WithCode("vehicle_needed_elsewhere")
	}
	return nil
}

// checkChain runs chainSQL in tx for a booking (id "" for a new one) and refuses one that
// does not fit.
func checkChain(ctx context.Context, tx pgx.Tx, id, vehicleID, pickupLocation, returnLocation string, pickupAt, returnAt time.Time) error {
	var c carChain
	var idArg any
	if id != "" {
		idArg = id
	}
	if err := c.scan(tx.QueryRow(ctx, chainSQL, vehicleID, pickupAt, returnAt, idArg)); err != nil {
		return err
	}
	return c.refusal(pickupLocation, returnLocation)
}
