package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// Consumes lists the event types the worker's Triggers deliver (knative/base/
// notification-worker.yaml holds one Trigger per type; a test keeps the two equal).
var Consumes = []string{
	events.CustomerRegistered,
	events.CustomerUpdated,
	events.CustomerErased,
	events.ReservationCreated,
	events.ReservationConfirmed,
	events.ReservationCancelled,
	events.ReservationCompleted,
	events.ReservationChanged,
	events.ReservationExpired,
	events.ReservationNoShow,
	events.ReservationActivated,
	events.PaymentCaptured,
	events.PaymentCharged,
	events.PaymentRefunded,
	events.InvoiceIssued,
	events.ReportFrozen,
}

// handleEvent applies one event inside the receiver's transaction. Data that is not the
// type's payload, or lacks what a mail needs, is refused permanently (400: dead letter). A
// type the worker does not consume is refused the same way: only a misrouted Trigger
// delivers one, and the dead-letter sink is where an operator sees that. A mail for a
// customer no customer event has told about yet is retried (500): brokers keep no order.
func (s *Service) handleEvent(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
	switch e.Type() {
	case events.CustomerRegistered, events.CustomerUpdated:
		r, err := decodeCustomer(e)
		if err != nil {
			return nil, err
		}
		// What this worker held of the customer before the event (brokers keep no order):
		// customerMail decides by it which mail, if any, the event sends.
		var was heldCustomer
		var email *string
		err = tx.QueryRow(ctx, `SELECT email, version FROM notifier.recipients WHERE customer_id = $1`, r.CustomerID).Scan(&email, &was.version)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, err
		default:
			was.found, was.sameAddress = true, email != nil && strings.EqualFold(*email, r.Email)
		}
		if err := applyRecipient(ctx, tx, r); err != nil {
			return nil, err
		}
		tmpl, link, err := s.customerMail(e, r.Version, was)
		if err != nil || tmpl == "" {
			return nil, err
		}
		return nil, s.notify(ctx, tx, e, tmpl, r.CustomerID, func(string) mailData { return mailData{VerifyLink: link} })
	case events.CustomerErased:
		c, err := events.DecodeData[events.CustomerErasure](e)
		if err != nil {
			return nil, err
		}
		if err := requireUUID("customerId", c.CustomerID); err != nil {
			return nil, err
		}
		return nil, s.erase(ctx, tx, c.CustomerID, c.Version)
	case events.ReservationCreated:
		// The hold is recorded as every later state is, so that a change before its
		// confirmation shows the dates it moved from (the first change's mail had none).
		r, err := events.DecodeData[events.Reservation](e)
		if err != nil {
			return nil, err
		}
		if platform.ValidUUID(r.ReservationID) && platform.ValidUUID(r.CustomerID) {
			if _, err := applyReminder(ctx, tx, e.Type(), r); err != nil {
				return nil, err
			}
		}
		return nil, s.guestHeld(ctx, tx, e, r)
	case events.ReservationConfirmed, events.ReservationCancelled, events.ReservationCompleted,
		events.ReservationChanged, events.ReservationExpired, events.ReservationNoShow, events.ReservationActivated:
		return nil, s.reservationEvent(ctx, tx, e)
	case events.PaymentCaptured, events.PaymentCharged, events.PaymentRefunded:
		p, err := events.DecodeData[events.Payment](e)
		if err != nil {
			return nil, err
		}
		if err := requireUUID("customerId", p.CustomerID); err != nil {
			return nil, err
		}
		return nil, s.notify(ctx, tx, e, e.Type(), p.CustomerID, func(lang string) mailData {
			return mailData{ReservationID: p.ReservationID, Reference: reference(p.ReservationID),
				Amount: money(p.AmountCents, p.Currency, lang)}
		})
	case events.InvoiceIssued:
		inv, err := events.DecodeData[events.Invoice](e)
		if err != nil {
			return nil, err
		}
		if err := requireUUID("customerId", inv.CustomerID); err != nil {
			return nil, err
		}
		if inv.Number == "" {
			return nil, events.Permanentf("%s without number", e.Type())
		}
		return nil, s.notify(ctx, tx, e, e.Type(), inv.CustomerID, func(lang string) mailData {
			return mailData{ReservationID: inv.ReservationID, Reference: reference(inv.ReservationID),
				InvoiceNumber: inv.Number, Net: money(inv.NetCents, inv.Currency, lang),
				VAT: money(inv.VatCents, inv.Currency, lang), Gross: money(inv.GrossCents, inv.Currency, lang)}
		})
	case events.ReportFrozen:
		return nil, s.reportFrozen(ctx, tx, e)
	default:
		return nil, events.Permanentf("%s does not consume %s", ServiceName, e.Type())
	}
}

// notify renders the mail typ sends for the customer in their language and records it as a
// pending notification in tx. An erased customer gets no mail; an unknown one is retried.
func (s *Service) notify(ctx context.Context, tx pgx.Tx, e cloudevents.Event, typ, customerID string, data func(lang string) mailData) error {
	r, err := getRecipient(ctx, tx, customerID)
	if errors.Is(err, errUnknownRecipient) {
		// Not Permanent: the customer's event may still be on its way (brokers keep no order).
		return fmt.Errorf("customer %s is not known yet: waiting for its customer event", customerID)
	}
	if err != nil {
		return err
	}
	if r.Erased {
		platform.LoggerFrom(ctx).InfoContext(ctx, "no mail for an erased customer", slog.String("event", e.ID()))
		return nil
	}
	d := data(r.Language)
	d.Name = fullName(r)
	tmpl, err := workerTemplates()
	if err != nil {
		return err
	}
	subject, body, err := tmpl.render(typ, r.Language, d)
	if err != nil {
		return err
	}
	p := pending{Source: e.Source(), EventID: e.ID(), Type: e.Type(), Channel: ChannelEmail, CustomerID: r.CustomerID,
		Recipient: r.Email, RecipientName: fullName(r), Language: r.Language, Subject: subject, Body: body}
	if platform.ValidUUID(d.ReservationID) {
		p.ReservationID = d.ReservationID // for the history's filter by booking
	}
	_, err = queue(ctx, tx, p)
	return err
}

// reservationEvent applies a reservation event: the booking's pickup reminder (scheduled,
// moved or dropped: reminder.go) and the mail its type sends. activated sends none (the
// renter is at the counter), and neither does a change older than what the worker holds
// of the booking: a newer state has been mailed already, the old dates would mislead. A
// guest's confirmation and change carry the manage link (guestlink.go).
func (s *Service) reservationEvent(ctx context.Context, tx pgx.Tx, e cloudevents.Event) error {
	typ := e.Type()
	r, err := events.DecodeData[events.Reservation](e)
	if err != nil {
		return err
	}
	if err := requireUUID("customerId", r.CustomerID); err != nil {
		return err
	}
	if r.ReservationID == "" {
		return events.Permanentf("%s without reservationId", typ)
	}
	var held heldBooking
	switch typ {
	case events.ReservationConfirmed, events.ReservationCancelled, events.ReservationCompleted:
		// Consumed before reminders existed: a booking id that is not a UUID still gets its
		// mail, only no reminder.
		if !platform.ValidUUID(r.ReservationID) {
			break
		}
		fallthrough
	default:
		if err := requireUUID("reservationId", r.ReservationID); err != nil {
			return err
		}
		if held, err = applyReminder(ctx, tx, typ, r); err != nil {
			return err
		}
	}
	if typ == events.ReservationActivated {
		return nil
	}
	// An event older than what the worker holds sends no mail when its news is out of date:
	// a change (its dates would mislead), and a confirmation of a booking that has ended
	// since (cancelled, expired, no-show — "your booking is confirmed" after "it is
	// cancelled"; brokers keep no order). A confirmation overtaken by a change still goes.
	if held.stale(r.Version) && (typ == events.ReservationChanged || typ == events.ReservationConfirmed && held.state == reminderDropped) {
		platform.LoggerFrom(ctx).InfoContext(ctx, "no mail for news older than the booking held",
			slog.String("event", e.ID()), slog.String("type", typ), slog.Int64("version", r.Version), slog.Int64("held", held.version))
		return nil
	}
	var manage string
	if r.Guest && (typ == events.ReservationConfirmed || typ == events.ReservationChanged) {
		if err := requireUUID("reservationId", r.ReservationID); err != nil {
			return err
		}
		if manage, err = s.manageLink(ctx, r.ReservationID); err != nil {
			return err
		}
	}
	pickupZone, returnZone, err := s.branchZones(ctx, r.PickupLocation, r.ReturnLocation)
	if err != nil {
		return err
	}
	pickup, ret := parseTime(r.PickupAt), parseTime(r.ReturnAt)
	return s.notify(ctx, tx, e, typ, r.CustomerID, func(lang string) mailData {
		d := mailData{ReservationID: r.ReservationID, Reference: reference(r.ReservationID),
			Category: r.Category, PickupLocation: r.PickupLocation, ReturnLocation: r.ReturnLocation,
			PickupAt: when(r.PickupAt, pickupZone, lang), ReturnAt: when(r.ReturnAt, returnZone, lang),
			Total: money(r.TotalGross, r.Currency, lang), Reason: mailReason(r.Reason), ManageLink: manage}
		if r.FeeCents > 0 {
			d.Fee = money(r.FeeCents, r.Currency, lang)
		}
		if typ == events.ReservationChanged {
			d.OldPickupAt = moved(held.pickupAt, pickup, pickupZone, lang)
			d.OldReturnAt = moved(held.returnAt, ret, returnZone, lang)
		}
		if typ == events.ReservationCompleted && r.CompletedAt != "" {
			d.ReturnAt = when(r.CompletedAt, returnZone, lang) // the return made, not the one booked
		}
		return d
	})
}

// moved is the old time of a changed booking as its mail shows it, or "" when it did not
// move or either time is unknown.
func moved(old, now *time.Time, zone *time.Location, lang string) string {
	if old == nil || now == nil || old.Equal(*now) {
		return ""
	}
	return when(old.Format(time.RFC3339Nano), zone, lang)
}

// decodeCustomer reads a customer.registered/updated payload into a recipient, refusing
// (permanently) one without a customer id or a usable address.
func decodeCustomer(e cloudevents.Event) (recipient, error) {
	c, err := events.DecodeData[events.Customer](e)
	if err != nil {
		return recipient{}, err
	}
	if err := requireUUID("customerId", c.CustomerID); err != nil {
		return recipient{}, err
	}
	addr, err := mail.ParseAddress(c.Email)
	if err != nil || addr.Name != "" {
		// Not quoted: the refusal goes to logs and, as the answer, into the dead letter.
		return recipient{}, events.Permanentf("%s: email is not a bare mail address", e.Type())
	}
	return recipient{CustomerID: c.CustomerID, Version: c.Version, Email: addr.Address,
		FirstName: printable(c.FirstName), LastName: printable(c.LastName), Language: language(c.PreferredLanguage),
		Phone: mobileNumber(c.Phone)}, nil
}

// mobileNumber returns phone in E.164 form (+ and 8 to 15 digits, spaces and dashes
// dropped), or "" when it is not one: a number an SMS cannot reach is no reason to refuse the
// customer's event, only to send them no SMS. Where the numbering plan tells mobiles apart —
// Germany (+49 15…, 16…, 17…), Austria (+43 6…), Switzerland (+41 7…) — a landline is
// none; elsewhere any number is taken.
func mobileNumber(phone string) string {
	n := e164(phone)
	for prefix, mobile := range mobilePrefixes {
		if rest, ok := strings.CutPrefix(n, prefix); ok && !slices.ContainsFunc(mobile, func(m string) bool { return strings.HasPrefix(rest, m) }) {
			return ""
		}
	}
	return n
}

// mobilePrefixes are, by country code, how mobile numbers begin where the numbering plan
// tells them from landlines.
var mobilePrefixes = map[string][]string{"+49": {"15", "16", "17"}, "+43": {"6"}, "+41": {"7"}}

// e164 is phone in E.164 form, or "" when it is not one.
func e164(phone string) string {
	digits := strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", "/", "").Replace(strings.TrimSpace(phone))
	if strings.HasPrefix(digits, "00") {
		digits = "+" + digits[2:]
	}
	if len(digits) < 9 || len(digits) > 16 || digits[0] != '+' || digits[1] == '0' {
		return ""
	}
	for _, c := range digits[1:] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return digits
}

func requireUUID(field, v string) error {
	if !platform.ValidUUID(v) {
		return events.Permanentf("%s %q is not a UUID", field, v)
	}
	return nil
}

// printable drops control characters (a line break in a name must not reach a header).
func printable(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s))
}

// mailReason is a cancellation's reason as a mail quotes it: on one line, and not at all
// when it holds a link — reservations-api refuses one now, but an event from before, or
// from a producer that does not, must not make our mail carry a link a person typed.
func mailReason(reason string) string {
	reason = platform.OneLine(reason)
	if platform.HasLink(reason) {
		return ""
	}
	return reason
}
