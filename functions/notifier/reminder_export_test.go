package notifier

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// SweepReminders runs one sweep of due pickup reminders (Run does every
// REMINDER_SWEEP_INTERVAL) and returns how many notifications it queued.
func SweepReminders(ctx context.Context, s *Service) (int, error) { return s.sweepReminders(ctx) }

// WrapSMS puts wrap around s's SMS provider (nil when SMS_MODE=off). Call it before Run.
func WrapSMS(s *Service, wrap func(SMSSender) SMSSender) { s.sms = wrap(s.sms) }

// QueueSMS records a pending SMS to number as notifications-api does, for the sender tests.
func QueueSMS(ctx context.Context, s *Service, customerID, number, body string) (string, error) {
	var id string
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		id, err = queue(ctx, tx, pending{Source: "tests", EventID: customerID + "/" + body, Type: "message",
			Channel: ChannelSMS, CustomerID: customerID, Recipient: number, Language: German, Body: body})
		return err
	})
	return id, err
}

// SMSText is smsText: a rendered SMS made GSM-safe and bounded.
var SMSText = smsText

// RenderSMS renders the SMS of template key typ with sample data of the given lengths.
func RenderSMS(typ, lang, location, category string) (string, error) {
	ts, err := parseTemplates()
	if err != nil {
		return "", err
	}
	return ts.renderSMS(typ, lang, mailData{ReservationID: "3f2a1b9c-0000-4000-8000-000000000001", Reference: "3F2A1B9C",
		Category: category, PickupLocation: location, PickupAt: "02.07.2026, 10:00 Uhr"})
}

// PickupReminder is the template key of the pickup reminder.
const PickupReminder = pickupReminder
