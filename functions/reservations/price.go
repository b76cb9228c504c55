package reservations

import (
	"fmt"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
)

// price is a booking's price as pricing-api quoted it: the lines a booking keeps (migration
// 0005), their net sum, the VAT and the gross total, and what the quote priced (the
// insurance package it resolved, the gross daily rate a late return is charged at).
type price struct {
	grossCents, netCents, vatCents, dailyGrossCents int64
	currency, insurance                             string
	lines                                           []events.PriceLine
	// changeFeeGross is the CHANGE_FEE line's gross, part of grossCents (changeFee).
	changeFeeGross int64
}

// priceOf reads quote q, refusing one whose figures do not add up (pricing's contract: the
// lines add up to the net, net + VAT = gross).
func priceOf(q pricingapi.Quote) (price, error) {
	p := price{grossCents: q.GrossCents, netCents: q.NetCents, vatCents: q.VATCents, dailyGrossCents: q.DailyRateGrossCents,
		currency: q.Currency, insurance: q.Insurance, lines: make([]events.PriceLine, len(q.Lines))}
	var sum int64
	for i, l := range q.Lines {
		p.lines[i] = events.PriceLine{Code: l.Code, Description: l.Description, Quantity: l.Quantity, Per: string(l.Per),
			UnitNetCents: l.UnitNetCents, NetCents: l.NetCents}
		sum += l.NetCents
	}
	if len(p.lines) == 0 || sum != p.netCents || p.netCents+p.vatCents != p.grossCents || p.netCents < 0 || p.vatCents < 0 ||
		p.grossCents < 0 || p.dailyGrossCents < 0 || p.currency == "" {
		return price{}, fmt.Errorf("implausible quote: lines add up to %d, net %d, VAT %d, gross %d %s", sum, p.netCents, p.vatCents, p.grossCents, p.currency)
	}
	return p, nil
}

// extrasArg is a booking's extras as the extras column takes them: never null.
func extrasArg(e []Extra) []Extra {
	if e == nil {
		return []Extra{}
	}
	return e
}
