package deadletter

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// replayableSQL is what a filtered replay may send: our own event types with JSON data and
// a UUID id (what an outbox holds), not discarded.
const replayableSQL = `status <> 'discarded' AND data IS NOT NULL AND type = ANY($%d)
AND event_id ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'`

// Replay puts letter id's event into the outbox and marks the letter replayed by whom, in
// one transaction: a crash leaves both or neither.
func (s *Store) Replay(ctx context.Context, id, by string) (*Letter, error) {
	var out *Letter
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		l, err := scanLetter(tx.QueryRow(ctx, `SELECT `+letterColumns+` FROM deadletter.letters WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return platform.NotFound("no dead letter with id %s", id)
		}
		if err != nil {
			return err
		}
		if err := replayable(l); err != nil {
			return err
		}
		out, err = s.replay(ctx, tx, l, by)
		return err
	})
	return out, err
}

// ReplayMatching replays up to max letters f matches (f.Status empty: the stored ones),
// oldest first, in one transaction, and reports how many it replayed and whether more
// match. Letters another replay holds are skipped, not waited for.
func (s *Store) ReplayMatching(ctx context.Context, f Filter, max int, by string) (replayed int, more bool, err error) {
	if f.Status == "" {
		f.Status = StatusStored
	}
	where, args := f.where()
	args = append(args, replayableTypes())
	cond := where + " AND " + fmt.Sprintf(replayableSQL, len(args))
	args = append(args, max+1)
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT %s FROM deadletter.letters WHERE %s ORDER BY received_at, id LIMIT $%d FOR UPDATE SKIP LOCKED`,
			letterColumns, cond, len(args)), args...)
		if err != nil {
			return err
		}
		var batch []*Letter
		for rows.Next() {
			l, err := scanLetter(rows)
			if err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) > max {
			batch, more = batch[:max], true
		}
		for _, l := range batch {
			if _, err := s.replay(ctx, tx, l, by); err != nil {
				return err
			}
		}
		replayed = len(batch)
		return nil
	})
	return replayed, more, err
}

// replay records l's event for the Broker again — its own id, source, type, subject, time
// and data; none of Knative's error extensions — and marks l replayed.
func (s *Store) replay(ctx context.Context, tx pgx.Tx, l *Letter, by string) (*Letter, error) {
	e := l.event()
	if err := events.RecordReplay(ctx, tx, Migrations.Schema, e); err != nil {
		if errors.Is(err, events.ErrIDTaken) {
			return nil, platform.Conflict("dead letter %s cannot be replayed: another event has its id", l.ID).WithCode("dead_letter_not_replayable")
		}
		return nil, err
	}
	return scanLetter(tx.QueryRow(ctx, `UPDATE deadletter.letters SET status = 'replayed', replay_count = replay_count + 1,
    replayed_at = now(), replayed_by = $2 WHERE id = $1 RETURNING `+letterColumns, l.ID, by))
}
