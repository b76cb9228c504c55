package notifier

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/metrics"
)

// TestCountSendDecidesAsSend: an attempt is counted as send decides it — sent, retried,
// failed for good (refused, or the last attempt) — and one cut short by shutdown not at all.
func TestCountSendDecidesAsSend(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	ctx := metrics.With(context.Background(), reg.Function("notification-worker"))
	s := &Service{cfg: Config{MaxAttempts: 3}}
	mail := notification{Channel: ChannelEmail, Attempts: 1}
	s.countSend(ctx, mail, nil)
	s.countSend(ctx, mail, errors.New("421 try later"))
	s.countSend(ctx, notification{Channel: ChannelEmail, Attempts: 3}, errors.New("421 try later"))
	s.countSend(ctx, notification{Channel: ChannelSMS, Attempts: 1}, Rejected(errSMSOff))
	s.countSend(ctx, notification{Channel: ChannelSMS, Attempts: 1}, nil)
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	s.countSend(stopped, mail, context.Canceled)

	want := `
# HELP orange_notifications_sent_total Attempts to send a notification, by channel (email, sms) and outcome: sent, retry (tried again later), failed (given up).
# TYPE orange_notifications_sent_total counter
orange_notifications_sent_total{channel="email",function="notification-worker",outcome="failed"} 1
orange_notifications_sent_total{channel="email",function="notification-worker",outcome="retry"} 1
orange_notifications_sent_total{channel="email",function="notification-worker",outcome="sent"} 1
orange_notifications_sent_total{channel="sms",function="notification-worker",outcome="failed"} 1
orange_notifications_sent_total{channel="sms",function="notification-worker",outcome="sent"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "orange_notifications_sent_total"))
}
