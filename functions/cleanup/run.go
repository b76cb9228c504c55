package cleanup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/idempotency"
)

// The steps of a run, in order, as they are named in a run's counts.
const (
	StepNoShows     = "noShows"
	StepArchive     = "archive"
	StepOutbox      = "outbox"
	StepInbox       = "inbox"
	StepIdempotency = "idempotencyKeys"
	StepMail        = "mail"
)

// maxCalls bounds the batches one run asks reservations-api for, per step: a run ends even
// if something keeps answering "more" (the next night goes on).
const maxCalls = 200

// noShowBatch bounds one no-show call below CLEANUP_BATCH: reservations-api asks pricing-api
// for each due booking's fee, one call after another, and the whole batch must end within
// CLEANUP_CALL_TIMEOUT.
const noShowBatch = reservationsapi.DefaultBatch

// Outcome is what handling a ping did: the run it recorded, or why it did not run.
type Outcome struct {
	// Skipped says why nothing ran: another run in progress, or tonight's run done.
	Skipped string `json:"skipped,omitempty"`
	Run     *Run   `json:"run,omitempty"`
}

// Start runs the housekeeping once for a ping with id eventID sent at sent, unless another
// run is in progress or — for a nightly run — the night's run exists. Step failures are
// recorded in the run (status failed), not returned; the error is for a run that could not
// be recorded at all.
func (s *Service) Start(ctx context.Context, trigger Trigger, eventID string, sent time.Time) (Outcome, error) {
	release, err := lock(ctx, s.db)
	if errors.Is(err, errBusy) {
		return Outcome{Skipped: errBusy.Error()}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	defer release()
	var night *time.Time
	if trigger == TriggerPing {
		n := sent.In(s.zone)
		night = &n
	}
	run, ok, err := claim(ctx, s.db, trigger, night, eventID)
	if err != nil {
		return Outcome{}, err
	}
	if !ok {
		return Outcome{Skipped: "the run of the night of " + *run.Night + " exists"}, nil
	}
	failures := s.steps(ctx, run.Counts)
	if err := finish(ctx, s.db, &run, failures); err != nil {
		return Outcome{}, err
	}
	logger := platform.LoggerFrom(ctx)
	logger.InfoContext(ctx, "cleanup run", slog.String("run", run.ID), slog.String("trigger", string(trigger)),
		slog.String("status", string(run.Status)), slog.Int64("durationMs", *run.DurationMs), slog.Any("counts", run.Counts))
	return Outcome{Run: &run}, nil
}

// steps runs every step into counts and returns the failures, one per failed step (or
// schema): a failing step does not keep the others from running.
func (s *Service) steps(ctx context.Context, counts Counts) []string {
	var failures []string
	fail := func(step, where string, err error) {
		// The errors are PostgreSQL's, the file system's or a problem reservations-api
		// answered: codes and names, never a row's content.
		failures = append(failures, fmt.Sprintf("%s %s: %v", step, where, err))
	}
	now := s.now()
	if err := s.noShows(ctx, counts); err != nil {
		fail(StepNoShows, reservationsapi.Service, err)
	}
	if err := s.archive(ctx, now.Add(-s.cfg.ArchiveAfter), counts); err != nil {
		fail(StepArchive, reservationsapi.Service, err)
	}
	prune := []struct {
		step    string
		schemas func() ([]string, error)
		prune   func(schema string) (int64, error)
	}{
		{StepOutbox, func() ([]string, error) { return events.OutboxSchemas(ctx, s.db) }, func(schema string) (int64, error) {
			return events.PruneOutbox(ctx, s.db, schema, now.Add(-s.cfg.OutboxRetention), s.cfg.Batch)
		}},
		{StepInbox, func() ([]string, error) { return events.InboxSchemas(ctx, s.db) }, func(schema string) (int64, error) {
			return events.PruneInbox(ctx, s.db, schema, now.Add(-s.cfg.InboxRetention), s.cfg.Batch)
		}},
		{StepIdempotency, func() ([]string, error) { return idempotency.Schemas(ctx, s.db) }, func(schema string) (int64, error) {
			return idempotency.Prune(ctx, s.db, schema, now, s.cfg.Batch)
		}},
	}
	for _, p := range prune {
		counts[p.step] = map[string]int64{}
		schemas, err := p.schemas()
		if err != nil {
			fail(p.step, "schemas", err)
			continue
		}
		for _, schema := range schemas {
			n, err := p.prune(schema)
			counts.add(p.step, schema, n)
			if err != nil {
				fail(p.step, schema, err)
			}
		}
	}
	for _, f := range []struct{ name, dir, suffix string }{{"MAIL_DIR", s.cfg.MailDir, ".eml"}, {"SMS_DIR", s.cfg.SMSDir, ".txt"}} {
		if f.dir == "" {
			continue
		}
		n, err := pruneFolder(f.dir, f.suffix, now.Add(-s.cfg.MailRetention))
		counts.add(StepMail, f.name, n)
		if err != nil {
			fail(StepMail, f.name, err)
		}
	}
	return failures
}

// noShows has reservations-api mark due no-shows, batch after batch, while it says more
// and still marks some.
func (s *Service) noShows(ctx context.Context, counts Counts) error {
	counts.add(StepNoShows, "reservations", 0)
	for range maxCalls {
		out, err := s.callReservations(ctx, func(ctx context.Context) (bool, int64, error) {
			n, err := s.reservations.MarkNoShows(ctx, reservationsapi.NoShowsRequest{Limit: min(s.cfg.Batch, noShowBatch)})
			return n.More && n.Marked > 0, int64(n.Marked), err
		})
		counts.add(StepNoShows, "reservations", out.n)
		if err != nil || !out.more {
			return err
		}
	}
	return nil
}

// archive has reservations-api archive the bookings finished before cutoff, batch after
// batch.
func (s *Service) archive(ctx context.Context, cutoff time.Time, counts Counts) error {
	counts.add(StepArchive, "reservations", 0)
	for range maxCalls {
		out, err := s.callReservations(ctx, func(ctx context.Context) (bool, int64, error) {
			a, err := s.reservations.Archive(ctx, reservationsapi.ArchiveRequest{FinishedBefore: cutoff, Limit: s.cfg.Batch})
			return a.More, int64(a.Archived), err
		})
		counts.add(StepArchive, "reservations", out.n)
		if err != nil || !out.more {
			return err
		}
	}
	return nil
}

type batchResult struct {
	more bool
	n    int64
}

// callReservations makes one call bounded by CallTimeout.
func (s *Service) callReservations(ctx context.Context, call func(ctx context.Context) (bool, int64, error)) (batchResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	more, n, err := call(ctx)
	return batchResult{more: more, n: n}, err
}
