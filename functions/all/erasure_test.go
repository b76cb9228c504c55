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
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/internal/devtest"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
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

// devSystem is `orange dev` run in this process (internal/devtest): every function, the
// in-process broker with the Triggers, PingSources and EventPolicies of knative/base, the
// relays, the mail sender writing to the mail folder, and the dead-letter sink. Its log is
// at debug level: a log cannot be erased, so it must never hold the person at any level.
type devSystem struct {
	*devtest.System
	t *testing.T
}

func startDev(t *testing.T, options ...func(*host.Env)) *devSystem {
	t.Helper()
	d := &devSystem{System: devtest.Start(t, pg, map[string]string{"LOG_LEVEL": "debug"}, options...), t: t}
	devtest.OpenAroundTheClock(t, d.DB)
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
	status, raw := d.API(d.t, method, path, token, body, out, header...)
	if status >= 300 && out != nil {
		d.t.Logf("%s %s: %d %s", method, path, status, raw)
	}
	return status
}

// publishAs sends a CloudEvent to orange dev's Broker ingress as a function's service
// account, as that function's relay does.
func (d *devSystem) publishAs(service, typ, subject string, data any) {
	d.t.Helper()
	resp, err := http.PostForm(d.Base+devissuer.ClusterPath+"/token", url.Values{"namespace": {auth.DefaultNamespace},
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
	rows, err := d.DB.Pool.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
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
		rows, err := d.DB.Pool.Query(ctx, `SELECT * FROM `+name)
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
	_ = filepath.WalkDir(d.MailDir(), func(path string, e os.DirEntry, err error) error {
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
	for _, line := range strings.Split(d.Logs.String(), "\n") {
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
	agent := d.Token(d.t, "carla")

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
	d.eventually(30*time.Second, "the dead letter", func() bool { return strings.Contains(d.Logs.String(), `"msg":"dead letter"`) })

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
		return d.DB.Pool.QueryRow(context.Background(), `SELECT id::text FROM customers.outbox WHERE type = $1 AND subject = $2`,
			events.CustomerErased, res.CustomerID).Scan(&erasedID) == nil
	})
	for _, schema := range []string{"reservations", "notifier", "deadletter"} {
		d.eventually(30*time.Second, schema+" applies customer.erased", func() bool {
			var n int
			require.NoError(t, d.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+schema+`.inbox WHERE id = $1`, erasedID).Scan(&n))
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
