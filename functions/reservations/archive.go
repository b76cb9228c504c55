package reservations

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
)

// The archive (migration 0008, docs/cleanup.md): cleanup-worker has bookings that finished
// long ago moved out of the live table in small batches. Which bookings are finished is
// reservations' rule (the states no transition leaves, in archiveSQL and in the index
// reservations_finished_idx); how long they stay live is cleanup's retention,
// sent as FinishedBefore, with a floor here (MinArchiveAge) so a mistaken setting cannot
// archive what a counter or a payment may still touch. An archived booking reads as before
// by id (Store.Get falls back to the archive) for whoever could read it; it no longer shows
// in searches, and every transition on it is a 409 like on any finished booking.

// MinArchiveAge is how long a booking stays live at least after it finished, whatever the
// caller asks (reservationsapi.MinArchiveAge).
const MinArchiveAge = reservationsapi.MinArchiveAge

// finishedAt is when a finished booking finished: completed_at for a completed one,
// cancelled_at for one cancelled, expired or marked no-show (transitionSQL sets them).
// reservations_finished_idx (migration 0008) indexes it.
const finishedAt = `coalesce(completed_at, cancelled_at, updated_at)`

// columnsSQL lists the columns of the live table and of the archive, in their order.
const columnsSQL = `SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position)
FROM information_schema.columns
WHERE table_schema = 'reservations' AND table_name IN ('reservations', 'archived_reservations')
GROUP BY table_name`

// unarchivedColumn is the live table's column the archive does not keep: the generated
// period, which only the exclusion constraint needs (nothing is booked in the archive).
const unarchivedColumn = "period"

// archiveSQL moves a batch of bookings finished before $1 in one statement — deleted from
// the live table and inserted into the archive, or neither — skipping rows another
// transaction holds (a second archiver, an erasure, a late event). %s is the column list.
const archiveSQL = `WITH picked AS MATERIALIZED (
	SELECT id FROM reservations.reservations
	WHERE status IN ('completed', 'cancelled', 'expired', 'no_show') AND ` + finishedAt + ` < $1
	ORDER BY ` + finishedAt + ` LIMIT $2 FOR UPDATE SKIP LOCKED
), moved AS (
	DELETE FROM reservations.reservations WHERE id IN (SELECT id FROM picked)
	RETURNING *)
INSERT INTO reservations.archived_reservations (%[1]s) SELECT %[1]s FROM moved`

// getArchivedSQL reads an archived booking as getSQL reads a live one.
const getArchivedSQL = `SELECT ` + selectColumns + ` FROM reservations.archived_reservations WHERE id = $1`

// batchLimit is a housekeeping request's limit: 0 is the default, else 1 to MaxBatch.
func batchLimit(limit int, errs *platform.FieldErrors) int {
	switch {
	case limit == 0:
		return reservationsapi.DefaultBatch
	case limit < 0 || limit > reservationsapi.MaxBatch:
		errs.Add("limit", fmt.Sprintf("from 1 to %d (default %d)", reservationsapi.MaxBatch, reservationsapi.DefaultBatch))
	}
	return limit
}

// Archive moves at most in.Limit bookings that finished before in.FinishedBefore into the
// archive, in one short transaction, and says whether the batch was full.
func (s *Service) Archive(ctx context.Context, in reservationsapi.ArchiveRequest) (reservationsapi.Archived, error) {
	var errs platform.FieldErrors
	limit := batchLimit(in.Limit, &errs)
	switch latest := s.now().Add(-MinArchiveAge); {
	case in.FinishedBefore.IsZero():
		errs.Add("finishedBefore", "required: an RFC 3339 instant; bookings finished before it are archived")
	case in.FinishedBefore.After(latest):
		errs.Add("finishedBefore", fmt.Sprintf("at least %s ago: bookings stay live at least that long after they finish", MinArchiveAge))
	}
	if len(errs) > 0 {
		return reservationsapi.Archived{}, platform.Invalid("the archive request is invalid", errs...)
	}
	n, err := s.store.archive(ctx, in.FinishedBefore, limit)
	if err != nil {
		return reservationsapi.Archived{}, err
	}
	return reservationsapi.Archived{Archived: n, More: n == limit}, nil
}

// archive is Archive's move: one short transaction (a bounded lock wait).
func (s *Store) archive(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int
	err := s.db.InShortTx(ctx, func(tx pgx.Tx) error {
		columns, err := archiveColumns(ctx, tx)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(archiveSQL, columns), before, limit)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}

// archiveColumns is the column list the move copies: every column of the live table, read
// from the schema rather than kept in Go. A live column the archive lacks (a migration that
// added it to one table only) stops the move before it loses the column's values.
func archiveColumns(ctx context.Context, tx pgx.Tx) (string, error) {
	rows, err := tx.Query(ctx, columnsSQL)
	if err != nil {
		return "", err
	}
	tables := map[string][]string{}
	var table string
	var columns []string
	if _, err := pgx.ForEachRow(rows, []any{&table, &columns}, func() error {
		tables[table] = columns
		return nil
	}); err != nil {
		return "", err
	}
	var shared []string
	for _, c := range tables["reservations"] {
		if c == unarchivedColumn {
			continue
		}
		if !slices.Contains(tables["archived_reservations"], c) {
			return "", fmt.Errorf("reservations.archived_reservations lacks column %s of reservations.reservations: a migration must add it there too", c)
		}
		shared = append(shared, pgx.Identifier{c}.Sanitize())
	}
	if len(shared) == 0 {
		return "", errors.New("reservations.reservations has no columns")
	}
	return strings.Join(shared, ", "), nil
}

// scrubArchive is the erasure of customerID's archived bookings inside tx (eraseCustomer).
func scrubArchive(ctx context.Context, tx pgx.Tx, customerID string) (int64, error) {
	tag, err := tx.Exec(ctx, scrubArchiveSQL, customerID, systemReasons, ReasonErased)
	return tag.RowsAffected(), err
}
