// Package cleanup is cleanup-worker (design.md §1, issue 14): the housekeeping process type,
// woken every night at 03:30 Europe/Berlin by the PingSource cleanup-nightly (and on demand
// by any other ping of that PingSource: `orange emit`, docs/cleanup.md). A run
//
//   - has reservations-api mark the confirmed bookings nobody picked up as no-shows and move
//     long-finished bookings into its archive, through reservationsapi with this function's
//     own identity: the rules stay in reservations;
//   - prunes, in every schema that has them (found in information_schema, not listed),
//     published outbox rows and inbox rows past their retentions and expired idempotency
//     keys, through the events and idempotency packages, in small short transactions;
//   - deletes mail and SMS files older than their retention from MAIL_DIR and SMS_DIR when
//     set (the notifier's folders in `orange dev`);
//   - records itself in cleanup.runs: trigger, start, end, counts per step and schema,
//     outcome; admins list them at GET /api/cleanup/runs.
//
// Runs never overlap: a run holds a PostgreSQL advisory lock for its whole length, and a
// ping that finds it taken (a second replica, a retried delivery) answers 200 without
// running. A nightly run is claimed per night (the runs table's unique index), so a second
// ping the same night does nothing once one ran; every step is idempotent besides, so
// even a run repeated does no harm. Invoices (payments) are never touched: the German
// bookkeeping retention is ten years, and nothing here deletes from a table it does not
// name.
package cleanup

import (
	"context"
	"embed"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// ServiceName is the Knative Service of this function.
const ServiceName = "cleanup-worker"

// Prefix is where the runs are listed.
const Prefix = "/api/cleanup"

// PingSourceName is the PingSource that wakes the function (knative/base/cleanup-worker.yaml).
const PingSourceName = "cleanup-nightly"

// Zone is the PingSource's time zone: a nightly run belongs to the night of its date there.
const Zone = "Europe/Berlin"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the cleanup schema: the record of runs.
var Migrations = database.Migrations{Schema: "cleanup", FS: migrationFiles, Dir: "migrations"}

// Config is the function's configuration; the retentions are documented in docs/cleanup.md.
type Config struct {
	// OutboxRetention: published outbox rows older than this go.
	OutboxRetention time.Duration `env:"CLEANUP_OUTBOX_RETENTION, default=168h"`
	// InboxRetention: inbox rows older than this go. It must outlast every redelivery
	// (Trigger retries take seconds; a dead letter may be replayed days later).
	InboxRetention time.Duration `env:"CLEANUP_INBOX_RETENTION, default=720h"`
	// ArchiveAfter: bookings finished longer ago than this move to reservations' archive.
	ArchiveAfter time.Duration `env:"CLEANUP_ARCHIVE_AFTER, default=2160h"`
	// MailRetention: mail files in MailDir older than this go.
	MailRetention time.Duration `env:"CLEANUP_MAIL_RETENTION, default=336h"`
	// MailDir is the notifier's mail folder (`orange dev` sets it); empty: no mail step.
	MailDir string `env:"MAIL_DIR"`
	// SMSDir is the notifier's SMS folder; empty: "sms" beside MailDir, as the notifier has it.
	SMSDir string `env:"SMS_DIR"`
	// Batch is how many rows one short transaction deletes or moves.
	Batch int `env:"CLEANUP_BATCH, default=500"`
	// RunTimeout bounds a whole run (the Knative Service's timeoutSeconds is above it).
	RunTimeout time.Duration `env:"CLEANUP_RUN_TIMEOUT, default=8m"`
	// CallTimeout bounds each call to reservations-api.
	CallTimeout time.Duration `env:"CLEANUP_CALL_TIMEOUT, default=30s"`
}

// Floors of the retentions: below them a mistaken setting would delete what is still needed.
const (
	minOutboxRetention = time.Hour
	minInboxRetention  = 7 * 24 * time.Hour
	minArchiveAfter    = reservationsapi.MinArchiveAge // reservations refuses less
	minMailRetention   = time.Hour
)

// Validate checks the configuration.
func (c *Config) Validate() error {
	for _, r := range []struct {
		name       string
		value, min time.Duration
	}{
		{"CLEANUP_OUTBOX_RETENTION", c.OutboxRetention, minOutboxRetention},
		{"CLEANUP_INBOX_RETENTION", c.InboxRetention, minInboxRetention},
		{"CLEANUP_ARCHIVE_AFTER", c.ArchiveAfter, minArchiveAfter},
		{"CLEANUP_MAIL_RETENTION", c.MailRetention, minMailRetention},
	} {
		if r.value < r.min {
			return fmt.Errorf("%s must be at least %s, is %s", r.name, r.min, r.value)
		}
	}
	if c.Batch < 1 || c.Batch > reservationsapi.MaxBatch {
		return fmt.Errorf("CLEANUP_BATCH must be from 1 to %d, is %d", reservationsapi.MaxBatch, c.Batch)
	}
	if c.RunTimeout < time.Minute || c.RunTimeout > 9*time.Minute {
		return fmt.Errorf("CLEANUP_RUN_TIMEOUT must be from 1m to 9m (under the Service's timeoutSeconds 600), is %s", c.RunTimeout)
	}
	if c.CallTimeout <= 0 {
		return fmt.Errorf("CLEANUP_CALL_TIMEOUT must be positive, is %s", c.CallTimeout)
	}
	return nil
}

// Service is cleanup-worker.
type Service struct {
	db           *database.DB
	cfg          Config
	reservations *reservationsapi.Client
	zone         *time.Location
	now          func() time.Time
}

// New returns the service over deps.DB, calling reservations-api with deps.Client (the
// host's client, which authenticates each call as cleanup-worker). Settings left zero take
// their defaults.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	zone, err := time.LoadLocation(Zone)
	if err != nil {
		return nil, fmt.Errorf("time zone %s: %w", Zone, err)
	}
	defaults := Config{OutboxRetention: 7 * 24 * time.Hour, InboxRetention: 30 * 24 * time.Hour,
		ArchiveAfter: 90 * 24 * time.Hour, MailRetention: 14 * 24 * time.Hour, Batch: 500,
		RunTimeout: 8 * time.Minute, CallTimeout: 30 * time.Second}
	for _, d := range []struct{ v, def *time.Duration }{
		{&cfg.OutboxRetention, &defaults.OutboxRetention}, {&cfg.InboxRetention, &defaults.InboxRetention},
		{&cfg.ArchiveAfter, &defaults.ArchiveAfter}, {&cfg.MailRetention, &defaults.MailRetention},
		{&cfg.RunTimeout, &defaults.RunTimeout}, {&cfg.CallTimeout, &defaults.CallTimeout},
	} {
		if *d.v == 0 {
			*d.v = *d.def
		}
	}
	if cfg.Batch == 0 {
		cfg.Batch = defaults.Batch
	}
	if cfg.SMSDir == "" && cfg.MailDir != "" {
		cfg.SMSDir = filepath.Join(filepath.Dir(filepath.Clean(cfg.MailDir)), "sms")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Service{db: deps.DB, cfg: cfg, reservations: reservationsapi.NewClient(deps.Client), zone: zone, now: time.Now}, nil
}

// Function describes cleanup-worker to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{Prefix},
		Migrations: &Migrations,
		New:        platform.Construct(New),
	}
}

// Routes is the route table: the runs for admins, and /cloudevents for the PingSource's
// deliveries only.
func (s *Service) Routes() []platform.Route {
	return []platform.Route{
		{Name: "listCleanupRuns", Method: http.MethodGet, Path: Prefix + "/runs", Access: platform.Allow(), Handler: s.handleListRuns},
		{Name: "receivePing", Method: http.MethodPost, Path: events.ReceivePath,
			Access: platform.Deliveries(platform.PingSource(PingSourceName)), Handler: s.handlePing},
	}
}
