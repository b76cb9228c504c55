package reports

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// Frozen is a month's report as it was frozen.
type Frozen struct {
	Month    string    `json:"month"`
	FrozenAt time.Time `json:"frozenAt"`
	Report   Report    `json:"report"`
}

// freeze stores the report of the month before sent (in Zone) unless that month is frozen
// already, and announces it (report.frozen, in the same transaction). A second ping — the
// same month's retry, another replica — finds the row and does nothing.
func (s *Service) freeze(ctx context.Context, tx pgx.Tx, eventID string, sent time.Time) error {
	y, m, _ := sent.In(s.zone).Date()
	first := time.Date(y, m, 1, 0, 0, 0, 0, s.zone).AddDate(0, -1, 0)
	req := Request{From: first, To: first.AddDate(0, 1, -1), Granularity: Monthly}
	rep, err := s.Compute(ctx, tx, req)
	if err != nil {
		return err
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	var frozenAt time.Time
	err = tx.QueryRow(ctx, `INSERT INTO reports.frozen (month, event_id, report) VALUES ($1, $2, $3)
		ON CONFLICT (month) DO NOTHING RETURNING frozen_at`, first.Format(dateLayout), eventID, body).Scan(&frozenAt)
	month := first.Format("2006-01")
	logger := platform.LoggerFrom(ctx)
	if errors.Is(err, pgx.ErrNoRows) {
		logger.InfoContext(ctx, "report already frozen", slog.String("month", month))
		return nil
	}
	if err != nil {
		return err
	}
	t := rep.Total
	logger.InfoContext(ctx, "report frozen", slog.String("month", month))
	return events.Emit(ctx, tx, Migrations.Schema, ServiceName, events.ReportFrozen, month, events.ReportSummary{
		Month: month, Version: 1, FrozenAt: frozenAt.UTC().Format(time.RFC3339),
		AvailableCarDays: t.AvailableCarDays, RentedCarDays: t.RentedCarDays, Utilisation: t.Utilisation,
		RevenueNetCents: t.RevenueNetCents, RevenueVatCents: t.RevenueVatCents, RevenueGrossCents: t.RevenueGrossCents,
		ADRCents: t.ADRCents, RevPACCents: t.RevPACCents, Bookings: t.Bookings, Cancellations: t.Cancellations,
		NoShows: t.NoShows, Currency: rep.Currency,
	})
}

// Monthly returns the frozen report of month (its first day in Zone); ok false when the
// month is not frozen.
func (s *Service) Monthly(ctx context.Context, first time.Time) (Frozen, bool, error) {
	var f Frozen
	var body []byte
	err := s.db.Pool.QueryRow(ctx, `SELECT frozen_at, report FROM reports.frozen WHERE month = $1`,
		first.Format(dateLayout)).Scan(&f.FrozenAt, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, false, nil
	}
	if err != nil {
		return f, false, err
	}
	f.Month = first.Format("2006-01")
	return f, true, json.Unmarshal(body, &f.Report)
}
