package notifier

import (
	"context"
	"log/slog"
	"net/mail"
	"time"
)

// batch is how many notifications the sender claims at once.
const batch = 16

// Run is the background sender; the host runs it beside the server until ctx ends. It sends
// due notifications whenever a new one is recorded (LISTEN/NOTIFY) and at least every
// MAIL_POLL_INTERVAL (polling is the guarantee), then waits for the message in flight and
// returns nil. The LISTEN lives on the process's session connection (database.DB.Subscribe),
// which reconnects on its own, not on a connection taken out of the pool. Several replicas may run it: a claimed notification is leased to one. Every
// REMINDER_SWEEP_INTERVAL it also turns due pickup reminders into notifications
// (reminder.go), which is as safe with several replicas.
func (s *Service) Run(ctx context.Context) error {
	// Parsed here, after the host has become ready, so that the first event does not wait
	// for it (workerTemplates).
	if _, err := workerTemplates(); err != nil {
		s.logger.ErrorContext(ctx, "mail templates do not parse: events are answered 500", slog.String("error", err.Error()))
	}
	wake := s.db.Subscribe(wakeChannel, "")
	defer wake.Close()
	ticker := time.NewTicker(s.cfg.PollInterval)
	defer ticker.Stop()
	// Due pickup reminders become pending notifications on their own, slower beat.
	sweep := time.NewTicker(s.cfg.ReminderSweep)
	defer sweep.Stop()
	s.sweepLogged(ctx)
	for {
		s.sendDue(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-wake.C:
		case <-sweep.C:
			s.sweepLogged(ctx)
		}
	}
}

// lease is how long a claimed notification belongs to this replica: longer than any send.
func (s *Service) lease() time.Duration {
	return max(2*time.Minute, 2*s.cfg.SMTP.Timeout)
}

// sendDue sends every due notification, a batch at a time.
func (s *Service) sendDue(ctx context.Context) {
	for ctx.Err() == nil {
		claimed, err := s.claim(ctx, batch, s.lease())
		if err != nil {
			if ctx.Err() == nil {
				s.logger.WarnContext(ctx, "claim notifications", slog.String("error", err.Error()))
			}
			return
		}
		for _, n := range claimed {
			s.send(ctx, n)
		}
		if len(claimed) < batch {
			return
		}
	}
}

// send sends one claimed notification and records the outcome. The outcome is written with
// a context that shutdown does not cancel: a message the server accepted must be marked.
func (s *Service) send(ctx context.Context, n notification) {
	record, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	logger := s.logger.With(slog.String("notification", n.ID), slog.String("type", n.Type),
		slog.String("channel", n.Channel), slog.Int("attempt", n.Attempts))
	if ctx.Err() != nil {
		// Shutting down before this one was tried: hand it back, uncounted.
		s.exec(record, logger, releaseSQL, n.ID)
		return
	}
	err := s.deliver(ctx, n)
	s.countSend(ctx, n, err) // metrics.go
	switch {
	case err == nil:
		if !s.exec(record, logger, markSentSQL, n.ID) {
			// No longer pending: the customer may have been erased while it was written.
			s.forgetIfErased(record, logger, n.ID)
			return
		}
		logger.InfoContext(ctx, "notification sent")
	case ctx.Err() != nil:
		// Shutdown cut the conversation short; the server confirmed nothing: hand it back.
		s.exec(record, logger, releaseSQL, n.ID)
	case IsRejected(err) || n.Attempts >= s.cfg.MaxAttempts:
		s.exec(record, logger, markFailedSQL, n.ID, err.Error())
		logger.WarnContext(ctx, "notification failed; not retrying", slog.String("error", err.Error()))
	default:
		wait := s.cfg.backoff(n.Attempts)
		s.exec(record, logger, markRetrySQL, n.ID, err.Error(), wait.Seconds())
		logger.WarnContext(ctx, "notification not sent; retrying", slog.String("error", err.Error()), slog.Duration("after", wait))
	}
}

// exec records an outcome and reports whether it changed the row (false when the row was no
// longer pending, or the write failed).
func (s *Service) exec(ctx context.Context, logger *slog.Logger, sql string, args ...any) bool {
	tag, err := s.db.Pool.Exec(ctx, sql, args...)
	if err != nil {
		// The lease runs out and the notification is tried again: at worst a second copy.
		logger.ErrorContext(ctx, "record mail outcome", slog.String("error", err.Error()))
		return false
	}
	return tag.RowsAffected() > 0
}

// deliver hands n to the sender of its channel: the mail Sender, or the SMS provider. An
// SMS with no provider (SMS_MODE=off) or too long a text is refused for good.
func (s *Service) deliver(ctx context.Context, n notification) error {
	if n.Channel != ChannelSMS {
		return s.sender.Send(ctx, s.message(n))
	}
	if s.sms == nil {
		return Rejected(errSMSOff)
	}
	if err := checkSMS(n.Body); err != nil {
		return err
	}
	return s.sms.SendSMS(ctx, SMS{ID: n.ID, To: n.Recipient, Body: n.Body, Date: n.CreatedAt})
}

// message is the mail of notification n.
func (s *Service) message(n notification) Message {
	from, _ := mail.ParseAddress(s.cfg.From) // validated by Config.Validate
	return Message{ID: n.ID, From: *from, To: mail.Address{Name: n.RecipientName, Address: n.Recipient},
		Subject: n.Subject, Body: n.Body, Language: n.Language, Date: n.CreatedAt}
}
