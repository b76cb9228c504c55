package broker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/rickb777/date/period"
	"github.com/stretchr/testify/require"
	duckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/eventing/pkg/kncloudevents"

	"github.com/orangecarrental/orange/events/broker"
)

// retryablehttpAttempts records the attempt numbers go-retryablehttp — the client under
// Knative's dispatcher — passes to its Backoff for retry 1…retry: Knative's backoff
// function is called with them.
func retryablehttpAttempts(t *testing.T, retry int) []int {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	var got []int
	c := retryablehttp.Client{
		HTTPClient: srv.Client(),
		RetryMax:   retry,
		CheckRetry: func(context.Context, *http.Response, error) (bool, error) { return true, nil },
		Backoff: func(_, _ time.Duration, n int, _ *http.Response) time.Duration {
			got = append(got, n)
			return 0
		},
		ErrorHandler: func(resp *http.Response, err error, _ int) (*http.Response, error) { return resp, err },
	}
	req, err := retryablehttp.NewRequest(http.MethodPost, srv.URL, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return got
}

func TestBackoffScheduleMatchesKnative(t *testing.T) {
	t.Parallel()
	for retry := 0; retry <= 10; retry++ {
		attempts := retryablehttpAttempts(t, retry)
		require.Len(t, attempts, retry, "retryablehttp calls Backoff once per retry")
		for _, policy := range []duckv1.BackoffPolicyType{duckv1.BackoffPolicyLinear, duckv1.BackoffPolicyExponential} {
			for _, delay := range []string{"PT0.2S", "PT1S", "PT1M", "PT0.5S", "PT0.05S"} {
				spec := duckv1.DeliverySpec{Retry: ptr(int32(retry)), BackoffPolicy: &policy, BackoffDelay: &delay}
				cfg, err := kncloudevents.RetryConfigFromDeliverySpec(spec)
				require.NoError(t, err)
				require.Equal(t, retry, cfg.RetryMax)

				d, err := broker.ParseISODuration(delay)
				require.NoError(t, err)
				ours := broker.Delivery{Retry: retry, BackoffPolicy: broker.BackoffPolicy(policy), BackoffDelay: d}
				schedule := ours.Schedule()
				require.Len(t, schedule, retry)
				for n := 1; n <= retry; n++ {
					require.Equal(t, cfg.Backoff(attempts[n-1], nil), schedule[n-1], "%s %s retry %d of %d", policy, delay, n, retry)
				}
			}
		}
	}
}

func TestBackoffWithoutPolicyOrDelayIsZeroLikeKnative(t *testing.T) {
	t.Parallel()
	exp := duckv1.BackoffPolicyExponential
	delay := "PT1S"
	for _, spec := range []duckv1.DeliverySpec{
		{Retry: ptr(int32(3)), BackoffPolicy: &exp},
		{Retry: ptr(int32(3)), BackoffDelay: &delay},
		{Retry: ptr(int32(3))},
	} {
		cfg, err := kncloudevents.RetryConfigFromDeliverySpec(spec)
		require.NoError(t, err)
		ours := broker.Delivery{Retry: 3}
		if spec.BackoffPolicy != nil {
			ours.BackoffPolicy = broker.BackoffPolicy(*spec.BackoffPolicy)
		}
		if spec.BackoffDelay != nil {
			ours.BackoffDelay = time.Second
		}
		for i, got := range ours.Schedule() {
			require.Equal(t, cfg.Backoff(i, nil), got)
		}
	}
}

func TestParseISODurationMatchesKnative(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"PT0.5S", "PT0.2S", "PT1S", "PT1M", "PT30S", "PT10S", "PT0.05S", "PT0.25S", "PT1.99S", "PT2,5S",
		"PT1M30S", "PT1H", "PT2H30M", "PT90M", "PT3600S", "P1D", "P1DT12H", "P1W", "P2W3D", "P1M", "P1Y",
		"P1Y2M3DT4H5M6.7S", "+PT5S", "P0D", "PT0S", "P0", "PT1.S",
	} {
		p, err := period.Parse(s)
		require.NoError(t, err, s)
		want, _ := p.Duration()
		got, err := broker.ParseISODuration(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	for _, s := range []string{"", "1S", "PT", "P", "PTS", "PT1X", "P1S", "-PT1S", "PT1S2", "5m"} {
		_, err := broker.ParseISODuration(s)
		require.Error(t, err, "%q", s)
	}
}

func ptr[T any](v T) *T { return &v }
