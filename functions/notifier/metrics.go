package notifier

import (
	"context"

	"github.com/orangecarrental/orange/platform/metrics"
)

// countSend records one attempt to send n (orange_notifications_sent_total of the worker:
// the host puts its series into Run's context) as send then decides it: sent, failed for good
// (refused, or the last attempt), or retried later. An attempt cut short by shutdown is
// handed back uncounted, as send hands it back untried.
func (s *Service) countSend(ctx context.Context, n notification, err error) {
	channel := ChannelEmail
	if n.Channel == ChannelSMS {
		channel = ChannelSMS
	}
	f := metrics.From(ctx)
	switch {
	case err == nil:
		f.NotificationSent(channel, metrics.MessageSent)
	case ctx.Err() != nil:
	case IsRejected(err) || n.Attempts >= s.cfg.MaxAttempts:
		f.NotificationSent(channel, metrics.MessageFailed)
	default:
		f.NotificationSent(channel, metrics.MessageRetry)
	}
}
