package reports

import (
	"context"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/functions/rental"
)

// Granularities of a report.
const (
	Daily   = "day"
	Monthly = "month"
)

// dateLayout is how days are written (in Zone).
const dateLayout = "2006-01-02"

// Figures are the report's numbers for one period, branch and category (or a total); each
// is defined in docs/reports.md. Money is in cents of Currency.
type Figures struct {
	AvailableCarDays     int64   `json:"availableCarDays"`
	RentedCarDays        int64   `json:"rentedCarDays"`
	Utilisation          float64 `json:"utilisation"`
	RevenueNetCents      int64   `json:"revenueNetCents"`
	RevenueVatCents      int64   `json:"revenueVatCents"`
	RevenueGrossCents    int64   `json:"revenueGrossCents"`
	RentalNetCents       int64   `json:"rentalNetCents"`
	FeeNetCents          int64   `json:"feeNetCents"`
	ADRCents             int64   `json:"adrCents"`
	RevPACCents          int64   `json:"revpacCents"`
	Bookings             int64   `json:"bookings"`
	Cancellations        int64   `json:"cancellations"`
	CancellationFeeCents int64   `json:"cancellationFeeCents"`
	NoShows              int64   `json:"noShows"`
	AverageLeadTimeDays  float64 `json:"averageLeadTimeDays"`
	OneWayShare          float64 `json:"oneWayShare"`

	billedDays int64 // rented car-days whose rental invoice is in (ADR's divisor)
	leadHours  float64
	oneWay     int64
}

// Row is the figures of one period (a day or a month: its first day) at one branch for one
// category.
type Row struct {
	Period   string `json:"period"`
	Branch   string `json:"branch"`
	Category string `json:"category"`
	Figures
}

// Report is a report for a period.
type Report struct {
	From        string  `json:"from"`
	To          string  `json:"to"`
	Granularity string  `json:"granularity"`
	Zone        string  `json:"zone"`
	Currency    string  `json:"currency"`
	Branch      string  `json:"branch,omitempty"`
	Category    string  `json:"category,omitempty"`
	Rows        []Row   `json:"rows"`
	Total       Figures `json:"total"`
}

// Request is what a report is asked for: the days from From to To (both inclusive, dates in
// Zone), optionally one branch and one category.
type Request struct {
	From, To         time.Time // midnight in Zone
	Granularity      string
	Branch, Category string
}

type bucketKey struct {
	day              string
	branch, category string
}

// queryer is the pool or a transaction.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Compute computes the report for req from the model as it stands.
func (s *Service) Compute(ctx context.Context, q queryer, req Request) (Report, error) {
	start, end := req.From, req.To.AddDate(0, 0, 1) // [start, end) in Zone
	days := map[bucketKey]*Figures{}
	at := func(day time.Time, branch, category string) *Figures {
		d := day.In(s.zone)
		if d.Before(start) || !d.Before(end) || !s.wanted(req, branch, category) {
			return nil
		}
		k := bucketKey{d.Format(dateLayout), branch, category}
		f := days[k]
		if f == nil {
			f = &Figures{}
			days[k] = f
		}
		return f
	}
	if err := s.fleetDays(ctx, q, start, end, at); err != nil {
		return Report{}, err
	}
	if err := s.bookingDays(ctx, q, start, end, at); err != nil {
		return Report{}, err
	}
	return s.assemble(req, days), nil
}

func (s *Service) wanted(req Request, branch, category string) bool {
	// Codes in any case, as the search and pricing take them: "ber-hbf" found nothing.
	return (req.Branch == "" || strings.EqualFold(req.Branch, branch)) && (req.Category == "" || strings.EqualFold(req.Category, category))
}

// midnight is the start of t's day in the zone.
func (s *Service) midnight(t time.Time) time.Time {
	y, m, d := t.In(s.zone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, s.zone)
}

// fleetDays counts available car-days: a car counts on a day when it is in the fleet at
// the day's end (so a car added on the 15th counts from the 15th, one taken out of service
// on the 20th no longer on the 20th).
func (s *Service) fleetDays(ctx context.Context, q queryer, start, end time.Time, at func(time.Time, string, string) *Figures) error {
	rows, err := q.Query(ctx, `SELECT branch, category, in_fleet_from, in_fleet_to FROM reports.vehicles
		WHERE in_fleet_from < $2 AND (in_fleet_to IS NULL OR in_fleet_to > $1)`, start, end)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var branch, category string
		var from time.Time
		var to *time.Time
		if err := rows.Scan(&branch, &category, &from, &to); err != nil {
			return err
		}
		for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
			dayEnd := d.AddDate(0, 0, 1)
			if from.Before(dayEnd) && (to == nil || !to.Before(dayEnd)) {
				if f := at(d, branch, category); f != nil {
					f.AvailableCarDays++
				}
			}
		}
	}
	return rows.Err()
}

// rentalDays is how many car-days a rental counts: the days it is charged for, by pricing's
// rule (its grace hour included: a 25-hour rental is one day charged and one counted).
func rentalDays(pickup, ret time.Time) int { return rental.BillableDays(pickup, ret) }

// spread splits total into n shares that differ by at most a cent, the larger first.
func spread(total int64, n int) []int64 {
	out := make([]int64, n)
	base, rest := total/int64(n), total%int64(n)
	for i := range out {
		out[i] = base
		if int64(i) < rest {
			out[i]++
		} else if rest < 0 && int64(i) < -rest {
			out[i]--
		}
	}
	return out
}

// bookingDays adds what the bookings and their invoices count on each day.
func (s *Service) bookingDays(ctx context.Context, q queryer, start, end time.Time, at func(time.Time, string, string) *Figures) error {
	rows, err := q.Query(ctx, `SELECT r.reservation_id, r.branch, r.return_branch, r.category, r.pickup_at, r.return_at, r.status, r.booked_at,
			r.ended_at, r.fee_cents, i.kind, i.net_cents, i.vat_cents, i.gross_cents, i.issued_at
		FROM reports.reservations r LEFT JOIN reports.invoices i ON i.reservation_id = r.reservation_id
		WHERE (r.pickup_at < $2 AND r.return_at > $1::timestamptz - interval '1 day')
		   OR (r.booked_at >= $1 AND r.booked_at < $2) OR (r.ended_at >= $1 AND r.ended_at < $2)
		ORDER BY r.reservation_id, i.invoice_id`, start, end)
	if err != nil {
		return err
	}
	defer rows.Close()
	type booking struct {
		branch, returnBranch, category, status string
		pickup, ret, booked                    time.Time
		ended                                  *time.Time
		fee                                    int64
	}
	prev := ""
	for rows.Next() {
		var id string
		var b booking
		var kind *string
		var net, vat, gross *int64
		var issued *time.Time
		if err := rows.Scan(&id, &b.branch, &b.returnBranch, &b.category, &b.pickup, &b.ret, &b.status, &b.booked,
			&b.ended, &b.fee, &kind, &net, &vat, &gross, &issued); err != nil {
			return err
		}
		// The join repeats a booking once per invoice: count the booking on its first row.
		if id != prev {
			s.countBooking(b.branch, b.returnBranch, b.category, b.pickup, b.ret, b.status, b.booked, b.ended, b.fee, at)
		}
		prev = id
		if kind == nil {
			continue
		}
		if rented := b.status == "active" || b.status == "completed"; *kind == "rental" && rented {
			// A day's gross is its net plus its VAT (and its share of whatever the invoice's
			// gross differs from net + VAT by: nothing, for a well-formed invoice).
			n := rentalDays(b.pickup, b.ret)
			nets, vats, rests := spread(*net, n), spread(*vat, n), spread(*gross-*net-*vat, n)
			day := s.midnight(b.pickup)
			for i := range n {
				if f := at(day.AddDate(0, 0, i), b.branch, b.category); f != nil {
					f.billedDays++
					f.RentalNetCents += nets[i]
					f.RevenueNetCents += nets[i]
					f.RevenueVatCents += vats[i]
					f.RevenueGrossCents += nets[i] + vats[i] + rests[i]
				}
			}
			continue
		}
		// A fee counts on the day the booking was cancelled or marked a no-show; so does an
		// invoice by hand of a booking that was never rented (payments takes one only for an
		// ended booking): revenue, but no rental — it has no rented days to spread over, and
		// added to ADR's divisor the days it was booked for.
		day := *issued
		if b.ended != nil {
			day = *b.ended
		}
		if f := at(day, b.branch, b.category); f != nil {
			if *kind != "rental" {
				f.FeeNetCents += *net
			}
			f.RevenueNetCents += *net
			f.RevenueVatCents += *vat
			f.RevenueGrossCents += *gross
		}
	}
	return rows.Err()
}

// countBooking adds one booking's car-days, its booking, its cancellation or no-show.
func (s *Service) countBooking(branch, returnBranch, category string, pickup, ret time.Time, status string,
	booked time.Time, ended *time.Time, fee int64, at func(time.Time, string, string) *Figures) {
	if status == "active" || status == "completed" {
		day := s.midnight(pickup)
		for i := range rentalDays(pickup, ret) {
			if f := at(day.AddDate(0, 0, i), branch, category); f != nil {
				f.RentedCarDays++
			}
		}
	}
	// An expired booking was an unpaid hold, never a booking.
	if status != "expired" {
		if f := at(booked, branch, category); f != nil {
			f.Bookings++
			f.leadHours += max(pickup.Sub(booked).Hours(), 0)
			if returnBranch != branch {
				f.oneWay++
			}
		}
	}
	if ended != nil {
		if f := at(*ended, branch, category); f != nil {
			switch status {
			case "cancelled":
				f.Cancellations++
				f.CancellationFeeCents += fee
			case "no_show":
				f.NoShows++
			}
		}
	}
}

// assemble groups the day buckets into the report's rows and total.
func (s *Service) assemble(req Request, days map[bucketKey]*Figures) Report {
	rows := map[bucketKey]*Figures{}
	total := &Figures{}
	for k, f := range days {
		period := k.day
		if req.Granularity == Monthly {
			period = period[:8] + "01"
		}
		rk := bucketKey{period, k.branch, k.category}
		if rows[rk] == nil {
			rows[rk] = &Figures{}
		}
		rows[rk].add(f)
		total.add(f)
	}
	rep := Report{From: req.From.Format(dateLayout), To: req.To.Format(dateLayout), Granularity: req.Granularity,
		Zone: Zone, Currency: "EUR", Branch: req.Branch, Category: req.Category, Rows: []Row{}}
	for k, f := range rows {
		f.finish()
		rep.Rows = append(rep.Rows, Row{Period: k.day, Branch: k.branch, Category: k.category, Figures: *f})
	}
	sort.Slice(rep.Rows, func(i, j int) bool {
		a, b := rep.Rows[i], rep.Rows[j]
		if a.Period != b.Period {
			return a.Period < b.Period
		}
		if a.Branch != b.Branch {
			return a.Branch < b.Branch
		}
		return a.Category < b.Category
	})
	total.finish()
	rep.Total = *total
	return rep
}

func (f *Figures) add(g *Figures) {
	f.AvailableCarDays += g.AvailableCarDays
	f.RentedCarDays += g.RentedCarDays
	f.RevenueNetCents += g.RevenueNetCents
	f.RevenueVatCents += g.RevenueVatCents
	f.RevenueGrossCents += g.RevenueGrossCents
	f.RentalNetCents += g.RentalNetCents
	f.FeeNetCents += g.FeeNetCents
	f.Bookings += g.Bookings
	f.Cancellations += g.Cancellations
	f.CancellationFeeCents += g.CancellationFeeCents
	f.NoShows += g.NoShows
	f.billedDays += g.billedDays
	f.leadHours += g.leadHours
	f.oneWay += g.oneWay
}

// finish computes the ratios from the sums (docs/reports.md: rounding).
func (f *Figures) finish() {
	if f.AvailableCarDays > 0 {
		f.Utilisation = round4(float64(f.RentedCarDays) / float64(f.AvailableCarDays))
		f.RevPACCents = roundDiv(f.RentalNetCents, f.AvailableCarDays)
	}
	if f.billedDays > 0 {
		f.ADRCents = roundDiv(f.RentalNetCents, f.billedDays)
	}
	if f.Bookings > 0 {
		f.AverageLeadTimeDays = math.Round(f.leadHours/24/float64(f.Bookings)*10) / 10
		f.OneWayShare = round4(float64(f.oneWay) / float64(f.Bookings))
	}
}

func round4(x float64) float64 { return math.Round(x*10000) / 10000 }

// roundDiv is a ÷ b rounded half away from zero (b > 0).
func roundDiv(a, b int64) int64 {
	if a < 0 {
		return -roundDiv(-a, b)
	}
	return (2*a + b) / (2 * b)
}
