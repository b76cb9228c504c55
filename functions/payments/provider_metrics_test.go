package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/metrics"
)

// scripted answers each call with the error it is told to.
type scripted struct {
	Provider
	err error
}

func (s scripted) Name() string { return "scripted" }
func (s scripted) Authorize(context.Context, string, string, int64) (string, error) {
	return "ref", s.err
}
func (s scripted) Capture(context.Context, string, string, int64) error { return s.err }

// TestProviderCallsAreCounted: every call lands in the calling function's series under its
// operation and outcome.
func TestProviderCallsAreCounted(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	ctx := metrics.With(context.Background(), reg.Function("payments-api"))
	for _, err := range []error{nil, &Decline{Code: "card_declined"}, ErrProviderRefused,
		fmt.Errorf("authorize: %w", ErrProviderUnavailable), context.DeadlineExceeded, errors.New("boom")} {
		_, _ = measured{scripted{err: err}}.Authorize(ctx, "k", "tok", 100)
	}
	_ = measured{scripted{}}.Capture(ctx, "k", "ref", 100)
	// Outside a host (no series in the context) nothing is recorded, nothing breaks.
	_ = measured{scripted{}}.Capture(context.Background(), "k", "ref", 100)

	want := `
# HELP orange_payment_provider_calls_total Calls to the payment provider, by provider, operation and outcome: ok, declined, refused, unavailable, error.
# TYPE orange_payment_provider_calls_total counter
orange_payment_provider_calls_total{function="payments-api",operation="authorize",outcome="declined",provider="scripted"} 1
orange_payment_provider_calls_total{function="payments-api",operation="authorize",outcome="error",provider="scripted"} 1
orange_payment_provider_calls_total{function="payments-api",operation="authorize",outcome="ok",provider="scripted"} 1
orange_payment_provider_calls_total{function="payments-api",operation="authorize",outcome="refused",provider="scripted"} 1
orange_payment_provider_calls_total{function="payments-api",operation="authorize",outcome="unavailable",provider="scripted"} 2
orange_payment_provider_calls_total{function="payments-api",operation="capture",outcome="ok",provider="scripted"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "orange_payment_provider_calls_total"))
}
