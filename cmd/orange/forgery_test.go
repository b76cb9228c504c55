package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/knative"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
	"github.com/orangecarrental/orange/platform/proctest"
)

// forgery is one of the forged events found on the first build (issue 10): each changed
// state when anyone could post it.
type forgery struct {
	name     string
	receiver string // the Knative Service it was aimed at
	typ      string
	subject  string
	data     string
}

const (
	aliceID   = devissuer.CustomerAlice
	vehicleID = "f1ee0000-0000-4000-8000-000000000006"
	bookingID = "b0000000-0000-4000-8000-00000000f0f0"
)

var forgeries = []forgery{
	{"confirm an unpaid booking", "reservations-api", events.PaymentAuthorized, bookingID,
		`{"paymentId":"p0000000-0000-4000-8000-000000000001","reservationId":"` + bookingID + `","amountCents":100,"currency":"EUR","version":1}`},
	{"cancel another customer's hold", "reservations-api", events.PaymentFailed, bookingID,
		`{"paymentId":"p0000000-0000-4000-8000-000000000001","reservationId":"` + bookingID + `","reason":"forged","version":1}`},
	{"refund a finished rental", "payments-api", events.ReservationCancelled, bookingID,
		`{"reservationId":"` + bookingID + `","customerId":"` + aliceID + `","vehicleId":"` + vehicleID + `","feeCents":0,"version":5}`},
	{"capture 1 cent and invoice it", "payments-api", events.ReservationCompleted, bookingID,
		`{"reservationId":"` + bookingID + `","customerId":"` + aliceID + `","vehicleId":"` + vehicleID + `","finalAmountCents":1,"version":5}`},
	{"redirect a customer's mail", "notification-worker", events.CustomerUpdated, aliceID,
		`{"customerId":"` + aliceID + `","version":1000000,"email":"mallory@evil.example","firstName":"Alice","lastName":"A","preferredLanguage":"en"}`},
	{"send a phishing welcome mail", "notification-worker", events.CustomerRegistered, aliceID,
		`{"customerId":"` + aliceID + `","version":1,"email":"victim@example.com","firstName":"Click https://evil.example","lastName":"now","preferredLanguage":"en"}`},
	{"hide a car from search for a year", "vehicles-api", events.ReservationCreated, bookingID,
		`{"reservationId":"` + bookingID + `","customerId":"` + aliceID + `","vehicleId":"` + vehicleID + `","pickupAt":"2027-01-01T10:00:00Z","returnAt":"2027-12-31T10:00:00Z","version":1000000}`},
}

// TestForgeriesAreRefused replays the forgeries of issue 10 against the running system —
// `orange dev`'s Broker ingress, and each receiver run alone by `orange serve` on the same
// database, trusting the dev cluster issuer as a pod trusts its cluster's — with every kind
// of credential short of the right one. Each is refused (401/403) and the database does
// not change.
func TestForgeriesAreRefused(t *testing.T) {
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t)
	dev := proctest.Start(t, bin, []string{"dev"}, "PORT=0", "DATABASE_URL="+dbURL, "ORANGE_DATA_DIR="+t.TempDir())
	proctest.WaitReady(t, dev.Addr)
	port := strings.TrimPrefix(dev.Addr, "127.0.0.1:")
	clusterIssuer := "http://localhost:" + port + devissuer.ClusterPath
	people := "http://localhost:" + port + devissuer.RealmPath
	receivers := map[string]*proctest.Process{}
	for _, svc := range []string{"reservations-api", "payments-api", "notification-worker", "vehicles-api"} {
		receivers[svc] = proctest.Start(t, bin, []string{"serve", svc}, "PORT=0", "DATABASE_URL="+dbURL,
			"OIDC_ISSUER_URL="+people, "EVENTS_OIDC_ISSUER_URL="+clusterIssuer, "EVENTS_NAMESPACE=orange",
			"MAIL_DIR="+t.TempDir(), "LOG_LEVEL=info")
	}
	for _, p := range receivers {
		proctest.WaitReady(t, p.Addr)
	}

	ctx := context.Background()
	conn, err := database.Open(ctx, database.Config{URL: dbURL, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	// The seed's own events (welcome mails, fleet's read model) settle first.
	var before map[string]string
	require.Eventually(t, func() bool {
		prev := before
		before = snapshot(t, conn)
		return prev != nil && assert.ObjectsAreEqual(prev, before)
	}, 60*time.Second, time.Second, "the system never came to rest")

	// The Broker ingress of orange dev: no token, and each function's own identity sending
	// another producer's event, are refused.
	ingress := "http://" + dev.Addr + "/broker/orange/default"
	brokerAudience := auth.BrokerAudience("orange", "default")
	for _, f := range forgeries {
		t.Run("dev ingress/"+f.name, func(t *testing.T) {
			assert.Equal(t, http.StatusUnauthorized, post(t, ingress, "", f))
			wrong := clusterToken(t, dev.Addr, "locations-api", brokerAudience)
			assert.Equal(t, http.StatusForbidden, post(t, ingress, wrong, f), "locations-api may not send %s", f.typ)
			receiverToken := clusterToken(t, dev.Addr, f.receiver, brokerAudience)
			assert.Equal(t, http.StatusForbidden, post(t, ingress, receiverToken, f), "%s may not send %s", f.receiver, f.typ)
		})
	}

	// Each receiver alone, as on Knative.
	// A Trigger of another receiver; a receiver checks who delivers, the Broker's Trigger
	// filters which types reach it.
	strangers := map[string]string{
		"reservations-api": "payments-api-reservation-created", "payments-api": "reservations-api-payment-authorized",
		"notification-worker": "vehicles-api-reservation-created", "vehicles-api": "notification-worker-customer-erased",
	}
	otherKey, err := devissuer.GenerateKey()
	require.NoError(t, err)
	elsewhere := devissuer.NewCluster("http://elsewhere.test"+devissuer.ClusterPath, otherKey)
	for _, f := range forgeries {
		p := receivers[f.receiver]
		target := "http://" + p.Addr + events.ReceivePath
		aud := auth.ServiceAudience("orange", f.receiver)
		foreign, err := elsewhere.Mint(devissuer.Subject("orange", platform.Trigger("x").ServiceAccount()), aud)
		require.NoError(t, err)
		cases := []struct {
			name   string
			token  string
			status int
		}{
			{"no token", "", http.StatusUnauthorized},
			{"a person's token", devToken(t, dev.Addr, "ada"), http.StatusForbidden},
			{"another issuer", foreign, http.StatusUnauthorized},
			{"the Broker's audience", clusterToken(t, dev.Addr, "reservations-api", brokerAudience), http.StatusUnauthorized},
			{"another receiver's audience", clusterToken(t, dev.Addr, "trigger/vehicles-api-reservation-created", auth.ServiceAudience("orange", "nobody")), http.StatusUnauthorized},
			{"a producer's own account", clusterToken(t, dev.Addr, "payments-api", aud), http.StatusForbidden},
			{"another receiver's Trigger", clusterToken(t, dev.Addr, "trigger/"+strangers[f.receiver], aud), http.StatusForbidden},
		}
		for _, tc := range cases {
			t.Run(f.receiver+"/"+f.name+"/"+tc.name, func(t *testing.T) {
				assert.Equal(t, tc.status, post(t, target, tc.token, f))
			})
		}
	}
	time.Sleep(2 * time.Second) // anything accepted by mistake would have been applied by now
	assert.Equal(t, before, snapshot(t, conn), "a refused forgery changed the database")

	t.Run("ingress admits each producer its own types", func(t *testing.T) {
		ingressAdmitsProducersOnly(t, dev.Addr)
	})
}

// ingressAdmitsProducersOnly sends every event type of the catalogue as every function's
// identity to orange dev's Broker ingress: the EventPolicy files of knative/base decide, and
// each type is admitted for exactly one function (its source being that function).
func ingressAdmitsProducersOnly(t *testing.T, addr string) {
	policies, err := broker.LoadEventPolicies(knative.Manifests, "base")
	require.NoError(t, err)
	admit := broker.NewPolicies(policies, "orange", "default")
	reg, err := all.Registry()
	require.NoError(t, err)
	audience := auth.BrokerAudience("orange", "default")
	for typ := range events.Types {
		if typ == events.Ping {
			continue // produced outside the system, by PingSources
		}
		var admitted []string
		for _, fn := range reg.Functions() {
			f := forgery{receiver: fn.Service, typ: typ, subject: "x", data: "{}"}
			e := cloudevents.NewEvent()
			e.SetID("probe")
			e.SetType(typ)
			e.SetSource(fn.Service)
			subject := devissuer.Subject("orange", fn.Service)
			want := http.StatusForbidden
			if admit.Allows(subject, &e) {
				want = http.StatusAccepted
				admitted = append(admitted, fn.Service)
			}
			got := post(t, "http://"+addr+"/broker/orange/default", clusterToken(t, addr, fn.Service, audience), f)
			assert.Equal(t, want, got, "%s as %s", typ, fn.Service)
		}
		assert.Len(t, admitted, 1, "%s: exactly one producer, got %v", typ, admitted)
	}
}

// post sends f to target with token and returns the status.
func post(t *testing.T, target, token string, f forgery) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(f.data))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", fmt.Sprintf("forged-%d", time.Now().UnixNano()))
	req.Header.Set("Ce-Type", f.typ)
	req.Header.Set("Ce-Source", f.receiver)
	req.Header.Set("Ce-Subject", f.subject)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// clusterToken asks orange dev's cluster issuer for a token of an identity (a service
// account, or trigger/<name>), as `orange emit -as` does.
func clusterToken(t *testing.T, addr, as, audience string) string {
	t.Helper()
	account := as
	if name, ok := strings.CutPrefix(as, "trigger/"); ok {
		account = platform.Trigger(name).ServiceAccount()
	}
	resp, err := http.PostForm("http://"+addr+devissuer.ClusterPath+"/token",
		url.Values{"namespace": {"orange"}, "serviceAccount": {account}, "audience": {audience}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct{ Token string }
	require.NoError(t, jsonDecode(resp, &out))
	return out.Token
}

// snapshot fingerprints every function's schema (pgtest.Snapshot).
func snapshot(t *testing.T, db *database.DB) map[string]string {
	t.Helper()
	reg, err := all.Registry()
	require.NoError(t, err)
	var schemas []string
	for _, m := range reg.Migrations() {
		schemas = append(schemas, m.Schema)
	}
	fp := pgtest.Snapshot(t, db, schemas...)
	for _, schema := range schemas {
		// The sweep PingSource fires every minute and leaves its ping in reservations'
		// inbox; that no forged event reached any inbox is checked by id instead.
		delete(fp, schema+".inbox")
		var forged int
		err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{schema, "inbox"}.Sanitize()+` WHERE id LIKE 'forged-%'`).Scan(&forged)
		if err == nil {
			fp[schema+".inbox forged"] = fmt.Sprint(forged)
		}
	}
	// orange dev's other PingSources fire on their schedules too, and a test running then
	// sees their work: the nightly cleanup (03:30 Berlin) records its run, the monthly one
	// (the 1st, 02:00 Berlin) freezes last month and announces it. No forgery aims at either.
	for _, table := range []string{"cleanup.runs", "reports.frozen", "reports.outbox"} {
		delete(fp, table)
	}
	return fp
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
