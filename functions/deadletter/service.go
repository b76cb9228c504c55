// Package deadletter is the Broker's dead-letter sink (Knative Service dead-letter): it
// stores every delivery the Triggers could not make, with Knative's error extensions and
// the Trigger it failed at, and lets admins list, inspect, replay and discard them under
// /api/dead-letters. A replay puts the original event — its own id, source, type, subject
// and data — back on the Broker through this function's outbox, so consumers that had
// processed it already find it in their inbox; every consumer of the type gets it again,
// not just the Trigger that failed. What it shows is redacted; customer.erased scrubs what
// it keeps. The decisions and their reasons are in docs/dead-letters.md.
package deadletter

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
)

// ServiceName is the Knative Service of this function.
const ServiceName = "dead-letter"

// Prefix is where the admin API is served, alone and in `orange dev`.
const Prefix = "/api/dead-letters"

// ErasedTrigger is the Trigger that delivers customer.erased to this function.
const ErasedTrigger = "dead-letter-customer-erased"

//go:embed openapi.json
var openAPIDocument []byte

// Config is dead-letter's own configuration.
type Config struct {
	// ReplayMax bounds how many letters one filtered replay sends.
	ReplayMax int `env:"DEAD_LETTER_REPLAY_MAX, default=100"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.ReplayMax < 1 || c.ReplayMax > 1000 {
		return errors.New("DEAD_LETTER_REPLAY_MAX must be between 1 and 1000")
	}
	return nil
}

// Service is the dead-letter store and its admin API.
type Service struct {
	db     *database.DB
	store  *Store
	keys   *idempotency.Keys
	cfg    Config
	logger *slog.Logger
}

// Function describes dead-letter to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{Prefix},
		Migrations: &Migrations,
		New:        platform.Construct(New),
	}
}

// New returns the store over deps.DB with a validated cfg.
func New(_ context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	if deps.DB == nil {
		return nil, errors.New("deadletter: a database is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{db: deps.DB, store: &Store{db: deps.DB}, keys: idempotency.New(deps.DB, Migrations.Schema), cfg: cfg, logger: logger}, nil
}

// Routes is the function's route table. The dead letters arrive at / (a Trigger's
// deadLetterSink names the Service without a path) from the listed Triggers only;
// customer.erased at /cloudevents from this function's own Trigger; the admin API is for
// admins only (platform.Allow with no role), its mutations idempotent with a key.
func (s *Service) Routes() []platform.Route {
	admins := platform.Allow()
	w := s.keys.Wrap
	return []platform.Route{
		{Name: "getOpenAPI", Method: http.MethodGet, Path: "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "getDeadLettersOpenAPI", Method: http.MethodGet, Path: Prefix + "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "receiveDeadLetter", Method: http.MethodPost, Path: "/", Access: deadLetterSenders(), Handler: s.handleDeadLetter},
		{Name: "receiveEvent", Method: http.MethodPost, Path: events.ReceivePath, Access: platform.Deliveries(platform.Trigger(ErasedTrigger)),
			Handler: events.Receiver(s.db, Migrations.Schema, s.handleEvent)},
		{Name: "listDeadLetters", Method: http.MethodGet, Path: Prefix, Access: admins, Handler: s.handleList},
		{Name: "replayDeadLetters", Method: http.MethodPost, Path: Prefix + "/replay", Access: admins, Handler: w(s.handleReplayMatching)},
		{Name: "getDeadLetter", Method: http.MethodGet, Path: Prefix + "/{id}", Access: admins, Handler: s.handleGet},
		{Name: "replayDeadLetter", Method: http.MethodPost, Path: Prefix + "/{id}/replay", Access: admins, Handler: w(s.handleReplay)},
		{Name: "discardDeadLetter", Method: http.MethodPost, Path: Prefix + "/{id}/discard", Access: admins, Handler: w(s.handleDiscard)},
	}
}
