package notifier

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
)

// Pickup reminders (docs/notifications-worker.md). The reservation events keep one row per
// booking in notifier.reminders (migration 0003), applied only when newer; a sweep in Run
// turns each due one into pending notifications by the customer's channels.
const (
	// reminderLead is how long before the pickup a reminder is due.
	reminderLead = 24 * time.Hour
	// reminderLatest: a reminder that comes due with less than this left before the pickup
	// (a booking made or moved late, a worker that was down) is not sent: it would reach the
	// customer on the way to the branch, if at all. One due with more left goes at once.
	reminderLatest = 2 * time.Hour
	// reminderRetry is how long a sweep waits before it tries a reminder again that it could
	// not make (its customer not known yet, the branch's time zone not to be had).
	reminderRetry = time.Minute
	// reminderBatch is how many due reminders one sweep transaction takes.
	reminderBatch = 16
)

// The states of a reminder (see migration 0003).
const (
	reminderWaiting   = "waiting"
	reminderScheduled = "scheduled"
	reminderQueued    = "queued"
	reminderMissed    = "missed"
	reminderDropped   = "dropped"
	reminderDeclined  = "declined"
)

// reminderStateAfter is what event typ, of booking r, makes of the booking's reminder.
func reminderStateAfter(typ string, r events.Reservation) string {
	switch typ {
	case events.ReservationCreated:
		return reminderWaiting // a hold: its confirmation schedules
	case events.ReservationConfirmed:
		return reminderScheduled
	case events.ReservationChanged:
		switch r.Status {
		case "confirmed":
			return reminderScheduled
		case "pending":
			return reminderWaiting // a change during the hold: its confirmation schedules
		}
	}
	// cancelled, expired, no_show, activated, completed: nothing left to remind of.
	return reminderDropped
}

// heldBooking is what the worker held of a booking before an event: found is false when it
// held nothing.
type heldBooking struct {
	found              bool
	version            int64
	state              string
	pickupAt, returnAt *time.Time
}

const lockReminderSQL = `SELECT version, state, pickup_at, return_at FROM notifier.reminders WHERE reservation_id = $1 FOR UPDATE`

// applyReminderSQL records a booking's reminder when the event is newer than the row. A
// reminder already queued (or missed) stays so while the pickup time stays: a change of the
// return date must not remind twice; a new pickup time schedules a new reminder. An erased
// customer's booking gets no row.
const applyReminderSQL = `INSERT INTO notifier.reminders AS m
	(reservation_id, version, customer_id, state, category, pickup_location, pickup_at, return_at, remind_at)
SELECT $1::uuid, $2::bigint, $3::uuid, $4::text, $5::text, $6::text, $7::timestamptz, $8::timestamptz,
	$7::timestamptz - make_interval(secs => $9)
WHERE NOT EXISTS (SELECT 1 FROM notifier.recipients WHERE customer_id = $3::uuid AND erased_at IS NOT NULL)
ON CONFLICT (reservation_id) DO UPDATE SET
	version = EXCLUDED.version, customer_id = EXCLUDED.customer_id, category = EXCLUDED.category,
	pickup_location = EXCLUDED.pickup_location, pickup_at = EXCLUDED.pickup_at, return_at = EXCLUDED.return_at,
	remind_at = EXCLUDED.remind_at, updated_at = now(),
	state = CASE WHEN EXCLUDED.state = 'scheduled' AND m.state IN ('queued', 'missed', 'declined')
		AND m.pickup_at = EXCLUDED.pickup_at THEN m.state ELSE EXCLUDED.state END
WHERE m.version < EXCLUDED.version`

// applyReminder applies reservation event typ to booking r's reminder inside the receiver's
// transaction and returns what was held before. The row is locked first, so two events of
// one booking apply one after the other.
func applyReminder(ctx context.Context, tx pgx.Tx, typ string, r events.Reservation) (heldBooking, error) {
	var held heldBooking
	err := tx.QueryRow(ctx, lockReminderSQL, r.ReservationID).Scan(&held.version, &held.state, &held.pickupAt, &held.returnAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return held, err
	default:
		held.found = true
	}
	pickup, ret := parseTime(r.PickupAt), parseTime(r.ReturnAt)
	state := reminderStateAfter(typ, r)
	if state == reminderScheduled && pickup == nil {
		state = reminderMissed // no usable pickup time: nothing to remind of
	}
	_, err = tx.Exec(ctx, applyReminderSQL, r.ReservationID, r.Version, r.CustomerID, state, r.Category,
		r.PickupLocation, pickup, ret, reminderLead.Seconds())
	return held, err
}

// stale reports whether an event of version v is older than (or as old as) what was held.
func (h heldBooking) stale(v int64) bool { return h.found && h.version >= v }

func parseTime(raw string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return nil
	}
	return &t
}

// dueReminder is one reminder a sweep took.
type dueReminder struct {
	ReservationID, CustomerID, Category, PickupLocation string
	PickupAt                                            time.Time
	InTime                                              bool // more than reminderLatest before the pickup
}

// dueRemindersSQL takes up to $1 due reminders, locked for the sweep's transaction: another
// replica's sweep skips them, and once this one commits they are no longer scheduled.
const dueRemindersSQL = `SELECT reservation_id::text, customer_id::text, category, pickup_location, pickup_at,
	pickup_at > now() + make_interval(secs => $2)
FROM notifier.reminders WHERE state = 'scheduled' AND remind_at <= now()
ORDER BY remind_at, reservation_id LIMIT $1 FOR UPDATE SKIP LOCKED`

const (
	setReminderStateSQL = `UPDATE notifier.reminders SET state = $2, updated_at = now() WHERE reservation_id = $1`
	postponeReminderSQL = `UPDATE notifier.reminders SET remind_at = now() + make_interval(secs => $2), updated_at = now()
WHERE reservation_id = $1`
)

// sweepReminders turns every due reminder into pending notifications, a batch per
// transaction, and returns how many notifications it queued. Two replicas sweeping at once
// take different reminders (SKIP LOCKED); a crash mid-batch commits nothing, and the unique
// (source, event id, channel) of notifications makes a reminder queued twice one anyway.
func (s *Service) sweepReminders(ctx context.Context) (int, error) {
	total := 0
	for ctx.Err() == nil {
		var queued, taken int
		err := s.db.InTx(ctx, func(tx pgx.Tx) error {
			queued = 0
			rows, err := tx.Query(ctx, dueRemindersSQL, reminderBatch, reminderLatest.Seconds())
			if err != nil {
				return err
			}
			due, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (dueReminder, error) {
				var m dueReminder
				err := row.Scan(&m.ReservationID, &m.CustomerID, &m.Category, &m.PickupLocation, &m.PickupAt, &m.InTime)
				return m, err
			})
			if err != nil {
				return err
			}
			taken = len(due)
			for _, m := range due {
				n, err := s.remind(ctx, tx, m)
				if err != nil {
					return err
				}
				queued += n
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += queued
		if taken < reminderBatch {
			break
		}
	}
	return total, nil
}

// sweepLogged is sweepReminders for Run: a failure is logged, and the next sweep tries again.
func (s *Service) sweepLogged(ctx context.Context) {
	if n, err := s.sweepReminders(ctx); err != nil && ctx.Err() == nil {
		s.logger.WarnContext(ctx, "sweep pickup reminders", slog.String("error", err.Error()))
	} else if n > 0 {
		s.logger.InfoContext(ctx, "pickup reminders queued", slog.Int("notifications", n))
	}
}

// remind makes due reminder m into pending notifications in tx and returns how many.
func (s *Service) remind(ctx context.Context, tx pgx.Tx, m dueReminder) (int, error) {
	logger := s.logger.With(slog.String("reservation", m.ReservationID))
	setState := func(state string) error {
		_, err := tx.Exec(ctx, setReminderStateSQL, m.ReservationID, state)
		return err
	}
	postpone := func(why string) error {
		logger.InfoContext(ctx, "pickup reminder postponed", slog.String("reason", why), slog.Duration("after", reminderRetry))
		_, err := tx.Exec(ctx, postponeReminderSQL, m.ReservationID, reminderRetry.Seconds())
		return err
	}
	if !m.InTime {
		logger.InfoContext(ctx, "pickup reminder not sent: the pickup is less than 2 hours away")
		return 0, setState(reminderMissed)
	}
	// The branch's clock first: locations-api is asked before the recipient is locked, so a
	// slow answer holds up no customer event or erasure.
	zone, err := s.branchZone(ctx, m.PickupLocation)
	if err != nil {
		return 0, postpone(err.Error())
	}
	r, err := getRecipient(ctx, tx, m.CustomerID)
	switch {
	case errors.Is(err, errUnknownRecipient):
		return 0, postpone("customer not known yet")
	case err != nil:
		return 0, err
	case r.Erased:
		// A booking event that raced the erasure left this row behind: erasure deletes them.
		_, err := tx.Exec(ctx, `DELETE FROM notifier.reminders WHERE reservation_id = $1`, m.ReservationID)
		return 0, err
	}
	channels, err := s.reminderChannels(ctx, tx, r)
	if err != nil {
		return 0, err
	}
	if len(channels) == 0 {
		logger.InfoContext(ctx, "pickup reminder not sent: the customer chose no channel")
		return 0, setState(reminderDeclined)
	}
	d := mailData{Name: fullName(r), ReservationID: m.ReservationID, Reference: reference(m.ReservationID),
		Category: m.Category, PickupLocation: m.PickupLocation,
		PickupAt: when(m.PickupAt.Format(time.RFC3339Nano), zone, r.Language)}
	// One reminder per booking and pickup time, whichever replica or sweep makes it.
	key := "pickup-reminder/" + m.ReservationID + "/" + m.PickupAt.UTC().Format(time.RFC3339)
	queued := 0
	for _, ch := range channels {
		p := pending{Source: ServiceName, EventID: key, Type: pickupReminder, Channel: ch, CustomerID: r.CustomerID,
			ReservationID: m.ReservationID, Recipient: r.Email, RecipientName: fullName(r), Language: r.Language}
		if ch == ChannelSMS {
			p.Recipient = r.Phone
		}
		tmpl, err := workerTemplates()
		if err != nil {
			return 0, err
		}
		if p.Subject, p.Body, err = tmpl.renderFor(pickupReminder, ch, r.Language, d); err != nil {
			return 0, err
		}
		id, err := queue(ctx, tx, p)
		if err != nil {
			return 0, err
		}
		if id != "" {
			queued++
		}
	}
	return queued, setState(reminderQueued)
}

// reminderChannels are the channels r's reminder goes by: as the customer chose in
// notifier.preferences (no row: email only). SMS goes where notifications-api would take an
// SMS request (smsRefusal: a provider, a mobile number, the customer's choice); a customer
// who chose SMS only and cannot get one gets the mail instead, one who chose neither gets
// no reminder.
func (s *Service) reminderChannels(ctx context.Context, tx pgx.Tx, r recipient) ([]string, error) {
	p, err := getPreferences(ctx, tx, r.CustomerID)
	if err != nil {
		return nil, err
	}
	var out []string
	if p.Email {
		out = append(out, ChannelEmail)
	}
	if smsRefusal(s.sms != nil, r, p) == nil {
		out = append(out, ChannelSMS)
	}
	if len(out) == 0 && p.SMS {
		out = append(out, ChannelEmail)
	}
	return out, nil
}
