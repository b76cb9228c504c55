package cleanup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform/database"
)

// Trigger says who started a run.
type Trigger string

// The triggers: the nightly schedule, or a ping sent by hand (`orange emit`).
const (
	TriggerPing   Trigger = "ping"
	TriggerManual Trigger = "manual"
)

// Status is how a run stands.
type Status string

// A run is running until it ends succeeded (every step did its work) or failed (a step
// failed; the others still ran). A run whose replica died is found running by the next
// run and marked failed.
const (
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
)

// Counts are a run's counts: per step, per schema (or folder), the rows or files it handled.
type Counts map[string]map[string]int64

// add records n for step in where.
func (c Counts) add(step, where string, n int64) {
	if c[step] == nil {
		c[step] = map[string]int64{}
	}
	c[step][where] += n
}

// Run is one recorded run, as GET /api/cleanup/runs answers it.
type Run struct {
	ID         string     `json:"id"`
	Trigger    Trigger    `json:"trigger"`
	Night      *string    `json:"night,omitempty"` // YYYY-MM-DD in Europe/Berlin, nightly runs only
	EventID    string     `json:"eventId"`
	Status     Status     `json:"status"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	DurationMs *int64     `json:"durationMs,omitempty"`
	Counts     Counts     `json:"counts"`
	Error      string     `json:"error,omitempty"`
}

// runLockSQL is the lock a run holds on its own connection for its whole length (session
// level, so it goes with the connection if the replica dies); pg_try: a second run does
// not wait, it leaves.
const (
	runLockSQL   = `SELECT pg_try_advisory_lock(hashtext('cleanup.run'))`
	runUnlockSQL = `SELECT pg_advisory_unlock(hashtext('cleanup.run'))`
)

// abandonSQL marks failed the runs left running: only the lock holder runs, so they died
// with their replica.
const abandonSQL = `UPDATE cleanup.runs SET status = 'failed', finished_at = now(),
	duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint, error = 'interrupted: its replica stopped mid-run'
WHERE status = 'running'`

// claimSQL records a new run; for a nightly run it records nothing when the night already
// has one running or succeeded (runs_one_per_night).
const claimSQL = `INSERT INTO cleanup.runs (trigger, night, event_id) VALUES ($1, $2, $3)
ON CONFLICT (night) WHERE trigger = 'ping' AND status <> 'failed' DO NOTHING
RETURNING id::text, started_at`

const finishSQL = `UPDATE cleanup.runs SET status = $2, finished_at = now(), duration_ms = $3, counts = $4, error = $5
WHERE id = $1`

const runColumns = `id::text, trigger, to_char(night, 'YYYY-MM-DD'), event_id, status, started_at, finished_at, duration_ms, counts, error`

// errBusy: another run holds the lock.
var errBusy = errors.New("another run is in progress")

// lock takes the run lock on a connection of its own and returns its release.
func lock(ctx context.Context, db *database.DB) (func(), error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	var got bool
	if err := conn.QueryRow(ctx, runLockSQL).Scan(&got); err != nil {
		conn.Release()
		return nil, err
	}
	if !got {
		conn.Release()
		return nil, errBusy
	}
	return func() {
		ctx := context.WithoutCancel(ctx)
		if _, err := conn.Exec(ctx, runUnlockSQL); err != nil {
			// A connection that cannot unlock must not go back to the pool holding the lock.
			_ = conn.Conn().Close(ctx)
		}
		conn.Release()
	}, nil
}

// claim records a run started by event id; ok is false when the night's run exists.
func claim(ctx context.Context, db *database.DB, trigger Trigger, night *time.Time, eventID string) (Run, bool, error) {
	run := Run{Trigger: trigger, EventID: eventID, Status: StatusRunning, Counts: Counts{}}
	if _, err := db.Pool.Exec(ctx, abandonSQL); err != nil {
		return run, false, err
	}
	var nightArg any
	if night != nil {
		n := night.Format(time.DateOnly)
		run.Night, nightArg = &n, n
	}
	err := db.Pool.QueryRow(ctx, claimSQL, string(trigger), nightArg, eventID).Scan(&run.ID, &run.StartedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return run, false, nil
	}
	return run, err == nil, err
}

// finish records how run ended.
func finish(ctx context.Context, db *database.DB, run *Run, failures []string) error {
	run.Status = StatusSucceeded
	if len(failures) > 0 {
		run.Status = StatusFailed
		run.Error = truncate(strings.Join(failures, "; "), 4000)
	}
	ms := max(time.Since(run.StartedAt).Milliseconds(), 0)
	run.DurationMs = &ms
	now := time.Now()
	run.FinishedAt = &now
	_, err := db.Pool.Exec(context.WithoutCancel(ctx), finishSQL, run.ID, string(run.Status), ms, run.Counts, run.Error)
	return err
}

// listRuns returns a page of runs, newest first, and the total.
func listRuns(ctx context.Context, db *database.DB, page, size int) ([]Run, int, error) {
	var total int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM cleanup.runs`).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Pool.Query(ctx, `SELECT `+runColumns+` FROM cleanup.runs ORDER BY started_at DESC, id LIMIT $1 OFFSET $2`,
		size, (page-1)*size)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Run, error) {
		var r Run
		err := row.Scan(&r.ID, &r.Trigger, &r.Night, &r.EventID, &r.Status, &r.StartedAt, &r.FinishedAt, &r.DurationMs, &r.Counts, &r.Error)
		return r, err
	})
	if out == nil {
		out = []Run{}
	}
	return out, total, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s…", strings.ToValidUTF8(s[:n-3], ""))
}
