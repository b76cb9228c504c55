package reservations

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
)

// The no-show sweep (docs/cleanup.md): cleanup-worker, every night, has confirmed bookings
// that nobody picked up marked as no-shows. The rule stays here: a booking is due once its
// pickup time plus the grace (RESERVATION_NO_SHOW_GRACE, default DefaultNoShowGrace) has
// passed — due exactly at pickup + grace — and each is marked as an agent's no-show marks
// it (markNoShow: the fee pricing's rule gives at the pickup time, reservation.no_show, the
// version guard). Agents may still mark a no-show themselves from the pickup time on,
// without waiting for the grace.

// DefaultNoShowGrace is how long after its pickup time a confirmed booking nobody picked up
// waits before the sweep marks it: a renter stuck in traffic or behind a delayed train
// still finds the car; past three hours the car goes back to the fleet.
const DefaultNoShowGrace = 3 * time.Hour

// dueNoShowsSQL is a batch of confirmed bookings whose pickup time is at or before $1
// (now − grace), oldest first.
const dueNoShowsSQL = `SELECT ` + selectColumns + ` FROM reservations.reservations
WHERE status = 'confirmed' AND pickup_at <= $1 ORDER BY pickup_at, id LIMIT $2`

// markNoShow marks confirmed booking res as a no-show: the fee is the cancellation fee
// pricing's rule gives at the pickup time itself, and the transition applies only to the
// version the fee was computed for (NoShow, MarkNoShows).
func (s *Service) markNoShow(ctx context.Context, res Reservation) (Reservation, error) {
	f, err := s.peers.cancellationFee(ctx, res.PickupAt, res.PickupAt, res.TotalGrossCents)
	if err != nil {
		return Reservation{}, err
	}
	return s.store.Transition(ctx, res.ID, ActionNoShow, []Status{res.Status}, change{feeCents: &f.FeeCents, version: res.Version})
}

// MarkNoShows marks at most limit due bookings as no-shows. A booking that changed meanwhile
// (an agent marked it, another sweep was first, it was picked up) is skipped; any other
// failure (pricing-api unavailable) stops the batch with the error, what was marked stays
// marked and the next call goes on.
func (s *Service) MarkNoShows(ctx context.Context, in reservationsapi.NoShowsRequest) (reservationsapi.NoShows, error) {
	var errs platform.FieldErrors
	limit := batchLimit(in.Limit, &errs)
	if len(errs) > 0 {
		return reservationsapi.NoShows{}, platform.Invalid("the no-show request is invalid", errs...)
	}
	out := reservationsapi.NoShows{Grace: s.noShowGrace.String()}
	rows, err := s.db.Pool.Query(ctx, dueNoShowsSQL, s.now().Add(-s.noShowGrace), limit)
	if err != nil {
		return out, err
	}
	due, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Reservation, error) { return scanReservation(row) })
	if err != nil {
		return out, err
	}
	out.Due, out.More = len(due), len(due) == limit
	for _, res := range due {
		_, err := s.markNoShow(ctx, res)
		var perr *platform.Error
		switch {
		case err == nil:
			out.Marked++
		case errors.As(err, &perr) && perr.Kind == platform.KindConflict:
		default:
			return out, err
		}
	}
	return out, nil
}
