package all_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
)

// The person the erasure test follows through the system: every value below is theirs and
// nothing else's, so finding one anywhere after the erasure is a copy the erasure missed.
const (
	personFirst   = "Zelda"
	personLast    = "Quistorp"
	personEmail   = "zelda.quistorp@example.org"
	personPhone   = "+49 30 7351864"
	personStreet  = "Lindenallee 12"
	personBirth   = "1985-03-14"
	personLicence = "B9Q8R7S6T5"
)

// needles are what the search looks for (case-insensitive): the email, the names, the
// phone (as typed and its digits), the address, the date of birth, the licence number —
// and the SHA-256 of the address, a pseudonymous copy anyone who knows the address can
// compute.
func needles() []string {
	sum := sha256.Sum256([]byte(personEmail))
	return []string{personEmail, personFirst, personLast, personPhone, "7351864", personStreet, personBirth,
		personLicence, hex.EncodeToString(sum[:])}
}

// logBuffer is orange dev's stdout: every log line of every function, the dead-letter
// function's among them (a log cannot be erased: it must never hold the person).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// devSystem is `orange dev` run in this process: every function, the in-process broker
// with the Triggers, PingSources and EventPolicies of knative/base, the relays, the mail
// sender writing to the mail folder, and the dead-letter sink.
type devSystem struct {
	t    *testing.T
	base string
	db   *database.DB
	mail string
	logs *logBuffer
}

func startDev(t *testing.T, options ...func(*host.Env)) *devSystem {
	t.Helper()
	reg, err := all.Registry()
	require.NoError(t, err)
	dbURL := pg.NewDatabaseURL(t)
	dataDir := t.TempDir()
	logs := &logBuffer{}
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	env := host.Env{
		Lookuper: envconfig.MapLookuper(map[string]string{
			"PORT": "0", "DATABASE_URL": dbURL, "ORANGE_DATA_DIR": dataDir, "LOG_LEVEL": "debug",
			"RELAY_POLL_INTERVAL": "100ms",
		}),
		Stdout: logs,
		Ready:  func(addr string) { ready <- addr },
	}
	for _, o := range options {
		o(&env)
	}
	go func() { done <- host.Dev(ctx, reg, env) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "orange dev stopped with an error")
		case <-time.After(30 * time.Second):
			t.Error("orange dev did not stop")
		}
	})
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("orange dev stopped before serving: %v\n%s", err, logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("orange dev did not start serving\n%s", logs)
	}
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	db, err := database.Open(context.Background(), database.Config{URL: dbURL, MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	openAroundTheClock(t, db)
	d := &devSystem{t: t, base: "http://localhost:" + port, db: db, mail: filepath.Join(dataDir, "mail"), logs: logs}
	d.eventually(30*time.Second, "orange dev ready", func() bool {
		resp, err := http.Get(d.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return d
}

func (d *devSystem) eventually(timeout time.Duration, what string, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			d.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call sends a request to orange dev and decodes a JSON answer into out (when not nil).
func (d *devSystem) call(method, path, token, body string, out any, header ...string) int {
	d.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, d.base+path, rd)
	require.NoError(d.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(d.t, json.Unmarshal(raw, out), string(raw))
	}
	if resp.StatusCode >= 300 && out != nil {
		d.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// personToken is a development issuer token of demo user name (password grant).
func (d *devSystem) personToken(name string) string {
	d.t.Helper()
	resp, err := http.PostForm(d.base+devissuer.RealmPath+"/protocol/openid-connect/token",
		url.Values{"grant_type": {"password"}, "client_id": {"public-portal"}, "username": {name}, "password": {name}})
	require.NoError(d.t, err)
	defer resp.Body.Close()
	require.Equal(d.t, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(d.t, json.NewDecoder(resp.Body).Decode(&tok))
	return tok.AccessToken
}

// publishAs sends a CloudEvent to orange dev's Broker ingress as a function's service
// account, as that function's relay does.
func (d *devSystem) publishAs(service, typ, subject string, data any) {
	d.t.Helper()
	resp, err := http.PostForm(d.base+devissuer.ClusterPath+"/token", url.Values{"namespace": {auth.DefaultNamespace},
		"serviceAccount": {service}, "audience": {auth.BrokerAudience(auth.DefaultNamespace, auth.DefaultBroker)}})
	require.NoError(d.t, err)
	var tok struct{ Token string }
	require.NoError(d.t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	raw, err := json.Marshal(data)
	require.NoError(d.t, err)
	status := d.call(http.MethodPost, host.BrokerIngressPath, tok.Token, string(raw), nil,
		"Ce-Specversion", "1.0", "Ce-Id", fmt.Sprintf("erasure-test-%d", time.Now().UnixNano()), "Ce-Type", typ,
		"Ce-Source", service, "Ce-Subject", subject)
	require.Equal(d.t, http.StatusAccepted, status)
}

// finding is one place a needle was found.
type finding struct{ where, needle string }

// search looks for every needle in every column of every row of every table of every
// schema of the database, in the mail folder (raw and decoded) and in the log.
func (d *devSystem) search() []finding {
	d.t.Helper()
	ctx := context.Background()
	var found []finding
	look := func(where, text string) {
		text = strings.ToLower(text)
		for _, n := range needles() {
			if strings.Contains(text, strings.ToLower(n)) {
				found = append(found, finding{where, n})
			}
		}
	}
	rows, err := d.db.Pool.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
		ORDER BY 1, 2`)
	require.NoError(d.t, err)
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var t [2]string
		return t, r.Scan(&t[0], &t[1])
	})
	require.NoError(d.t, err)
	require.Greater(d.t, len(tables), 20, "every function's tables: %v", tables)
	for _, tb := range tables {
		name := pgx.Identifier{tb[0], tb[1]}.Sanitize()
		rows, err := d.db.Pool.Query(ctx, `SELECT * FROM `+name)
		require.NoError(d.t, err)
		for rows.Next() {
			values, err := rows.Values()
			require.NoError(d.t, err)
			for i, v := range values {
				where := tb[0] + "." + tb[1] + "." + rows.FieldDescriptions()[i].Name
				switch v := v.(type) {
				case string:
					look(where, v)
				case []byte: // bytea: stored responses, hashes
					look(where, string(v))
					look(where, hex.EncodeToString(v))
				case map[string]any, []any: // json, jsonb
					raw, err := json.Marshal(v)
					require.NoError(d.t, err)
					look(where, string(raw))
				default:
					look(where, fmt.Sprint(v))
				}
			}
		}
		require.NoError(d.t, rows.Err())
	}
	_ = filepath.WalkDir(d.mail, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		raw, err := os.ReadFile(path)
		require.NoError(d.t, err)
		where := "mail folder " + e.Name()
		look(where, string(raw))
		if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
			for k := range msg.Header {
				if v, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get(k)); err == nil {
					look(where, v)
				}
			}
			if body, err := io.ReadAll(quotedprintable.NewReader(msg.Body)); err == nil {
				look(where, string(body))
			}
		}
		return nil
	})
	for _, line := range strings.Split(d.logs.String(), "\n") {
		look("log: "+line, line)
	}
	return found
}

// TestErasureReachesEveryCopy is issue 11's acceptance, written as the attack: a guest
// books with a card, pays, gets mail, is cancelled by an agent with a note, and has an event
// of theirs dead-lettered; then the customer is erased. Before the fix the erased address
// still opened the booking (reservations.customer_email), and the mails, the notes and the
// dead letter kept the person. Now every table of every schema, the mail folder and the log
// of `orange dev` (the dead-letter function's schema and log among them) are searched for the person's email,
// names, phone, address, birth date and licence: nothing.
func TestErasureReachesEveryCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system")
	}
	d := startDev(t)
	agent := d.personToken("carla")

	// A card, as payments-api alone sees it; the holder's name is not kept.
	var method struct{ ID string }
	require.Equal(t, http.StatusCreated, d.call(http.MethodPost, "/api/payments/methods", "",
		`{"card":{"number":"4242424242424242","expMonth":12,"expYear":2031,"cvc":"123","holder":"`+personFirst+` `+personLast+`"}}`, &method))

	// A guest booking: registers the person and holds the car.
	pickup := time.Now().Add(10 * 24 * time.Hour).UTC().Truncate(time.Hour)
	booking := fmt.Sprintf(`{"customer":{"firstName":%q,"lastName":%q,"email":%q,"phone":%q,"dateOfBirth":%q,
		"address":{"street":%q,"postalCode":"10115","city":"Berlin"},
		"licence":{"number":%q,"issuingCountry":"DE","issueDate":"2005-06-01","expiryDate":"2035-06-01"}},
		"vehicleId":"f1ee0000-0000-4000-8000-000000000002","pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"paymentMethodId":%q}`,
		personFirst, personLast, personEmail, personPhone, personBirth, personStreet, personLicence,
		pickup.Format(time.RFC3339), pickup.Add(48*time.Hour).Format(time.RFC3339), method.ID)
	var res struct{ ID, CustomerID, Status string }
	require.Equal(t, http.StatusCreated, d.call(http.MethodPost, "/api/reservations/guest", "", booking, &res,
		"Idempotency-Key", "erasure-acceptance-1"))
	lookup := "/api/reservations/lookup?id=" + res.ID + "&email=" + url.QueryEscape(personEmail)

	// Paid: payments authorizes on reservation.created, payment.authorized confirms.
	d.eventually(30*time.Second, "the booking confirmed", func() bool {
		var got struct{ Status string }
		return d.call(http.MethodGet, lookup, "", "", &got) == http.StatusOK && got.Status == "confirmed"
	})
	// An agent cancels, with a note naming the guest: a mail with the reason, a void.
	require.Equal(t, http.StatusOK, d.call(http.MethodPost, "/api/reservations/"+res.ID+"/cancel", agent,
		`{"reason":"`+personFirst+` `+personLast+` called from `+personPhone+`"}`, &struct{}{}))
	d.eventually(30*time.Second, "the booking and cancellation mails", func() bool {
		return mailsTo(d, personEmail) >= 2
	})
	// A customer.updated the notifier cannot process (an address with a display name, as a
	// buggy producer might send): refused with 400, dead-lettered.
	d.publishAs("customers-api", events.CustomerUpdated, res.CustomerID, events.Customer{CustomerID: res.CustomerID, Version: 99,
		Email: personFirst + " " + personLast + " <" + personEmail + ">", FirstName: personFirst, LastName: personLast, PreferredLanguage: "de"})
	d.eventually(30*time.Second, "the dead letter", func() bool { return strings.Contains(d.logs.String(), `"msg":"dead letter"`) })

	before := map[string]bool{}
	for _, f := range d.search() {
		if parts := strings.SplitN(f.where, ".", 3); len(parts) == 3 {
			before[parts[0]+"."+parts[1]] = true
		}
	}
	t.Logf("before the erasure the person is in %v", slices.Sorted(maps.Keys(before)))
	for _, table := range []string{`customers.customers`, `reservations.reservations`, `notifier.recipients`, `notifier.notifications`, `deadletter.letters`} {
		require.True(t, before[table], "precondition: the person is in %s (found in %v)", table, before)
	}
	require.NotZero(t, mailsTo(d, personEmail), "precondition: the person's mail is in the folder")

	// The erasure, as an agent does it on request.
	require.Equal(t, http.StatusOK, d.call(http.MethodPost, "/api/customers/"+res.CustomerID+"/erasure", agent, "", &struct{}{}))
	var erasedID string
	d.eventually(10*time.Second, "customer.erased recorded", func() bool {
		return d.db.Pool.QueryRow(context.Background(), `SELECT id::text FROM customers.outbox WHERE type = $1 AND subject = $2`,
			events.CustomerErased, res.CustomerID).Scan(&erasedID) == nil
	})
	for _, schema := range []string{"reservations", "notifier", "deadletter"} {
		d.eventually(30*time.Second, schema+" applies customer.erased", func() bool {
			var n int
			require.NoError(t, d.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+schema+`.inbox WHERE id = $1`, erasedID).Scan(&n))
			return n == 1
		})
	}
	time.Sleep(time.Second) // anything still on its way (a relay poll, a send) has landed

	assert.Equal(t, http.StatusNotFound, d.call(http.MethodGet, lookup, "", "", nil), "the erased address opens nothing")
	for _, f := range d.search() {
		t.Errorf("after the erasure, %q is still in %s", f.needle, f.where)
	}
}

// mailsTo counts the mails in the dev mailbox addressed to email.
func mailsTo(d *devSystem, email string) int {
	var box struct{ Items []struct{ To string } }
	if d.call(http.MethodGet, "/dev/mail", "", "", &box) != http.StatusOK {
		return 0
	}
	n := 0
	for _, m := range box.Items {
		if strings.Contains(m.To, email) {
			n++
		}
	}
	return n
}
