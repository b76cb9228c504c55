package pricing

import (
	"context"
	"fmt"
	"time"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
)

// The quote operation's types are the contract's.
type (
	// QuoteRequest is the body of POST /api/pricing/quotes.
	QuoteRequest = pricingapi.QuoteRequest
	// ExtraRequest asks for an extra; Quantity defaults to 1.
	ExtraRequest = pricingapi.ExtraRequest
	// Quote is a priced rental: its lines add up to NetCents, and NetCents + VATCents =
	// GrossCents.
	Quote = pricingapi.Quote
)

// quoteInput is a validated QuoteRequest.
type quoteInput struct {
	pickupLocation, returnLocation string
	pickupAt, returnAt             time.Time
	category                       Category
	insurance                      Insurance
	extras                         []ExtraChoice
	override                       *int64
}

// validateQuote checks every field of q at once against the clock now.
func validateQuote(q QuoteRequest, now time.Time) (quoteInput, error) {
	var errs platform.FieldErrors
	in := quoteInput{override: q.DailyRateNetCents}
	in.pickupLocation = checkLocation(&errs, "pickupLocation", q.PickupLocation)
	in.returnLocation = in.pickupLocation
	if q.ReturnLocation != "" {
		in.returnLocation = checkLocation(&errs, "returnLocation", q.ReturnLocation)
	}
	in.pickupAt, in.returnAt = checkPeriod(&errs, q.PickupAt, q.ReturnAt, now)
	in.category = checkCategory(&errs, "category", q.Category)
	code := q.Insurance
	if code == "" {
		code = DefaultInsurance
	}
	var ok bool
	if in.insurance, ok = insuranceByCode(code); !ok {
		errs.Add("insurance", "must be one of LIABILITY, PARTIAL, FULL, ZERO_EXCESS")
	}
	if q.DailyRateNetCents != nil {
		checkDailyRate(&errs, "dailyRateNetCents", *q.DailyRateNetCents)
	}
	in.extras = quoteExtras(q, &errs)
	if len(errs) > 0 {
		return quoteInput{}, platform.Invalid("the quote request is invalid", errs...)
	}
	return in, nil
}

// quoteExtras resolves the requested extras against the catalogue, in catalogue order.
func quoteExtras(q QuoteRequest, errs *platform.FieldErrors) []ExtraChoice {
	if len(q.Extras) > len(Extras) {
		errs.Add("extras", fmt.Sprintf("at most %d entries, one per extra code", len(Extras)))
		return nil
	}
	quantity := map[string]int{}
	for i, r := range q.Extras {
		field := fmt.Sprintf("extras[%d]", i)
		e, ok := extraByCode(r.Code)
		if !ok {
			errs.Add(field+".code", "unknown extra; see GET /api/pricing/catalogue")
			continue
		}
		if _, dup := quantity[e.Code]; dup {
			errs.Add(field+".code", "listed twice; give one entry with a quantity")
			continue
		}
		n := 1
		if r.Quantity != nil {
			n = *r.Quantity
		}
		if n < 1 || n > e.MaxQuantity {
			errs.Add(field+".quantity", fmt.Sprintf("must be from 1 to %d for %s", e.MaxQuantity, e.Code))
		}
		quantity[e.Code] = n
	}
	var out []ExtraChoice
	for _, e := range Extras {
		if n, ok := quantity[e.Code]; ok {
			out = append(out, ExtraChoice{Extra: e, Quantity: n})
		}
	}
	return out
}

// quote prices a validated request: the daily rate from the override or the policy valid at
// pickup for the category at the pickup branch (else the general one).
func (s *Service) quote(ctx context.Context, in quoteInput) (Quote, error) {
	q := Quote{
		Category: in.category, PickupLocation: in.pickupLocation, ReturnLocation: in.returnLocation,
		PickupAt: in.pickupAt, ReturnAt: in.returnAt, Days: BillableDays(in.pickupAt, in.returnAt),
		Insurance: in.insurance.Code, VATPercent: VATPercent, Currency: Currency,
	}
	if in.override != nil {
		q.DailyRateNetCents, q.RateSource = *in.override, "override"
	} else {
		rates, err := s.store.RatesAt(ctx, in.pickupLocation, in.pickupAt, []Category{in.category})
		if err != nil {
			return Quote{}, err
		}
		r, ok := rates[in.category]
		if !ok {
			return Quote{}, noPolicy(in.category, in.pickupLocation, in.pickupAt)
		}
		q.DailyRateNetCents, q.RateSource, q.PolicyID = r.DailyNetCents, "policy", &r.PolicyID
	}
	q.DailyRateGrossCents = GrossCents(q.DailyRateNetCents)
	b := PriceQuote(QuoteSpec{Category: in.category, Days: q.Days, DailyNetCents: q.DailyRateNetCents,
		Insurance: in.insurance, Extras: in.extras, OneWay: in.returnLocation != in.pickupLocation})
	q.Lines, q.DiscountPercent, q.NetCents, q.VATCents, q.GrossCents = b.Lines, b.DiscountPercent, b.NetCents, b.VATCents, b.GrossCents
	return q, nil
}

// noPolicy is the error for a category no active policy prices: 404, since what is missing
// is a resource (a rate policy) that a fleet manager has to create.
func noPolicy(c Category, location string, at time.Time) error {
	return platform.NotFound("no active rate policy prices %s at %s on %s", c, location, at.UTC().Format(time.RFC3339))
}
