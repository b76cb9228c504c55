package reservations_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

// The cost of one booking in reservations' own database (issue 19), counted by a pgx tracer
// on the service's pool: every statement sent, and the commits — explicit COMMITs and the
// statements that write outside a transaction (each its own commit, each a WAL flush).
// Reads outside a transaction commit too, but write no WAL: counted apart.

// counter is a pgx.QueryTracer counting statements and commits.
type counter struct {
	mu         sync.Mutex
	inTx       map[*pgx.Conn]bool
	statements int
	trips      int // round trips: a statement alone, or a batch of them
	commits    int // writing commits: COMMIT, or a write outside a transaction
	reads      int // reads outside a transaction
}

func (c *counter) TraceQueryStart(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trips++
	c.statement(conn, d.SQL)
	return ctx
}

// statement counts one statement sent on conn, alone or in a pipeline.
func (c *counter) statement(conn *pgx.Conn, sql string) {
	c.statements++
	verb := strings.ToLower(strings.Fields(sql)[0])
	switch {
	case verb == "begin":
		c.inTx[conn] = true
	case verb == "commit":
		c.inTx[conn] = false
		c.commits++
	case verb == "rollback":
		c.inTx[conn] = false
	case c.inTx[conn]:
	case verb == "select":
		c.reads++
	default:
		c.commits++
	}
}

func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// The statements of a batch (a pipeline: one round trip) are counted one by one: the
// transaction's BEGIN goes with its first statements, its outbox row and key with its COMMIT
// (platform/database/tx.go).
func (c *counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trips++
	return ctx
}

func (c *counter) TraceBatchQuery(_ context.Context, conn *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statement(conn, d.SQL)
}

func (c *counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (c *counter) take() (statements, trips, commits, reads int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	statements, trips, commits, reads = c.statements, c.trips, c.commits, c.reads
	c.statements, c.trips, c.commits, c.reads = 0, 0, 0, 0
	return
}

// traced is a's reservations-api again, over a pool on the same database that counts what it
// sends; it calls the same customers-api, locations-api and fakes.
func traced(t testing.TB, a *api) (http.Handler, *counter) {
	c := &counter{inTx: map[*pgx.Conn]bool{}}
	cfg, err := pgxpool.ParseConfig(a.db.Pool.Config().ConnString())
	require.NoError(t, err)
	cfg.MaxConns = 16
	cfg.ConnConfig.Tracer = c
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	db := &database.DB{Pool: pool}
	t.Cleanup(db.Close) // its background pool too (the outbox's notifications)
	client := platform.ForwardingClient(a.transport, a.id.ServiceTokens(reservations.ServiceName), 5*time.Second)
	svc, err := reservations.New(context.Background(), reservations.Config{Hold: 15 * time.Minute}, platform.Deps{DB: db, Client: client})
	require.NoError(t, err)
	logger := platform.NewLogger(io.Discard, "error", reservations.ServiceName)
	return platform.Observe(logger, platform.Handler(svc, a.id.Authenticator(reservations.ServiceName))), c
}

// benchVehicle is the i-th car of the fake fleet no test names: a KOMPAKT at BER-HBF.
func benchVehicle(i int64) string { return fmt.Sprintf("f1ee0000-0000-4000-8000-%012x", 0x100000+i) }

// post sends one booking as alice to h with key.
func (a *api) post(h http.Handler, body, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/reservations", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", a.tokens["alice"])
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestBookingIsOneCommit: a booking with an Idempotency-Key writes its reservation, its
// event and its key with the answer in one commit; its replay writes nothing. The figures
// are logged (go test -v -run TestBookingIsOneCommit) — before issue 19: 3 commits.
func TestBookingIsOneCommit(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	h, c := traced(t, a)
	p, ret := period(5, 48)
	a.post(h, bookingBody(benchVehicle(0), p, ret, ""), "warm-up") // the branch cache, the service token
	c.take()
	const n = 20
	for i := range int64(n) {
		rec := a.post(h, bookingBody(benchVehicle(i+1), p, ret, ""), fmt.Sprintf("cost-%d", i))
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	}
	statements, trips, commits, reads := c.take()
	t.Logf("per booking: %.1f statements in %.1f round trips, %.1f writing commits, %.1f reads outside a transaction",
		float64(statements)/n, float64(trips)/n, float64(commits)/n, float64(reads)/n)
	assert.Equal(t, n, commits, "one commit per booking")

	// A retry is answered from the key: one read, nothing written.
	rec := a.post(h, bookingBody(benchVehicle(1), p, ret, ""), "cost-0")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.Equal(t, "true", rec.Header().Get("Idempotent-Replayed"))
	_, _, commits, _ = c.take()
	assert.Zero(t, commits)

	// A refused booking (the car taken) keeps its answer, in one commit, and nothing else.
	rec = a.post(h, bookingBody(benchVehicle(1), p, ret, ""), "cost-taken")
	require.Equal(t, http.StatusConflict, rec.Code, rec.Body.String())
	_, _, commits, _ = c.take()
	assert.Equal(t, 1, commits)
	again := a.post(h, bookingBody(benchVehicle(1), p, ret, ""), "cost-taken")
	assert.Equal(t, rec.Body.String(), again.Body.String())
	assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	var rows int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM reservations.reservations`).Scan(&rows))
	assert.Equal(t, n+1, rows)
	assert.Len(t, a.recorded(), n+1)
}

// baselineSchema is the table of the benchmark's baseline.
var baselineSchema = database.Migrations{Schema: "bench", Dir: "m",
	FS: fstest.MapFS{"m/0001_rows.sql": {Data: []byte(`CREATE TABLE rows (id bigserial PRIMARY KEY, note text NOT NULL)`)}}}

// rate drives h from conc goroutines for d and returns the answers per second that had
// status want; another status fails the benchmark.
func rate(b *testing.B, conc int, d time.Duration, want int, send func(i int64) int) float64 {
	var next, done atomic.Int64
	var wrong atomic.Value
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if s := send(next.Add(1)); s != want {
					wrong.Store(s)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if s := wrong.Load(); s != nil {
		b.Fatalf("an answer %d, not %d", s, want)
	}
	return float64(done.Load()) / time.Since(start).Seconds()
}

// BenchmarkBooking is the booking row of issue 19's table: bookings as alice, each with its
// own Idempotency-Key and car, through reservations-api as a host serves it (the token
// checked, customers-api's eligibility, the branches, the car, the price, the hold), beside
// the same-run baseline: a bare handler doing one INSERT transaction on the same server.
// Both are driven in process by 32 goroutines for 3 s each (BOOKING_SECONDS), on two
// servers: one with fsync and synchronous commit on, as production and the table
// ("booking/bare", target ≥ 0.40), and the test harness's (fsync off: "booking/bare-fsync-off").
func BenchmarkBooking(b *testing.B) {
	durable, err := pgtest.StartDurable(context.Background())
	require.NoError(b, err)
	b.Cleanup(func() { _ = durable.Close() })
	d := 3 * time.Second
	if s, err := time.ParseDuration(os.Getenv("BOOKING_SECONDS") + "s"); err == nil && s > 0 {
		d = s
	}
	type setup struct {
		name, suffix string
		inst         *pgtest.Instance
		book, insert func(int64) int
	}
	var setups []setup
	for _, m := range []struct {
		name, suffix string
		inst         *pgtest.Instance
	}{{"fsync on", "", durable}, {"fsync off", "-fsync-off", pg}} {
		book, insert := bookingLoad(b, m.inst)
		setups = append(setups, setup{m.name, m.suffix, m.inst, book, insert})
	}
	const conc = 32
	for range b.N {
		for _, s := range setups {
			rate(b, conc, d/6, http.StatusCreated, s.book) // warm: tokens, branch cache, plans
			baseline, bareCPU := cpuPerRequest(s.inst, func() float64 { return rate(b, conc, d, http.StatusCreated, s.insert) }, d)
			booking, bookCPU := cpuPerRequest(s.inst, func() float64 { return rate(b, conc, d, http.StatusCreated, s.book) }, d)
			b.ReportMetric(baseline, "bare-req/s"+s.suffix)
			b.ReportMetric(booking, "bookings/s"+s.suffix)
			b.ReportMetric(booking/baseline, "booking/bare"+s.suffix)
			b.ReportMetric(bookCPU.goSide, "go-µs/booking"+s.suffix)
			b.ReportMetric(bookCPU.server, "pg-µs/booking"+s.suffix)
			b.ReportMetric(bareCPU.goSide, "go-µs/bare"+s.suffix)
			b.ReportMetric(bareCPU.server, "pg-µs/bare"+s.suffix)
			b.Logf("%s: booking %.0f req/s, bare handler + 1 INSERT tx %.0f req/s: ratio %.3f (target ≥ 0.40); "+
				"CPU per booking %.0f µs Go + %.0f µs PostgreSQL, per bare request %.0f + %.0f µs",
				s.name, booking, baseline, booking/baseline, bookCPU.goSide, bookCPU.server, bareCPU.goSide, bareCPU.server)
		}
	}
}

// cpu is the CPU a round took per request, in µs: this process's (the handlers, the
// in-process calls and the goroutines driving them) and the database server's.
type cpu struct{ goSide, server float64 }

// cpuPerRequest runs round, which returns requests per second over d, and the CPU it took
// per request.
func cpuPerRequest(inst *pgtest.Instance, round func() float64, d time.Duration) (float64, cpu) {
	self0, server0 := inst.CPU(context.Background())
	perSecond := round()
	self, server := inst.CPU(context.Background())
	self, server = self-self0, server-server0
	n := max(perSecond*d.Seconds(), 1)
	return perSecond, cpu{float64(self.Microseconds()) / n, float64(server.Microseconds()) / n}
}

// bookingLoad is BenchmarkBooking's two loads on inst: a booking (a new car and key each
// time) and the bare handler's INSERT transaction.
func bookingLoad(b *testing.B, inst *pgtest.Instance) (book, insert func(int64) int) {
	a := newAPIOn(b, inst)
	h := a.handler // its pool as database.Open makes it: no counting tracer in the way
	base := inst.NewDB(b, baselineSchema)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var id int64
		err := base.InTx(r.Context(), func(tx pgx.Tx) error {
			return tx.QueryRow(r.Context(), `INSERT INTO bench.rows (note) VALUES ($1) RETURNING id`, string(body)).Scan(&id)
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = platform.WriteJSON(w, http.StatusCreated, map[string]int64{"id": id})
	})
	p, ret := period(5, 48)
	var n atomic.Int64
	book = func(int64) int {
		k := n.Add(1)
		return a.post(h, bookingBody(benchVehicle(k), p, ret, ""), fmt.Sprintf("bench-%d", k)).Code
	}
	insert = func(int64) int {
		rec := httptest.NewRecorder()
		bare.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/rows", strings.NewReader(`{"n":1}`)))
		return rec.Code
	}
	return book, insert
}
