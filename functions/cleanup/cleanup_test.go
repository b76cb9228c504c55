package cleanup_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/cleanup"
	"github.com/orangecarrental/orange/platform"
)

const day = 24 * time.Hour

// fixtures are the rows and files one run has to handle, each retention's boundary from
// both sides: one second outside (goes), one second inside (stays).
type fixtures struct {
	noShow, notYetNoShow, archived, live, invoice string
}

// seed writes the fixtures with the default retentions (outbox 7 d, inbox 30 d, archive
// 90 d, mail 14 d, no-show grace 3 h) in reservations' and payments' schemas.
func (w *world) seed() fixtures {
	w.t.Helper()
	now := w.now
	for _, schema := range []string{"reservations", "payments"} {
		for subject, published := range map[string]any{"old": now.Add(-7*day - time.Second), "young": now.Add(-7*day + time.Second), "pending": nil} {
			w.exec(`INSERT INTO `+schema+`.outbox (id, type, source, subject, time, data, published_at)
				VALUES (gen_random_uuid(), 't', 's', $1, $2, '{}', $3)`, subject, now.Add(-60*day), published)
		}
		for id, received := range map[string]time.Time{"old": now.Add(-30*day - time.Second), "young": now.Add(-30*day + time.Second)} {
			w.exec(`INSERT INTO `+schema+`.inbox (source, id, type, received_at) VALUES ('s', $1, 't', $2)`, id, received)
		}
		for key, expires := range map[string]time.Time{"expired": now.Add(-time.Second), "live": now.Add(time.Second)} {
			w.exec(`INSERT INTO `+schema+`.idempotency_keys (scope, key, request_hash, status, locked_until, expires_at)
				VALUES ('sub:x', $1, '\x00', 201, $2, $2)`, key, expires)
		}
	}
	smsDir := filepath.Join(filepath.Dir(w.mailDir), "sms")
	require.NoError(w.t, os.MkdirAll(smsDir, 0o755))
	for name, age := range map[string]time.Duration{"old.eml": 14*day + time.Second, "young.eml": 14*day - time.Second, "notes.txt": 30 * day,
		"sms/old.txt": 14*day + time.Second, "sms/young.txt": 14*day - time.Second, "sms/notes.eml": 30 * day} {
		path := filepath.Join(w.mailDir, name)
		if dir, file, ok := strings.Cut(name, "/"); ok {
			path = filepath.Join(filepath.Dir(w.mailDir), dir, file)
		}
		require.NoError(w.t, os.WriteFile(path, []byte("Subject: x\r\n\r\nx"), 0o644))
		require.NoError(w.t, os.Chtimes(path, now.Add(-age), now.Add(-age)))
	}
	insert := func(status string, pickup time.Time, finished *time.Time) string {
		w.t.Helper()
		var id string
		require.NoError(w.t, w.db.Pool.QueryRow(w.t.Context(), `INSERT INTO reservations.reservations (customer_id, vehicle_id, category,
			pickup_location, return_location, pickup_at, return_at, status, total_gross_cents, completed_at)
			VALUES (gen_random_uuid(), gen_random_uuid(), 'KOMPAKT', 'BER-HBF', 'BER-HBF', $1, $2, $3, 14276, $4) RETURNING id::text`,
			pickup, pickup.Add(48*time.Hour), status, finished).Scan(&id))
		return id
	}
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	real := time.Now() // reservations-api's own clock decides the no-shows
	f := fixtures{
		noShow:       insert("confirmed", real.Add(-4*time.Hour), nil),
		notYetNoShow: insert("confirmed", real.Add(-time.Hour), nil),
		archived:     insert("completed", now.Add(-95*day), at(-90*day-time.Second)),
		live:         insert("completed", now.Add(-95*day), at(-90*day+time.Second)),
	}
	// The rental's invoice: payments' bookkeeping, kept ten years, never cleanup's.
	require.NoError(w.t, w.db.Pool.QueryRow(w.t.Context(), `INSERT INTO payments.invoices (number, year, seq, reservation_id,
		customer_id, net_cents, vat_cents, gross_cents, issued_at) VALUES ('OCR-2026-000001', 2026, 1, $1, gen_random_uuid(), 11997, 2279, 14276, $2)
		RETURNING id::text`, f.archived, now.Add(-90*day-time.Hour)).Scan(&f.invoice))
	w.exec(`INSERT INTO payments.invoice_lines (invoice_id, position, code, description, quantity, per, unit_net_cents, net_cents)
		VALUES ($1, 1, 'RENTAL', 'Rental KOMPAKT', 3, 'day', 3999, 11997)`, f.invoice)
	return f
}

// expected are the counts of a run over seed's fixtures.
var expected = cleanup.Counts{
	cleanup.StepNoShows:     {"reservations": 1},
	cleanup.StepArchive:     {"reservations": 1},
	cleanup.StepOutbox:      {"payments": 1, "reservations": 1},
	cleanup.StepInbox:       {"payments": 1, "reservations": 1},
	cleanup.StepIdempotency: {"payments": 1, "reservations": 1},
	cleanup.StepMail:        {"MAIL_DIR": 1, "SMS_DIR": 1},
}

// checkCleaned asserts what one run leaves of the fixtures.
func (w *world) checkCleaned(f fixtures) {
	t := w.t
	t.Helper()
	for _, schema := range []string{"reservations", "payments"} {
		assert.Equal(t, 0, w.count(`SELECT count(*) FROM `+schema+`.outbox WHERE subject = 'old'`), schema)
		assert.Equal(t, 2, w.count(`SELECT count(*) FROM `+schema+`.outbox WHERE subject IN ('young', 'pending')`), schema)
		assert.Equal(t, 1, w.count(`SELECT count(*) FROM `+schema+`.inbox`), schema)
		assert.Equal(t, 1, w.count(`SELECT count(*) FROM `+schema+`.inbox WHERE id = 'young'`), schema)
		assert.Equal(t, 1, w.count(`SELECT count(*) FROM `+schema+`.idempotency_keys WHERE key = 'live'`), schema)
		assert.Equal(t, 1, w.count(`SELECT count(*) FROM `+schema+`.idempotency_keys`), schema)
	}
	var files []string
	entries, err := os.ReadDir(w.mailDir)
	require.NoError(t, err)
	for _, e := range entries {
		files = append(files, e.Name())
	}
	assert.Equal(t, []string{"notes.txt", "young.eml"}, files)
	files = nil
	entries, err = os.ReadDir(filepath.Join(filepath.Dir(w.mailDir), "sms"))
	require.NoError(t, err)
	for _, e := range entries {
		files = append(files, e.Name())
	}
	assert.Equal(t, []string{"notes.eml", "young.txt"}, files)
	status := func(id string) string {
		var s string
		require.NoError(t, w.db.Pool.QueryRow(t.Context(), `SELECT status FROM reservations.reservations WHERE id = $1`, id).Scan(&s))
		return s
	}
	assert.Equal(t, "no_show", status(f.noShow))
	assert.Equal(t, "confirmed", status(f.notYetNoShow))
	assert.Equal(t, "completed", status(f.live))
	assert.Equal(t, 1, w.count(`SELECT count(*) FROM reservations.archived_reservations WHERE id = $1`, f.archived))
	assert.Equal(t, 1, w.count(`SELECT count(*) FROM reservations.outbox WHERE type = 'com.orangecarrental.reservation.no_show.v1'`),
		"one no-show event, never two")
}

// TestNightlyRun: a nightly ping runs every step at its boundaries, records the run with
// its counts, leaves the invoices as they were, and the archived booking still reads for
// an agent; a second ping the same night does nothing; a manual ping runs again and finds
// nothing left to do.
func TestNightlyRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	f := w.seed()
	invoices := w.dump("payments.invoices") + w.dump("payments.invoice_lines")
	h := w.replica(cleanup.Config{})

	r := w.ping(h, nightly, "ping-1", true)
	require.Equal(t, http.StatusOK, r.status, r.String())
	out := decode[cleanup.Outcome](t, r)
	require.NotNil(t, out.Run, r.String())
	assert.Equal(t, cleanup.StatusSucceeded, out.Run.Status, out.Run.Error)
	assert.Equal(t, cleanup.TriggerPing, out.Run.Trigger)
	assert.Equal(t, expected, out.Run.Counts)
	w.checkCleaned(f)
	assert.Equal(t, invoices, w.dump("payments.invoices")+w.dump("payments.invoice_lines"), "invoices are never touched")

	got := w.get(w.reserve, "carla", "/api/reservations/"+f.archived)
	require.Equal(t, http.StatusOK, got.status, got.String())
	assert.Contains(t, string(got.body), `"status":"completed"`)

	again := decode[cleanup.Outcome](t, w.ping(h, nightly, "ping-2", true))
	assert.Nil(t, again.Run)
	assert.Contains(t, again.Skipped, "exists")

	manual := decode[cleanup.Outcome](t, w.ping(h, nightly, "manual-1", false))
	require.NotNil(t, manual.Run)
	assert.Equal(t, cleanup.TriggerManual, manual.Run.Trigger)
	assert.Equal(t, cleanup.StatusSucceeded, manual.Run.Status, manual.Run.Error)
	for step, where := range manual.Run.Counts {
		for k, n := range where {
			assert.Zero(t, n, "%s %s: a second run finds nothing", step, k)
		}
	}
	w.checkCleaned(f)

	list := decode[cleanup.RunList](t, w.get(h, "ada", "/api/cleanup/runs"))
	require.Len(t, list.Items, 2)
	assert.Equal(t, 2, list.Total)
	assert.Equal(t, cleanup.TriggerManual, list.Items[0].Trigger, "newest first")
	assert.Equal(t, expected, list.Items[1].Counts)
	require.NotNil(t, list.Items[1].Night)
	assert.Equal(t, w.now.In(berlin(t)).Format(time.DateOnly), *list.Items[1].Night)
	assert.NotNil(t, list.Items[1].DurationMs)
}

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation(cleanup.Zone)
	require.NoError(t, err)
	return loc
}

// TestConcurrentRuns: two replicas woken at once — the same night's ping delivered twice,
// and a manual ping besides — leave the data as one run would: every count once, one
// no-show event, one nightly run recorded.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	f := w.seed()
	replicas := []http.Handler{w.replica(cleanup.Config{}), w.replica(cleanup.Config{}), w.replica(cleanup.Config{})}
	outcomes := make([]cleanup.Outcome, len(replicas))
	var wg sync.WaitGroup
	for i, h := range replicas {
		wg.Go(func() {
			r := w.ping(h, nightly, []string{"ping-a", "ping-b", "manual"}[i], i < 2)
			if assert.Equal(t, http.StatusOK, r.status, r.String()) {
				outcomes[i] = decode[cleanup.Outcome](t, r)
			}
		})
	}
	wg.Wait()
	total := cleanup.Counts{}
	ran := 0
	for _, o := range outcomes {
		if o.Run == nil {
			assert.NotEmpty(t, o.Skipped)
			continue
		}
		ran++
		assert.Equal(t, cleanup.StatusSucceeded, o.Run.Status, o.Run.Error)
		for step, where := range o.Run.Counts {
			for k, n := range where {
				if total[step] == nil {
					total[step] = map[string]int64{}
				}
				total[step][k] += n
			}
		}
	}
	assert.GreaterOrEqual(t, ran, 1)
	assert.Equal(t, expected, total, "together the runs did each thing once")
	w.checkCleaned(f)
	assert.LessOrEqual(t, w.count(`SELECT count(*) FROM cleanup.runs WHERE trigger = 'ping'`), 1, "one nightly run per night")
	assert.Zero(t, w.count(`SELECT count(*) FROM cleanup.runs WHERE status = 'running'`))
}

// TestFailedStepDoesNotStopTheRun: with reservations-api unreachable, the run still prunes,
// and ends failed, saying which steps failed; a run whose replica died mid-run is marked
// failed by the next, which takes the night over.
func TestFailedStepDoesNotStopTheRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	f := w.seed()
	w.exec(`INSERT INTO cleanup.runs (trigger, night, event_id, started_at) VALUES ('ping', $1, 'died', now() - interval '1 hour')`,
		w.now.In(berlin(t)).Format(time.DateOnly))
	w.transport.Mount("reservations-api", http.NotFoundHandler())
	h := w.replica(cleanup.Config{CallTimeout: 2 * time.Second})
	out := decode[cleanup.Outcome](t, w.ping(h, nightly, "ping-1", true))
	require.NotNil(t, out.Run, "the dead run does not hold the night")
	assert.Equal(t, cleanup.StatusFailed, out.Run.Status)
	assert.Contains(t, out.Run.Error, "noShows reservations-api")
	assert.Contains(t, out.Run.Error, "archive reservations-api")
	assert.Equal(t, expected[cleanup.StepOutbox], out.Run.Counts[cleanup.StepOutbox])
	assert.Equal(t, 1, w.count(`SELECT count(*) FROM cleanup.runs WHERE event_id = 'died' AND status = 'failed' AND error LIKE 'interrupted%'`))
	assert.Equal(t, 0, w.count(`SELECT count(*) FROM reservations.archived_reservations WHERE id = $1`, f.archived))

	// The failed night is the next ping's to run.
	w.transport.Mount("reservations-api", w.reserve)
	again := decode[cleanup.Outcome](t, w.ping(h, nightly, "ping-2", true))
	require.NotNil(t, again.Run, again.Skipped)
	assert.Equal(t, cleanup.StatusSucceeded, again.Run.Status, again.Run.Error)
	w.checkCleaned(f)
}

// TestAccess: the receiver admits its PingSource only, and pings only; the runs are the
// admins'.
func TestAccess(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	h := w.replica(cleanup.Config{})
	assert.Equal(t, http.StatusForbidden, w.ping(h, platform.PingSource("reservations-sweep"), "x", true).status)
	assert.Equal(t, http.StatusForbidden, w.ping(h, platform.Trigger("cleanup-nightly"), "x", true).status)
	for _, tt := range []struct {
		user   string
		status int
	}{{"", 401}, {"alice", 403}, {"carla", 403}, {"frank", 403}, {"service:reservations-api", 403}, {"ada", 200}} {
		assert.Equal(t, tt.status, w.get(h, tt.user, "/api/cleanup/runs").status, tt.user)
	}
	assert.Equal(t, http.StatusBadRequest, w.get(h, "ada", "/api/cleanup/runs?pageSize=1000").status)
	assert.Equal(t, http.StatusBadRequest, w.get(h, "ada", "/api/cleanup/runs?state=all").status)

	req := w.ping(h, nightly, "", true)
	assert.Equal(t, http.StatusBadRequest, req.status, "no id: not a CloudEvent")
	assert.Zero(t, w.count(`SELECT count(*) FROM cleanup.runs`), "a refused ping ran nothing")
}

// TestConfig holds the retentions to their floors.
func TestConfig(t *testing.T) {
	t.Parallel()
	ok := cleanup.Config{OutboxRetention: 7 * day, InboxRetention: 30 * day, ArchiveAfter: 90 * day, MailRetention: 14 * day,
		Batch: 500, RunTimeout: 8 * time.Minute, CallTimeout: 30 * time.Second}
	require.NoError(t, ok.Validate())
	for name, change := range map[string]func(c *cleanup.Config){
		"inbox under a week":     func(c *cleanup.Config) { c.InboxRetention = 6 * day },
		"outbox under an hour":   func(c *cleanup.Config) { c.OutboxRetention = time.Minute },
		"archive under a week":   func(c *cleanup.Config) { c.ArchiveAfter = day },
		"mail under an hour":     func(c *cleanup.Config) { c.MailRetention = 0 },
		"batch too big":          func(c *cleanup.Config) { c.Batch = 5000 },
		"run beyond the timeout": func(c *cleanup.Config) { c.RunTimeout = time.Hour },
	} {
		c := ok
		change(&c)
		assert.Error(t, c.Validate(), name)
	}
}
