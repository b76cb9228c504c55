package pricingapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/orangecarrental/orange/functions/pricing"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// function is the real pricing-api over a fresh database holding the seed rates, mounted on
// an in-process transport as a host mounts it: its Authenticator in front of its route table.
type function struct {
	id        *authtest.Identity
	transport *platform.Transport
}

func newFunction(t *testing.T) *function {
	t.Helper()
	f := &function{id: authtest.New(t), transport: platform.NewTransport(nil, nil)}
	svc, err := pricing.New(context.Background(), pricing.Config{}, platform.Deps{DB: pg.NewDB(t, pricing.Migrations)})
	require.NoError(t, err)
	f.transport.Mount(pricingapi.Service, platform.Handler(svc, f.id.Authenticator(pricingapi.Service)))
	return f
}

// clientAs is the client a function calling as service gets from its host ("" calls with no
// identity at all).
func (f *function) clientAs(service string) *pricingapi.Client {
	var tokens oauth2.TokenSource
	if service != "" {
		tokens = f.id.ServiceTokens(service)
	}
	return pricingapi.NewClient(platform.ForwardingClient(f.transport, tokens, 5*time.Second))
}

// threeDays is a rental from three days ahead (on the hour), 72 hours long.
func threeDays() (time.Time, time.Time) {
	p := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	return p, p.Add(72 * time.Hour)
}

func requireError(t *testing.T, err error, status int) *platform.CallError {
	t.Helper()
	var e *platform.CallError
	require.ErrorAs(t, err, &e)
	assert.Equal(t, pricingapi.Service, e.Service)
	require.Equal(t, status, e.Status, e.Error())
	assert.Equal(t, status, e.Problem.Status, "the problem document was decoded")
	assert.NotEmpty(t, e.Problem.Detail)
	return e
}

func fields(p platform.Problem) []string {
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	return out
}

// TestQuote prices a booking as reservations-api does: KOMPAKT for 3 days at the seed rate is
// 3 × 39.99 = 119.97 net, VAT 22.79, 142.76 gross; its lines add up.
func TestQuote(t *testing.T) {
	t.Parallel()
	client := newFunction(t).clientAs("reservations-api")
	ctx := context.Background()
	p, r := threeDays()
	q, err := client.Quote(ctx, pricingapi.QuoteRequest{PickupLocation: "BER-HBF", PickupAt: p.Format(time.RFC3339),
		ReturnAt: r.Format(time.RFC3339), Category: "KOMPAKT", Extras: []pricingapi.ExtraRequest{{Code: "GPS"}}})
	require.NoError(t, err)
	assert.Equal(t, pricingapi.Category("KOMPAKT"), q.Category)
	assert.Equal(t, 3, q.Days)
	assert.Equal(t, int64(3999), q.DailyRateNetCents)
	assert.Equal(t, int64(4759), q.DailyRateGrossCents)
	assert.Equal(t, "EUR", q.Currency)
	var sum int64
	for _, l := range q.Lines {
		sum += l.NetCents
	}
	assert.Equal(t, q.NetCents, sum)
	assert.Equal(t, int64(11997+1500), q.NetCents, "rental and three days of GPS")
	assert.Equal(t, q.NetCents+q.VATCents, q.GrossCents)
	assert.Equal(t, pricingapi.PerDay, q.Lines[len(q.Lines)-1].Per)

	_, err = client.Quote(ctx, pricingapi.QuoteRequest{PickupLocation: "Berlin", Category: "BUS"})
	assert.Subset(t, fields(requireError(t, err, http.StatusBadRequest).Problem), []string{"pickupLocation", "pickupAt", "returnAt", "category"})
}

// TestRates prices the fleet's search items, a vehicle's own rate included.
func TestRates(t *testing.T) {
	t.Parallel()
	client := newFunction(t).clientAs("vehicles-api")
	p, r := threeDays()
	own := int64(22999)
	out, err := client.Rates(context.Background(), pricingapi.RatesRequest{PickupLocation: "BER-HBF", PickupAt: p.Format(time.RFC3339Nano),
		ReturnAt: r.Format(time.RFC3339Nano), Items: []pricingapi.RatesItem{{Key: "golf", Category: "KOMPAKT"}, {Key: "taycan", Category: "LUXUS", DailyRateNetCents: &own}}})
	require.NoError(t, err)
	assert.Equal(t, 3, out.Days)
	assert.Equal(t, []pricingapi.RateResult{
		{Key: "golf", Category: "KOMPAKT", DailyNetCents: 3999, TotalNetCents: 11997, TotalVATCents: 2279, TotalGrossCents: 14276, DailyGrossCents: 4759},
		// 3 × 229.99 = 689.97; VAT 131.09; 821.06 gross, 273.69 a day.
		{Key: "taycan", Category: "LUXUS", DailyNetCents: 22999, TotalNetCents: 68997, TotalVATCents: 13109, TotalGrossCents: 82106, DailyGrossCents: 27369},
	}, out.Items)

	_, err = client.Rates(context.Background(), pricingapi.RatesRequest{PickupLocation: "BER-HBF", PickupAt: p.Format(time.RFC3339), ReturnAt: r.Format(time.RFC3339)})
	assert.Equal(t, []string{"items"}, fields(requireError(t, err, http.StatusBadRequest).Problem))
}

// TestCancellationFee: granted to reservations-api (and people); another function's identity
// is 403, none at all 401, each one *platform.CallError. Quotes and rates stay public.
func TestCancellationFee(t *testing.T) {
	t.Parallel()
	f := newFunction(t)
	ctx := context.Background()
	total := int64(14276)
	pickup := time.Now().Add(30 * time.Hour).UTC().Truncate(time.Second)
	req := pricingapi.FeeRequest{PickupAt: pickup.Format(time.RFC3339), CancelledAt: pickup.Add(-30 * time.Hour).Format(time.RFC3339), TotalGrossCents: &total}

	fee, err := f.clientAs("reservations-api").CancellationFee(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, int64(30), fee.HoursBeforePickup)
	assert.Equal(t, 50, fee.FeePercent)
	assert.Equal(t, int64(7138), fee.FeeCents)
	assert.True(t, pickup.Equal(fee.PickupAt))

	tests := []struct {
		caller string
		want   int
	}{
		{"vehicles-api", http.StatusForbidden},
		{"payments-api", http.StatusForbidden},
		{"", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run("as "+tt.caller, func(t *testing.T) {
			t.Parallel()
			client := f.clientAs(tt.caller)
			_, err := client.CancellationFee(ctx, req)
			requireError(t, err, tt.want)
			p, r := threeDays()
			_, err = client.Rates(ctx, pricingapi.RatesRequest{PickupLocation: "BER-HBF", PickupAt: p.Format(time.RFC3339),
				ReturnAt: r.Format(time.RFC3339), Items: []pricingapi.RatesItem{{Key: "a", Category: "KLEIN"}}})
			require.NoError(t, err, "rates are public")
		})
	}
}

// TestCancellationFeeKeepsFractionalSeconds: a caller formatting with time.RFC3339Nano gets
// the tier of the exact time, 1 ms either side of the 24 h line (14276 gross: 50 % = 7138).
func TestCancellationFeeKeepsFractionalSeconds(t *testing.T) {
	t.Parallel()
	client := newFunction(t).clientAs("reservations-api")
	total := int64(14276)
	pickup := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second).Add(250 * time.Millisecond)
	for _, tt := range []struct {
		cancelledAt time.Time
		percent     int
		fee         int64
	}{
		{pickup.Add(-24*time.Hour - time.Millisecond), 50, 7138},
		{pickup.Add(-24*time.Hour + time.Millisecond), 100, 14276},
	} {
		fee, err := client.CancellationFee(context.Background(), pricingapi.FeeRequest{PickupAt: pickup.Format(time.RFC3339Nano),
			CancelledAt: tt.cancelledAt.Format(time.RFC3339Nano), TotalGrossCents: &total})
		require.NoError(t, err)
		assert.Equal(t, tt.percent, fee.FeePercent)
		assert.Equal(t, tt.fee, fee.FeeCents)
		assert.True(t, tt.cancelledAt.Equal(fee.CancelledAt), "cancelledAt comes back to the nanosecond: %s", fee.CancelledAt)
		assert.True(t, pickup.Equal(fee.PickupAt))
	}
}

// TestReturnCharges: reservations-api prices a return with its own identity; 8/8 out, 5/8
// back is 3 × 12.00 = 36.00 net, 6.84 VAT, 42.84 gross. Another function is 403, none 401,
// a missing level 400 naming it.
func TestReturnCharges(t *testing.T) {
	t.Parallel()
	f := newFunction(t)
	ctx := context.Background()
	full, five := 8, 5
	req := pricingapi.ReturnChargesRequest{FuelAtPickup: &full, FuelAtReturn: &five}
	out, err := f.clientAs("reservations-api").ReturnCharges(ctx, req)
	require.NoError(t, err)
	require.Len(t, out.Lines, 1)
	assert.Equal(t, "REFUEL", out.Lines[0].Code)
	assert.Equal(t, 3, out.Lines[0].Quantity)
	assert.Equal(t, int64(1200), out.Lines[0].UnitNetCents)
	assert.Equal(t, int64(3600), out.Lines[0].NetCents)
	assert.Equal(t, int64(3600), out.NetCents)
	assert.Equal(t, int64(684), out.VATCents)
	assert.Equal(t, int64(4284), out.GrossCents)
	assert.Equal(t, "EUR", out.Currency)

	same, err := f.clientAs("reservations-api").ReturnCharges(ctx, pricingapi.ReturnChargesRequest{FuelAtPickup: &five, FuelAtReturn: &five})
	require.NoError(t, err)
	assert.Empty(t, same.Lines)
	assert.Zero(t, same.GrossCents)

	_, err = f.clientAs("reservations-api").ReturnCharges(ctx, pricingapi.ReturnChargesRequest{FuelAtPickup: &full})
	assert.Equal(t, []string{"fuelAtReturn"}, fields(requireError(t, err, http.StatusBadRequest).Problem))
	_, err = f.clientAs("vehicles-api").ReturnCharges(ctx, req)
	requireError(t, err, http.StatusForbidden)
	_, err = f.clientAs("").ReturnCharges(ctx, req)
	requireError(t, err, http.StatusUnauthorized)
}

// TestTransportFailuresAreNotAnswers: an unreachable pricing-api is the transport's error,
// never a *platform.CallError.
func TestTransportFailuresAreNotAnswers(t *testing.T) {
	t.Parallel()
	down := errors.New("no route to host")
	tr := platform.NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, down }), nil)
	_, err := pricingapi.NewClient(&http.Client{Transport: tr}).Rates(context.Background(), pricingapi.RatesRequest{})
	require.ErrorIs(t, err, down)
	var e *platform.CallError
	assert.False(t, errors.As(err, &e))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
