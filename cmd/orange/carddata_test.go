package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/proctest"
)

// The sandbox's test cards the test books with: one that pays, one the provider never
// answers (its reservation.created is retried, then dead-lettered) and one declined for a
// guest.
const (
	cardPays     = "4242424242424242"
	cardTimesOut = "4000000000000119"
	cardDeclined = "4000000000009995"
)

// logged is a started `orange dev` whose log lines are kept.
type logged struct {
	addr string
	mu   sync.Mutex
	log  strings.Builder
}

func (l *logged) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.log.String()
}

// startLogged is proctest.Start keeping stdout and stderr: the dead-letter sink of `orange
// dev` writes the events it gets to the log.
func startLogged(t *testing.T, bin string, args []string, env ...string) *logged {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	l := &logged{}
	addrc := make(chan string, 1)
	keep := func(r io.Reader, serving bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			l.log.Write(sc.Bytes())
			l.log.WriteByte('\n')
			l.mu.Unlock()
			var line struct{ Msg, Addr string }
			if serving && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				select {
				case addrc <- line.Addr:
				default:
				}
			}
		}
	}
	go keep(stdout, true)
	go keep(stderr, false)
	select {
	case addr := <-addrc:
		_, port, _ := net.SplitHostPort(addr)
		l.addr = "127.0.0.1:" + port
	case <-time.After(60 * time.Second):
		t.Fatalf("orange dev did not start serving:\n%s", l.text())
	}
	return l
}

// call sends a JSON request with an optional bearer token and decodes a JSON answer into out.
func call(t *testing.T, method, url, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(raw, out), string(raw))
	}
	return resp.StatusCode
}

// tokenize sends a card to payments-api as its holder's browser does and returns the
// payment method's id.
func tokenize(t *testing.T, addr, token, number string) string {
	t.Helper()
	var m struct{ ID, Last4 string }
	body := fmt.Sprintf(`{"card":{"number":%q,"expMonth":11,"expYear":%d,"cvc":"737","holder":"Alice Hartmann"}}`, number, time.Now().Year()+2)
	require.Equal(t, http.StatusCreated, call(t, http.MethodPost, "http://"+addr+"/api/payments/methods", token, body, &m))
	require.Regexp(t, `^pm_[0-9a-f]{32}$`, m.ID)
	require.Equal(t, number[len(number)-4:], m.Last4)
	return m.ID
}

// findEverywhere returns, for every table of every schema of the database, the rows whose
// text contains one of needles (bytea columns — stored responses — show as hex, so each
// needle's hex form is searched too): "schema.table: row".
func findEverywhere(t *testing.T, db *database.DB, needles ...string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
		ORDER BY 1, 2`)
	require.NoError(t, err)
	type table struct{ schema, name string }
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var tb table
		return tb, r.Scan(&tb.schema, &tb.name)
	})
	require.NoError(t, err)
	require.Greater(t, len(tables), 20, "not every function's schema is there")
	var all []string
	for _, n := range needles {
		all = append(all, n, fmt.Sprintf("%x", n))
	}
	var found []string
	for _, tb := range tables {
		name := pgx.Identifier{tb.schema, tb.name}.Sanitize()
		rows, err := db.Pool.Query(ctx, `SELECT t::text FROM `+name+` t WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) n WHERE strpos(t::text, n) > 0)`, all)
		require.NoError(t, err)
		hits, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		for _, h := range hits {
			found = append(found, tb.schema+"."+tb.name+": "+h)
		}
	}
	return found
}

// TestNoCardNumberOutsidePayments is issue 11's acceptance: after bookings with the
// sandbox's test card numbers — a customer's that is paid and confirmed, one whose
// authorization the provider never answers until its reservation.created is dead-lettered,
// a guest's that is declined — no card number appears anywhere: not in any table of any
// schema (reservations, the outbox payloads of every function, inboxes, idempotency keys,
// payments and its sandbox provider included), not in the mail folder, not in the log where
// the dead-letter sink prints what it gets. Payments keeps the last four digits; everything
// else names the card by its payment method.
func TestNoCardNumberOutsidePayments(t *testing.T) {
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t)
	dataDir := t.TempDir()
	dev := startLogged(t, bin, []string{"dev"}, "PORT=0", "DATABASE_URL="+dbURL, "ORANGE_DATA_DIR="+dataDir,
		"PAYMENT_PROVIDER_TIMEOUT=100ms", "LOG_LEVEL=info")
	proctest.WaitReady(t, dev.addr)
	base := "http://" + dev.addr
	alice := devToken(t, dev.addr, "alice")
	// The bookings are at whatever hour the clock shows: every branch opens around the clock.
	openAroundTheClock(t, base, devToken(t, dev.addr, "ada"))
	pickup := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	book := func(path, token, vehicle string, day int, method, guest string) string {
		t.Helper()
		p := pickup.Add(time.Duration(day) * 24 * time.Hour)
		body := fmt.Sprintf(`{%s"vehicleId":%q,"pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"paymentMethodId":%q}`,
			guest, vehicle, p.Format(time.RFC3339), p.Add(48*time.Hour).Format(time.RFC3339), method)
		var res struct{ ID string }
		require.Equal(t, http.StatusCreated, call(t, http.MethodPost, base+path, token, body, &res), "booking %s", body)
		return res.ID
	}
	// The old way is refused before anything is kept.
	old := fmt.Sprintf(`{"vehicleId":"f1ee0000-0000-4000-8000-000000000002","pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"paymentToken":%q}`,
		pickup.Format(time.RFC3339), pickup.Add(48*time.Hour).Format(time.RFC3339), cardPays)
	require.Equal(t, http.StatusBadRequest, call(t, http.MethodPost, base+"/api/reservations", alice, old, nil))

	paid := book("/api/reservations", alice, "f1ee0000-0000-4000-8000-000000000002", 0, tokenize(t, dev.addr, alice, cardPays), "")
	unanswered := book("/api/reservations", alice, "f1ee0000-0000-4000-8000-000000000002", 4, tokenize(t, dev.addr, alice, cardTimesOut), "")
	guest := `"customer":{"firstName":"Gina","lastName":"Gast","email":"gina.gast@example.com","phone":"+49 30 1234567",
		"dateOfBirth":"1990-01-01","address":{"street":"Teststraße 1","postalCode":"10115","city":"Berlin"},
		"licence":{"number":"B1234567","issuingCountry":"DE","issueDate":"2010-01-01","expiryDate":"2040-01-01"}},`
	declined := book("/api/reservations/guest", "", "f1ee0000-0000-4000-8000-000000000003", 0, tokenize(t, dev.addr, "", cardDeclined), guest)

	status := func(id string) string {
		var res struct{ Status string }
		require.Equal(t, http.StatusOK, call(t, http.MethodGet, base+"/api/reservations/"+id, devToken(t, dev.addr, "carla"), "", &res))
		return res.Status
	}
	require.Eventually(t, func() bool { return status(paid) == "confirmed" }, 30*time.Second, 200*time.Millisecond, "the paid booking was not confirmed")
	// A declined card keeps the hold pending with the decline's reason (issue 13: another card
	// may be named until the hold expires).
	require.Eventually(t, func() bool {
		var res struct{ Status, PaymentDeclinedReason string }
		require.Equal(t, http.StatusOK, call(t, http.MethodGet, base+"/api/reservations/"+declined, devToken(t, dev.addr, "carla"), "", &res))
		return res.Status == "pending" && res.PaymentDeclinedReason != ""
	}, 30*time.Second, 200*time.Millisecond, "the declined booking is not pending with the decline's reason")
	// Six attempts (retry 5, exponential from 0.5 s) before the dead letter.
	require.Eventually(t, func() bool {
		for _, line := range strings.Split(dev.text(), "\n") {
			if strings.Contains(line, `"dead letter"`) && strings.Contains(line, unanswered) && strings.Contains(line, "reservation.created") {
				return true
			}
		}
		return false
	}, 60*time.Second, 500*time.Millisecond, "reservation.created of %s was not dead-lettered", unanswered)

	ctx := context.Background()
	db, err := database.Open(ctx, database.Config{URL: dbURL, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	cards := []string{cardPays, cardTimesOut, cardDeclined}
	spaced := func(n string) string { return n[0:4] + " " + n[4:8] + " " + n[8:12] + " " + n[12:] }
	needles := append([]string{}, cards...)
	for _, c := range cards {
		needles = append(needles, spaced(c))
	}
	assert.Empty(t, findEverywhere(t, db, needles...), "a card number is stored")

	// What is there instead: reservation.created names the payment method, payments keeps
	// the last four digits.
	var created []string
	rows, err := db.Pool.Query(ctx, `SELECT data::text FROM reservations.outbox WHERE type = 'com.orangecarrental.reservation.created.v1'`)
	require.NoError(t, err)
	created, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, created, 3)
	for _, data := range created {
		assert.Regexp(t, `"paymentMethodId": "pm_[0-9a-f]{32}"`, data)
		assert.NotContains(t, data, "paymentToken")
	}
	var last4 []string
	rows, err = db.Pool.Query(ctx, `SELECT last4 FROM payments.payment_methods ORDER BY last4`)
	require.NoError(t, err)
	last4, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"0119", "4242", "9995"}, last4)

	// The log — the dead letter printed whole, every request logged — and the data folder
	// (the mail of the bookings) hold no number either.
	log := dev.text()
	require.Contains(t, log, `"dead letter"`)
	var shown []string
	for _, line := range strings.Split(log, "\n") {
		for _, n := range needles {
			if strings.Contains(line, n) {
				shown = append(shown, line)
			}
		}
	}
	assert.Empty(t, shown, "the log shows a card number")
	require.NoError(t, filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			assert.NotContains(t, string(raw), n, "%s holds a card number", path)
		}
		return nil
	}))
}
