package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// pricingRatesURL is pricing's rates operation, addressed by Knative Service name: the
// platform transport reaches it in-process in `orange dev` and at its cluster-local URL
// (PRICING_API_URL, else http://pricing-api) on Knative.
const pricingRatesURL = "http://pricing-api/api/pricing/rates"

// maxPricingResponse bounds what fleet reads from pricing; a rate per candidate is small.
const maxPricingResponse = 1 << 20

// rateRequest is the body of POST /api/pricing/rates: the period and branch, and one item
// per vehicle to price, keyed by vehicle id.
type rateRequest struct {
	PickupLocation string     `json:"pickupLocation"`
	PickupAt       time.Time  `json:"pickupAt"`
	ReturnAt       time.Time  `json:"returnAt"`
	Items          []rateItem `json:"items"`
}

// rateItem asks for one vehicle's price: its category, and its own net daily rate when it
// has one (null: the category policy).
type rateItem struct {
	Key               string   `json:"key"`
	Category          Category `json:"category"`
	DailyRateNetCents *int64   `json:"dailyRateNetCents"`
}

// rateResponse is pricing's answer: the days it charges and one price per item.
type rateResponse struct {
	Days  int         `json:"days"`
	Items []ratePrice `json:"items"`
}

// ratePrice is the price of one item for the whole period, in euro cents.
type ratePrice struct {
	Key             string   `json:"key"`
	Category        Category `json:"category"`
	DailyNetCents   int64    `json:"dailyNetCents"`
	DiscountPercent float64  `json:"discountPercent"`
	TotalNetCents   int64    `json:"totalNetCents"`
	TotalVatCents   int64    `json:"totalVatCents"`
	TotalGrossCents int64    `json:"totalGrossCents"`
	DailyGrossCents int64    `json:"dailyGrossCents"`
}

// pricingClient calls pricing-api through the platform client, which carries the caller's
// token, request id and trace context.
type pricingClient struct {
	client  *http.Client
	timeout time.Duration
}

// rates prices every item for the period and returns the prices by key and the days
// charged. Any failure — pricing unreachable, slow beyond the timeout, answering other than
// 200, or answering without a price for every item — is one unavailable error (503): the
// search cannot show prices, and a price it cannot show must not be guessed.
func (p pricingClient) rates(ctx context.Context, req rateRequest) (map[string]ratePrice, int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	body, err := json.Marshal(req)
	if err != nil {
		return nil, 0, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, pricingRatesURL, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(hreq)
	if err != nil {
		return nil, 0, pricingUnavailable(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxPricingResponse))
	if err != nil {
		return nil, 0, pricingUnavailable(err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, pricingUnavailable(fmt.Errorf("pricing answered %d: %.300s", resp.StatusCode, raw))
	}
	var out rateResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, 0, pricingUnavailable(fmt.Errorf("pricing answer: %w", err))
	}
	prices := make(map[string]ratePrice, len(out.Items))
	for _, it := range out.Items {
		prices[it.Key] = it
	}
	for _, it := range req.Items {
		pr, ok := prices[it.Key]
		if !ok || pr.TotalGrossCents < 0 || pr.DailyGrossCents < 0 {
			return nil, 0, pricingUnavailable(fmt.Errorf("pricing gave no valid price for item %s", it.Key))
		}
	}
	if out.Days < 1 {
		return nil, 0, pricingUnavailable(fmt.Errorf("pricing answered %d days", out.Days))
	}
	return prices, out.Days, nil
}

// pricingUnavailable is the caller-safe error for any pricing failure; the cause is logged.
func pricingUnavailable(cause error) error {
	return &platform.Error{Kind: platform.KindUnavailable, Message: "prices cannot be calculated right now; please try again shortly", Err: cause}
}
