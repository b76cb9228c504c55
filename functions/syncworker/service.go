// Package syncworker is sync-worker (issue 15), the Data Sync Worker: the system's events go
// out to partners as signed webhooks, and partners' CloudEvents come in.
//
// Outbound: admins subscribe partner endpoints to event types under /api/webhooks. Triggers
// deliver the subscribable types (Subscribable) to /cloudevents; each delivery is queued, in
// the same transaction as the inbox row, once per matching active subscription, and a
// background sender posts it signed per the Standard Webhooks specification, retrying with
// exponential backoff and jitter, disabling a subscription after repeated failures, never
// following a redirect and never connecting to a non-public address (ssrf.go).
//
// Inbound: partners (OAuth clients with the partner role) POST CloudEvents of the inbound
// types to /api/events in binary, structured or batched mode; each is validated against the
// published JSON Schema of its type, deduplicated by (source, id) per partner and published
// through this function's outbox with a partner-scoped source.
//
// The decisions and their reasons are in docs/webhooks.md and docs/inbound-events.md.
package syncworker

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
)

// ServiceName is the Knative Service of this function.
const ServiceName = "sync-worker"

// The public prefixes: the admin API of webhooks and partners, and the inbound events.
const (
	WebhooksPrefix = "/api/webhooks"
	PartnersPrefix = "/api/partners"
	EventsPath     = "/api/events"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the sync schema: subscriptions, deliveries and attempts, partners and their
// inbound events; the outbox inbound events leave through, the inbox of the Triggers'
// deliveries, idempotency keys.
var Migrations = database.Migrations{Schema: "sync", FS: migrationFiles, Dir: "migrations",
	With: []database.Migrations{events.Migrations(), idempotency.Migrations()}}

// Config is sync-worker's own configuration (docs/webhooks.md explains each value).
type Config struct {
	// AllowLoopback admits loopback endpoints (and plain http to them): `orange dev` and tests
	// only. Private, link-local and the other non-public ranges stay refused.
	AllowLoopback bool `env:"SYNC_ALLOW_LOOPBACK, default=false"`
	// Concurrency bounds the webhook requests in flight.
	Concurrency int `env:"SYNC_CONCURRENCY, default=8"`
	// Timeout bounds one webhook request, connect to last byte.
	Timeout time.Duration `env:"SYNC_TIMEOUT, default=10s"`
	// MaxAttempts is how many attempts a delivery gets before it fails for good.
	MaxAttempts int `env:"SYNC_MAX_ATTEMPTS, default=8"`
	// RetryBase is the wait after the first failed attempt; it doubles per attempt, up to
	// RetryMax, and each wait is drawn from its upper half (jitter).
	RetryBase time.Duration `env:"SYNC_RETRY_BASE, default=30s"`
	RetryMax  time.Duration `env:"SYNC_RETRY_MAX, default=2h"`
	// DisableAfter failed attempts in a row (across deliveries), the first of them at least
	// DisableFailing ago, disable a subscription: a burst of events during a short outage
	// reaches the count but not the time.
	DisableAfter   int           `env:"SYNC_DISABLE_AFTER, default=40"`
	DisableFailing time.Duration `env:"SYNC_DISABLE_FAILING, default=12h"`
	// Poll is how often the sender looks for due deliveries.
	Poll time.Duration `env:"SYNC_POLL, default=1s"`
	// MaxBatch is the most events one batched request may hold.
	MaxBatch int `env:"SYNC_MAX_BATCH, default=100"`
	// SeedPartners are partners (client ids, comma-separated) created at start, if absent,
	// allowed every inbound type: `orange dev` seeds its dev partner so.
	SeedPartners []string `env:"SYNC_SEED_PARTNERS"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Concurrency < 1 || c.Concurrency > 256:
		return errors.New("SYNC_CONCURRENCY must be from 1 to 256")
	case c.Timeout <= 0 || c.Timeout > time.Minute:
		return errors.New("SYNC_TIMEOUT must be positive and at most 1m")
	case c.MaxAttempts < 1 || c.MaxAttempts > 30:
		return errors.New("SYNC_MAX_ATTEMPTS must be from 1 to 30")
	case c.RetryBase <= 0 || c.RetryMax < c.RetryBase || c.RetryMax > 24*time.Hour:
		return errors.New("SYNC_RETRY_BASE must be positive and SYNC_RETRY_MAX from it to 24h")
	case c.DisableAfter < 1:
		return errors.New("SYNC_DISABLE_AFTER must be at least 1")
	case c.DisableFailing < 0:
		return errors.New("SYNC_DISABLE_FAILING must not be negative")
	case c.Poll <= 0:
		return errors.New("SYNC_POLL must be positive")
	case c.MaxBatch < 1 || c.MaxBatch > 1000:
		return errors.New("SYNC_MAX_BATCH must be from 1 to 1000")
	}
	return nil
}

// Service is sync-worker.
type Service struct {
	db     *database.DB
	cfg    Config
	keys   *idempotency.Keys
	logger *slog.Logger
	client *http.Client // the webhook client: guarded dialer, no redirects, no proxy
	guard  *Guard
	now    func() time.Time
}

// Function describes sync-worker to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{WebhooksPrefix, PartnersPrefix, EventsPath},
		Migrations: &Migrations,
		New:        platform.Construct(New),
	}
}

// New returns sync-worker over deps.DB with a validated cfg; it seeds cfg.SeedPartners.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	if deps.DB == nil {
		return nil, errors.New("syncworker: a database is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	guard := &Guard{AllowLoopback: cfg.AllowLoopback}
	s := &Service{db: deps.DB, cfg: cfg, keys: idempotency.New(deps.DB, Migrations.Schema), logger: logger,
		guard: guard, client: guard.Client(cfg.Timeout), now: time.Now}
	for _, p := range cfg.SeedPartners {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, err := deps.DB.Pool.Exec(ctx, `INSERT INTO sync.partners (client_id, types) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			p, inboundTypes()); err != nil {
			return nil, fmt.Errorf("seed partner %s: %w", p, err)
		}
	}
	return s, nil
}

// Routes is the function's route table. The admin API is for admins only; /api/events for
// partners (admins are refused there by the handler: they are no partner); /cloudevents for
// the Triggers of the subscribable types only.
func (s *Service) Routes() []platform.Route {
	admins := platform.Allow()
	w := s.keys.Wrap
	sub := WebhooksPrefix + "/{id}"
	return []platform.Route{
		{Name: "receiveEvent", Method: http.MethodPost, Path: events.ReceivePath, Access: platform.Deliveries(triggerSenders()...),
			Handler: events.Receiver(s.db, Migrations.Schema, s.handleEvent, events.Unwanted(s.unsubscribed))},
		{Name: "listWebhooks", Method: http.MethodGet, Path: WebhooksPrefix, Access: admins, Handler: s.handleList},
		// Not under an Idempotency-Key: its answer holds the secret, which the key store would
		// keep, replayable, for a day (docs/webhooks.md).
		{Name: "createWebhook", Method: http.MethodPost, Path: WebhooksPrefix, Access: admins, Handler: s.handleCreate},
		{Name: "getWebhook", Method: http.MethodGet, Path: sub, Access: admins, Handler: s.handleGet},
		{Name: "updateWebhook", Method: http.MethodPatch, Path: sub, Access: admins, Handler: s.handleUpdate},
		{Name: "deleteWebhook", Method: http.MethodDelete, Path: sub, Access: admins, Handler: s.handleDelete},
		{Name: "listWebhookDeliveries", Method: http.MethodGet, Path: sub + "/deliveries", Access: admins, Handler: s.handleDeliveries},
		{Name: "getWebhookDelivery", Method: http.MethodGet, Path: sub + "/deliveries/{delivery}", Access: admins, Handler: s.handleDelivery},
		{Name: "replayWebhookDelivery", Method: http.MethodPost, Path: sub + "/deliveries/{delivery}/replay", Access: admins, Handler: w(s.handleReplay)},
		{Name: "listPartners", Method: http.MethodGet, Path: PartnersPrefix, Access: admins, Handler: s.handleListPartners},
		{Name: "putPartner", Method: http.MethodPut, Path: PartnersPrefix + "/{client}", Access: admins, Handler: s.handlePutPartner},
		{Name: "deletePartner", Method: http.MethodDelete, Path: PartnersPrefix + "/{client}", Access: admins, Handler: s.handleDeletePartner},
		{Name: "postEvents", Method: http.MethodPost, Path: EventsPath, Access: platform.Allow(platform.RolePartner), Handler: s.handleInbound},
	}
}
