// Package notifier is the notification worker (Knative Service notification-worker): it
// turns domain events into email and SMS for the customer they concern. The same package
// and schema also serve notifications-api (api*.go; docs/notifications.md); this doc is the
// worker's half, its decisions in docs/notifications-worker.md.
//
// It consumes CloudEvents at POST /cloudevents through events.Receiver. The customer events
// keep its own read model of recipients (customer id → address, name, preferred language,
// mobile number), applied only when newer than what it holds, since brokers keep no order;
// customer.erased removes the personal data — recipient, preferences, notifications,
// reminders, mail and SMS files — and leaves a tombstone. customer.registered also sends a
// welcome mail; the reservation, payment and invoice events in Consumes send theirs, in
// German or English by the recipient's preferred language (German by default). A mail event
// for a customer no customer event has told about yet is answered 500, so the Broker retries
// it (brokers keep no order); data that is not the type's payload, and a type the worker does
// not consume (only a misrouted Trigger delivers one), are answered 400: dead letter, no
// retry.
//
// Pickup reminders (reminder.go): reservation.confirmed and .changed schedule a reminder 24 h
// before the pickup, the end of a booking (cancelled, expired, no_show, activated,
// completed) drops it, each only when newer than what the worker holds. The background loop
// turns due reminders into one notification per channel the customer chose
// (notifier.preferences; none: email), with the pickup on the branch's clock; one due with
// less than 2 h left is not sent.
//
// One notification per event and channel, even under redelivery: the handler writes a row
// into notifier.notifications in the receiver's transaction, the one that also records the
// event in the inbox, so a redelivery finds the inbox row and writes nothing. A background
// sender (Run, which the host runs beside the server) sends due rows by their channel and
// marks them sent; a failure is recorded on the row and retried with exponential backoff, a
// definite rejection (5xx to RCPT or DATA, an SMS provider's refusal, no SMS provider, an
// SMS over 3 segments) or too many attempts mark it failed with the reason. What remains: a
// crash between the server accepting a message and the row being marked sent makes the
// worker send it again. Both copies of a mail carry the same Message-ID (derived from the
// notification id) and Date, so mail clients can tell them apart as duplicates.
//
// Mail goes out through a Sender chosen by MAIL_MODE: smtp (a real SMTP client, STARTTLS
// when the server offers it) or folder (the default: RFC 5322 files <MAIL_DIR>/<id>.eml).
// SMS goes out through an SMSSender chosen by SMS_MODE: folder (the default: text files
// <SMS_DIR>/<id>.txt) or off (no provider: the cluster's setting for now). In folder mode
// GET /dev/mail and GET /dev/sms list the folders, /dev/mail/{id} and /dev/sms/{id} show one.
//
// Access: /cloudevents admits only the event platform's deliveries from the worker's own
// Triggers (design.md §9). The /dev/ routes are public to the router; outside folder mode
// they answer 404, and the dev host exposes them on the developer's laptop only.
package notifier

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// ServiceName is the Knative Service of this function.
const ServiceName = "notification-worker"

// Prefix is where the local mailbox is served (folder mode only).
const Prefix = "/dev/mail"

// Service is the notification worker: the event handler, the background sender and the
// development mailbox.
type Service struct {
	db     *database.DB
	cfg    Config
	sender Sender
	folder string // the mail folder in folder mode, else ""
	// sms is the SMS provider (nil: SMS_MODE=off); smsFolder its folder in folder mode.
	sms       SMSSender
	smsFolder string
	zone      *time.Location
	logger    *slog.Logger
	// links gives guests' mails their manage link (guestlink.go).
	links guestLinks
	// branches gives a branch's time zone: a mail shows a pickup or return on the branch's
	// own clock (nil: every time in zone, e.g. a worker built without a client).
	branches *locationsapi.Cache
}

// Function describes notification-worker to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{Prefix, SMSPrefix},
		Migrations: &Migrations,
		New:        platform.Construct(New),
	}
}

// New returns the worker over deps.DB with a validated cfg, logging to deps.Logger; with
// deps.Client it asks reservations-api for guests' manage links (SetGuestLinks). It sends
// nothing until Run.
func New(_ context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	db, logger := deps.DB, deps.Logger
	if db == nil {
		return nil, errors.New("notifier: a database is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	zone, err := time.LoadLocation(displayZone)
	if err != nil {
		logger.Warn("no time zone data: mail shows times in UTC", slog.String("zone", displayZone))
		zone = time.UTC
	}
	s := &Service{db: db, cfg: cfg, zone: zone, logger: logger}
	switch cfg.Mode {
	case ModeSMTP:
		s.sender = NewSMTPSender(cfg.SMTP)
	default:
		s.folder = cfg.Dir
		s.sender = FolderSender{Dir: cfg.Dir}
	}
	if cfg.SMS.Mode == ModeFolder {
		s.smsFolder = cfg.SMS.Dir
		s.sms = FolderSMS{Dir: cfg.SMS.Dir}
	}
	if deps.Client != nil {
		s.SetGuestLinks(reservationsapi.NewClient(deps.Client))
		s.SetBranches(locationsapi.NewClient(deps.Client))
	}
	logger.Info("notification worker configured", slog.Any("mail", cfg))
	return s, nil
}

// Routes is the worker's route table: /cloudevents for its Triggers' deliveries, /dev/mail
// and /dev/sms in their folder modes only (see the package doc).
func (s *Service) Routes() []platform.Route {
	senders := platform.Deliveries(
		platform.Trigger("notification-worker-customer-registered"),
		platform.Trigger("notification-worker-customer-updated"),
		platform.Trigger("notification-worker-customer-erased"),
		platform.Trigger("notification-worker-reservation-created"),
		platform.Trigger("notification-worker-reservation-confirmed"),
		platform.Trigger("notification-worker-reservation-cancelled"),
		platform.Trigger("notification-worker-reservation-completed"),
		platform.Trigger("notification-worker-reservation-changed"),
		platform.Trigger("notification-worker-reservation-expired"),
		platform.Trigger("notification-worker-reservation-no-show"),
		platform.Trigger("notification-worker-reservation-activated"),
		platform.Trigger("notification-worker-payment-captured"),
		platform.Trigger("notification-worker-payment-charged"),
		platform.Trigger("notification-worker-payment-refunded"),
		platform.Trigger("notification-worker-invoice-issued"),
		platform.Trigger("notification-worker-report-frozen"),
	)
	return []platform.Route{
		{Name: "receiveEvent", Method: http.MethodPost, Path: events.ReceivePath, Access: senders,
			Handler: events.Receiver(s.db, Migrations.Schema, s.handleEvent)},
		{Name: "listMail", Method: http.MethodGet, Path: Prefix, Access: platform.Public, Handler: s.handleListMail},
		{Name: "getMail", Method: http.MethodGet, Path: Prefix + "/{id}", Access: platform.Public, Handler: s.handleGetMail},
		{Name: "listSMS", Method: http.MethodGet, Path: SMSPrefix, Access: platform.Public, Handler: s.handleListSMS},
		{Name: "getSMS", Method: http.MethodGet, Path: SMSPrefix + "/{id}", Access: platform.Public, Handler: s.handleGetSMS},
	}
}
