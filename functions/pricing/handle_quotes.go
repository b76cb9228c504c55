package pricing

import (
	"net/http"

	"github.com/orangecarrental/orange/platform"
)

func (s *Service) handleQuote(w http.ResponseWriter, r *http.Request) error {
	var req QuoteRequest
	if err := platform.DecodeJSON(w, r, &req, 0); err != nil {
		return err
	}
	in, err := validateQuote(req, s.now())
	if err != nil {
		return err
	}
	q, err := s.quote(r.Context(), in)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, q)
}

func (s *Service) handleRates(w http.ResponseWriter, r *http.Request) error {
	var req RatesRequest
	if err := platform.DecodeJSON(w, r, &req, 0); err != nil {
		return err
	}
	in, err := validateRates(req, s.now())
	if err != nil {
		return err
	}
	out, err := s.rates(r.Context(), in)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) handleCancellationFee(w http.ResponseWriter, r *http.Request) error {
	var req FeeRequest
	if err := platform.DecodeJSON(w, r, &req, 0); err != nil {
		return err
	}
	pickupAt, cancelledAt, total, err := validateFee(req, s.now())
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, cancellationFee(pickupAt, cancelledAt, total))
}

func (s *Service) handleReturnCharges(w http.ResponseWriter, r *http.Request) error {
	var req ReturnChargesRequest
	if err := platform.DecodeJSON(w, r, &req, 0); err != nil {
		return err
	}
	pickup, back, err := validateReturnCharges(req)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, ReturnCharges(pickup, back))
}

// Catalogue is every priced rule a client needs to offer choices and explain a quote.
type Catalogue struct {
	Currency           string             `json:"currency"`
	VATPercent         int                `json:"vatPercent"`
	Categories         []Category         `json:"categories"`
	Extras             []Extra            `json:"extras"`
	Insurance          []Insurance        `json:"insurance"`
	DefaultInsurance   string             `json:"defaultInsurance"`
	DurationDiscounts  []DurationDiscount `json:"durationDiscounts"`
	OneWayFeeNetCents  int64              `json:"oneWayFeeNetCents"`
	GracePeriodMinutes int                `json:"gracePeriodMinutes"`
	MaxRentalDays      int                `json:"maxRentalDays"`
	Cancellation       []CancellationTier `json:"cancellation"`
	// RefuelNetCentsPerEighth is the return charge per eighth of a tank short of the
	// pickup level.
	RefuelNetCentsPerEighth int64 `json:"refuelNetCentsPerEighth"`
}

func (s *Service) handleCatalogue(w http.ResponseWriter, r *http.Request) error {
	return platform.WriteJSON(w, http.StatusOK, Catalogue{
		Currency: Currency, VATPercent: VATPercent, Categories: categories(), Extras: Extras,
		Insurance: InsurancePackages, DefaultInsurance: DefaultInsurance, DurationDiscounts: DurationDiscounts,
		OneWayFeeNetCents: OneWayFeeNetCents, GracePeriodMinutes: int(GracePeriod.Minutes()),
		MaxRentalDays: MaxRentalDays, Cancellation: CancellationTiers, RefuelNetCentsPerEighth: RefuelNetCentsPerEighth,
	})
}
