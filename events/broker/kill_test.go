package broker_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform/database"
)

// The child process of TestDurableQueueSurvivesKill: this test binary run again with these
// variables.
const (
	childPhaseEnv = "BROKER_TEST_CHILD_PHASE" // "accept" or "deliver"
	childDBEnv    = "BROKER_TEST_CHILD_DB"
	childEvents   = 60
)

// Events accepted by the ingress survive a SIGKILL before their delivery: the first process
// queues them (its subscribers hang, some attempts started), is killed, and a second one
// over the same database delivers every event to every Trigger at least once, and — with
// the consumer's inbox — applies every effect exactly once.
func TestDurableQueueSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two child processes")
	}
	t.Parallel()
	url := pgInstance(t).NewDatabaseURL(t, broker.Migrations)
	db, err := database.Open(context.Background(), database.Config{URL: url, MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	_, err = db.Pool.Exec(context.Background(), `
CREATE TABLE public.attempts (trigger text NOT NULL, event text NOT NULL);
CREATE TABLE public.inbox (trigger text NOT NULL, event text NOT NULL, PRIMARY KEY (trigger, event));
CREATE TABLE public.effects (trigger text NOT NULL, event text NOT NULL)`)
	require.NoError(t, err)

	accept := child(t, "accept", url)
	line, err := accept.out.ReadString('\n')
	require.NoError(t, err, "the first process accepts the events")
	require.Equal(t, "accepted "+strconv.Itoa(childEvents), strings.TrimSpace(line))
	require.Eventually(t, func() bool { return count(t, db, `SELECT count(*) FROM public.attempts`) > 0 }, 10*time.Second, 5*time.Millisecond,
		"deliveries started before the kill")
	require.NoError(t, accept.cmd.Process.Kill()) // SIGKILL
	_ = accept.cmd.Wait()
	require.Zero(t, count(t, db, `SELECT count(*) FROM public.effects`), "nothing was delivered before the kill")
	require.Equal(t, 2*childEvents, count(t, db, `SELECT count(*) FROM broker.deliveries`), "every event is queued for both Triggers")

	deliver := child(t, "deliver", url)
	require.Eventually(t, func() bool { return count(t, db, `SELECT count(*) FROM broker.deliveries`) == 0 }, 60*time.Second, 10*time.Millisecond,
		"the restarted process delivers what the killed one accepted")
	require.NoError(t, deliver.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, deliver.cmd.Wait())

	for _, trig := range []string{"orange/first", "orange/second"} {
		assert.Equal(t, childEvents, count(t, db, `SELECT count(DISTINCT event) FROM public.attempts WHERE trigger = $1`, trig),
			"every event delivered at least once to %s", trig)
		assert.Equal(t, childEvents, count(t, db, `SELECT count(*) FROM public.effects WHERE trigger = $1`, trig),
			"every effect exactly once for %s", trig)
		assert.Equal(t, childEvents, count(t, db, `SELECT count(DISTINCT event) FROM public.effects WHERE trigger = $1`, trig))
	}
	t.Logf("attempts: %d for %d deliveries", count(t, db, `SELECT count(*) FROM public.attempts`), 2*childEvents)
}

type childProcess struct {
	cmd *exec.Cmd
	out *bufio.Reader
}

func child(t *testing.T, phase, url string) childProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childPhaseEnv+"="+phase, childDBEnv+"="+url)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return childProcess{cmd: cmd, out: bufio.NewReader(out)}
}

func count(t *testing.T, db *database.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// runChild is the child process: "accept" queues childEvents events and then hangs in
// every delivery; "deliver" delivers with an idempotent consumer until SIGTERM.
func runChild(phase string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := child1(ctx, phase); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func child1(ctx context.Context, phase string) error {
	db, err := database.Open(ctx, database.Config{URL: os.Getenv(childDBEnv), MaxConns: 8})
	if err != nil {
		return err
	}
	defer db.Close()
	deliver := func(dctx context.Context, to broker.Destination, e cloudevents.Event) (*cloudevents.Event, int, error) {
		trig := "orange/" + to.Service
		if _, err := db.Pool.Exec(dctx, `INSERT INTO public.attempts VALUES ($1, $2)`, trig, e.ID()); err != nil {
			return nil, 0, err
		}
		if phase == "accept" {
			<-dctx.Done() // hangs until killed
			return nil, 0, dctx.Err()
		}
		// The consumer: its inbox and its effect in one transaction (design.md §5).
		err := db.InTx(dctx, func(tx pgx.Tx) error {
			tag, err := tx.Exec(dctx, `INSERT INTO public.inbox VALUES ($1, $2) ON CONFLICT DO NOTHING`, trig, e.ID())
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
			_, err = tx.Exec(dctx, `INSERT INTO public.effects VALUES ($1, $2)`, trig, e.ID())
			return err
		})
		if err != nil {
			return nil, 0, err
		}
		return nil, http.StatusAccepted, nil
	}
	triggers := []broker.Trigger{
		trigger("first", events.ReservationCreated, "first", 3, ""),
		trigger("second", events.ReservationCreated, "second", 3, ""),
	}
	for i := range triggers {
		triggers[i].Delivery.Timeout = time.Hour
	}
	b := broker.New(triggers, deliver, broker.Options{DB: db, Lease: time.Second, Poll: 100 * time.Millisecond,
		Workers: 8, Logger: quietLogger()})
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	if phase == "accept" {
		for i := range childEvents {
			e := event(events.ReservationCreated)
			e.SetID(fmt.Sprintf("kill-%d", i))
			if err := b.Publish(ctx, e); err != nil {
				return err
			}
		}
		fmt.Println("accepted", childEvents)
	}
	return <-done
}
