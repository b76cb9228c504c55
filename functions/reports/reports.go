// Package reports is report-worker (design.md §1, issue 15): utilisation, revenue, ADR,
// RevPAC, bookings, cancellations, no-shows, lead time and one-way share per branch and
// category, daily and monthly, from its own read model in the reports schema.
//
// The model is fed by Triggers (reservation, invoice, payment and vehicle events). Each
// event is applied once (the events package's inbox) and only if it is newer than what the
// model holds (payload versions: brokers keep no order), and its payload, reduced to the
// fields the model reads, goes to a raw log (reports.events) in the same transaction. A
// rebuild truncates the model and re-applies the log in any order; it ends in the same
// state because every apply is order-independent (version guards, earliest times by min).
//
// Reports are computed on demand from the model (GET /api/reports: JSON, CSV, SVG); the
// monthly PingSource (1st, 02:00 Europe/Berlin) freezes the month before — stored once,
// never recomputed — and announces it as report.frozen, which the notifier mails to the
// admins. Nothing personal is kept: no customer ids, names or addresses. Every figure and
// every choice (days, zone, rounding) is defined in docs/reports.md.
package reports

import (
	"context"
	"embed"
	"fmt"
	"net/http"
	"time"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// ServiceName is the Knative Service of this function.
const ServiceName = "report-worker"

// Prefix is where the reports are served (the gateway's upstream row).
const Prefix = "/api/reports"

// PingSourceName is the PingSource that freezes last month (knative/base/report-worker.yaml).
const PingSourceName = "report-worker-monthly"

// Zone is the time zone of the reports' days and months.
const Zone = "Europe/Berlin"

// TriggerNames are report-worker's Triggers (knative/base/report-worker.yaml): the only
// senders its receiver admits besides the PingSource.
var TriggerNames = []string{
	"report-worker-reservation-created",
	"report-worker-reservation-confirmed",
	"report-worker-reservation-changed",
	"report-worker-reservation-activated",
	"report-worker-reservation-completed",
	"report-worker-reservation-cancelled",
	"report-worker-reservation-expired",
	"report-worker-reservation-no-show",
	"report-worker-payment-captured",
	"report-worker-payment-charged",
	"report-worker-payment-refunded",
	"report-worker-invoice-issued",
	"report-worker-vehicle-created",
	"report-worker-vehicle-updated",
	"report-worker-vehicle-status-changed",
	"report-worker-vehicle-moved",
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the reports schema: the raw log, the model, the frozen months, with the
// events package's inbox and outbox (report.frozen).
var Migrations = database.Migrations{Schema: "reports", FS: migrationFiles, Dir: "migrations",
	With: []database.Migrations{events.Migrations()}}

// Config is the function's configuration.
type Config struct {
	// MaxDays bounds the period of one on-demand report.
	MaxDays int `env:"REPORT_MAX_DAYS, default=731"`
}

// Service is report-worker.
type Service struct {
	db   *database.DB
	cfg  Config
	zone *time.Location
	now  func() time.Time
}

// New returns the service over deps.DB.
func New(_ context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	zone, err := time.LoadLocation(Zone)
	if err != nil {
		return nil, fmt.Errorf("time zone %s: %w", Zone, err)
	}
	if cfg.MaxDays == 0 {
		cfg.MaxDays = 731
	}
	if cfg.MaxDays < 31 || cfg.MaxDays > 3660 {
		return nil, fmt.Errorf("REPORT_MAX_DAYS must be from 31 to 3660, is %d", cfg.MaxDays)
	}
	return &Service{db: deps.DB, cfg: cfg, zone: zone, now: time.Now}, nil
}

// Function describes report-worker to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{Prefix},
		Migrations: &Migrations,
		New:        platform.Construct(New),
	}
}

// Routes is the route table: reports for admins and fleet managers, the rebuild for admins,
// and /cloudevents for report-worker's own Triggers and PingSource only.
func (s *Service) Routes() []platform.Route {
	readers := platform.Allow(platform.RoleFleet)
	senders := make([]platform.Sender, 0, len(TriggerNames)+1)
	for _, name := range TriggerNames {
		senders = append(senders, platform.Trigger(name))
	}
	senders = append(senders, platform.PingSource(PingSourceName))
	return []platform.Route{
		{Name: "getReport", Method: http.MethodGet, Path: Prefix, Access: readers, Handler: s.handleReport},
		{Name: "getMonthlyReport", Method: http.MethodGet, Path: Prefix + "/monthly/{month}", Access: readers, Handler: s.handleMonthly},
		{Name: "rebuildReports", Method: http.MethodPost, Path: Prefix + "/rebuild", Access: platform.Allow(), Handler: s.handleRebuild},
		{Name: "receiveEvent", Method: http.MethodPost, Path: events.ReceivePath, Access: platform.Deliveries(senders...),
			Handler: events.Receiver(s.db, Migrations.Schema, s.handleEvent)},
	}
}
