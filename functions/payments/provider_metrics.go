package payments

import (
	"context"
	"errors"
	"time"

	"github.com/orangecarrental/orange/platform/metrics"
)

// measured counts and times every call to the provider it wraps in the calling function's
// series (orange_payment_provider_*; metrics.From of the call's context: the request or
// event being handled), by operation and outcome: ok, declined, refused, unavailable (no
// answer in time: the outcome is unknown), error.
type measured struct{ Provider }

func (m measured) record(ctx context.Context, op string, start time.Time, err error) {
	outcome := "ok"
	var decline *Decline
	switch {
	case err == nil:
	case errors.As(err, &decline):
		outcome = "declined"
	case errors.Is(err, ErrProviderRefused):
		outcome = "refused"
	case errors.Is(err, ErrProviderUnavailable), errors.Is(err, context.DeadlineExceeded):
		outcome = "unavailable"
	default:
		outcome = "error"
	}
	metrics.From(ctx).ProviderCall(m.Name(), op, outcome, time.Since(start))
}

func (m measured) Tokenize(ctx context.Context, card Card) (CardToken, error) {
	start := time.Now()
	t, err := m.Provider.Tokenize(ctx, card)
	m.record(ctx, "tokenize", start, err)
	return t, err
}

func (m measured) Authorize(ctx context.Context, key, token string, amountCents int64) (string, error) {
	start := time.Now()
	ref, err := m.Provider.Authorize(ctx, key, token, amountCents)
	m.record(ctx, "authorize", start, err)
	return ref, err
}

func (m measured) Capture(ctx context.Context, key, ref string, amountCents int64) error {
	start := time.Now()
	err := m.Provider.Capture(ctx, key, ref, amountCents)
	m.record(ctx, "capture", start, err)
	return err
}

func (m measured) Void(ctx context.Context, key, ref string) error {
	start := time.Now()
	err := m.Provider.Void(ctx, key, ref)
	m.record(ctx, "void", start, err)
	return err
}

func (m measured) Refund(ctx context.Context, key, ref string, amountCents int64) error {
	start := time.Now()
	err := m.Provider.Refund(ctx, key, ref, amountCents)
	m.record(ctx, "refund", start, err)
	return err
}

func (m measured) Adjust(ctx context.Context, key, ref string, amountCents int64) error {
	start := time.Now()
	err := m.Provider.Adjust(ctx, key, ref, amountCents)
	m.record(ctx, "adjust", start, err)
	return err
}

func (m measured) Charge(ctx context.Context, key, token string, amountCents int64) (string, error) {
	start := time.Now()
	ref, err := m.Provider.Charge(ctx, key, token, amountCents)
	m.record(ctx, "charge", start, err)
	return ref, err
}
