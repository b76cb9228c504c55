package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
	"github.com/orangecarrental/orange/platform/proctest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) {
	defer proctest.Cleanup()
	pgtest.Main(m, &pg)
}

// TestServesAlone starts the real binary: it becomes ready, serves its document, takes its
// PingSource's event at /cloudevents — only with the PingSource's token of the cluster
// issuer it trusts — and exits 0 on SIGTERM.
func TestServesAlone(t *testing.T) {
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t, reservations.Migrations)
	issuerEnv := startIssuer(t)
	cluster := startClusterIssuer(t)
	p := proctest.Start(t, bin, nil, "PORT=0", "DATABASE_URL="+dbURL, "LOG_LEVEL=info", issuerEnv, "RESERVATION_HOLD=10m",
		"EVENTS_OIDC_ISSUER_URL="+cluster.URL(), "EVENTS_NAMESPACE=orange")
	proctest.WaitReady(t, p.Addr)

	resp, err := http.Get("http://" + p.Addr + "/api/reservations/openapi.json")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	ping := func(id, token string) int {
		req, err := http.NewRequest(http.MethodPost, "http://"+p.Addr+events.ReceivePath, strings.NewReader(`{}`))
		require.NoError(t, err)
		for k, v := range map[string]string{"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": id,
			"ce-source": "/apis/v1/namespaces/orange/pingsources/reservations-sweep", "ce-type": events.Ping} {
			req.Header.Set(k, v)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	sweep := devissuer.Subject("orange", platform.PingSource("reservations-sweep").ServiceAccount())
	good, err := cluster.Token(sweep, auth.ServiceAudience("orange", "reservations-api"))
	require.NoError(t, err)
	stranger, err := cluster.Token(devissuer.Subject("orange", "default"), auth.ServiceAudience("orange", "reservations-api"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, ping("ping-0", ""))
	assert.Equal(t, http.StatusForbidden, ping("ping-0", stranger))
	assert.Equal(t, http.StatusAccepted, ping("ping-1", good))

	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.Exited:
		assert.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("the process did not exit")
	}
}

// TestRefusesToStartMisconfigured checks start-up validation names the variable at fault.
func TestRefusesToStartMisconfigured(t *testing.T) {
	bin := proctest.Build(t, ".")
	base := []string{"PORT=0", "DATABASE_URL=" + pg.NewDatabaseURL(t, reservations.Migrations), startIssuer(t)}
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{append(base, "RESERVATION_HOLD=1s"), "RESERVATION_HOLD"},
		{append(base, "RESERVATION_HOLD=soon"), "RESERVATION_HOLD"},
		{append(base, "RESERVATION_CALL_TIMEOUT=0s"), "RESERVATION_CALL_TIMEOUT"},
	} {
		cmd := exec.Command(bin)
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "OIDC_") && !strings.HasPrefix(kv, "RESERVATION_") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, tt.env...)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "started with %v", tt.env)
		assert.Contains(t, string(out), tt.want)
	}
}

func startIssuer(tb testing.TB) string { return "OIDC_ISSUER_URL=" + startDevIssuer(tb).URL() }

// startClusterIssuer serves a stand-in of the cluster's service-account issuer.
func startClusterIssuer(tb testing.TB) *devissuer.Cluster {
	key, err := devissuer.GenerateKey()
	require.NoError(tb, err)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	c := devissuer.NewCluster(srv.URL+devissuer.ClusterPath, key)
	mux.Handle(devissuer.ClusterPath+"/", c.Handler(devissuer.ClusterPath))
	return c
}

// startDevIssuer serves a dev issuer on an httptest server for the test's lifetime.
func startDevIssuer(tb testing.TB) *devissuer.Issuer {
	key, err := devissuer.GenerateKey()
	require.NoError(tb, err)
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	tb.Cleanup(srv.Close)
	iss = devissuer.New(srv.URL+devissuer.RealmPath, key)
	return iss
}

// TestNoOverlapAcrossProcesses runs three real reservations-api processes on one database,
// fires randomized bookings of ten vehicles (and some cancels) at random processes
// concurrently, then asks PostgreSQL by a self-join for two blocking bookings of one vehicle
// whose periods overlap: there must be none, whichever process stored them.
func TestNoOverlapAcrossProcesses(t *testing.T) {
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t, reservations.Migrations)
	iss := startDevIssuer(t)
	token, err := iss.TokenFor("carla") // an agent, booking for a customer
	require.NoError(t, err)
	iss.AddClients("reservations-api")
	verifier, err := auth.NewVerifier(auth.Config{IssuerURL: iss.URL(), Audience: devissuer.Audience, Algorithms: []string{"RS256"}}, nil)
	require.NoError(t, err)

	vehicles := make([]string, 10)
	for i := range vehicles {
		vehicles[i] = fmt.Sprintf("f1ee0000-0000-4000-8000-0000000001%02d", i)
	}
	known := map[string]bool{}
	for _, v := range vehicles {
		known[v] = true
	}
	// The upstream functions at their edge, answering as the contract packages say; each
	// call must come with reservations-api's own token.
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	customers := http.NewServeMux()
	customers.HandleFunc("POST /api/customers/{id}/eligibility", func(w http.ResponseWriter, r *http.Request) {
		if caller, err := verifier.Verify(r.Context(), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")); err != nil || caller.Service != "reservations-api" {
			http.Error(w, "not reservations-api", http.StatusUnauthorized)
			return
		}
		id := r.PathValue("id")
		reply(w, customersapi.Eligibility{CustomerID: id, Eligible: true, Reasons: []customersapi.Finding{}, Warnings: []customersapi.Finding{},
			Customer: &customersapi.Customer{ID: id, Email: id[:8] + "@example.com", Status: "active"}})
	})
	pricing := http.NewServeMux()
	pricing.HandleFunc("POST /api/pricing/quotes", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"days": 1, "dailyRateGrossCents": 4759, "netCents": 3999, "vatCents": 760, "grossCents": 4759, "currency": "EUR",
			"lines": []map[string]any{{"code": "RENTAL", "description": "Rental KOMPAKT", "quantity": 1, "per": "day", "unitNetCents": 3999, "netCents": 3999}}})
	})
	pricing.HandleFunc("POST /api/pricing/cancellation-fee", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"feePercent": 0, "feeCents": 0, "hoursBeforePickup": 48})
	})
	fleet := http.NewServeMux()
	fleet.HandleFunc("GET /api/vehicles/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !known[id] {
			http.NotFound(w, r)
			return
		}
		reply(w, map[string]any{"id": id, "category": "KOMPAKT", "locationCode": "BER-HBF", "status": "available", "dailyRateNetCents": nil})
	})
	// The branch is open around the clock: this test is about overlaps, not opening hours.
	locations := http.NewServeMux()
	locations.HandleFunc("GET /api/locations/{code}", func(w http.ResponseWriter, r *http.Request) {
		var week []map[string]string
		for _, day := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
			week = append(week, map[string]string{"day": day, "opens": "00:00", "closes": "24:00"})
		}
		reply(w, map[string]any{"code": r.PathValue("code"), "name": "Branch", "status": "active", "timeZone": "Europe/Berlin", "openingHours": week, "version": 1})
	})
	var upstream []string
	for name, h := range map[string]http.Handler{"CUSTOMERS_API_URL": customers, "PRICING_API_URL": pricing, "VEHICLES_API_URL": fleet, "LOCATIONS_API_URL": locations} {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		upstream = append(upstream, name+"="+srv.URL)
	}

	env := append([]string{"PORT=0", "DATABASE_URL=" + dbURL, "LOG_LEVEL=info", "OIDC_ISSUER_URL=" + iss.URL(),
		"OIDC_CLIENT_SECRET=" + devissuer.ClientSecret("reservations-api")}, upstream...)
	addrs := make([]string, 3)
	for i := range addrs {
		p := proctest.Start(t, bin, nil, env...)
		proctest.WaitReady(t, p.Addr)
		addrs[i] = p.Addr
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	t.Cleanup(client.CloseIdleConnections)
	post := func(addr, path, body string) (int, []byte, error) {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		return resp.StatusCode, raw, err
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	base := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Hour)
	const workers, perWorker = 20, 15
	var mu sync.Mutex
	created, conflicts, cancelled := 0, 0, 0
	var unexpected []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range workers {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(seed, uint64(g)))
			customer := []string{devissuer.CustomerAlice, devissuer.CustomerBob}[g%2]
			<-start
			for range perWorker {
				pickup := base.Add(time.Duration(rnd.IntN(96)) * time.Hour)
				ret := pickup.Add(time.Duration(1+rnd.IntN(36)) * time.Hour)
				body := fmt.Sprintf(`{"customerId":%q,"vehicleId":%q,"category":"KOMPAKT","pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"paymentMethodId":"pm_5e7e0000a11ce0000000000000000001"}`,
					customer, vehicles[rnd.IntN(len(vehicles))], pickup.Format(time.RFC3339), ret.Format(time.RFC3339))
				status, raw, err := post(addrs[rnd.IntN(len(addrs))], "/api/reservations", body)
				mu.Lock()
				switch {
				case err != nil:
					unexpected = append(unexpected, "book: "+err.Error())
				case status == http.StatusCreated:
					created++
				case status == http.StatusConflict:
					conflicts++
				default:
					unexpected = append(unexpected, fmt.Sprintf("book: %d %s", status, raw))
				}
				mu.Unlock()
				if err != nil || status != http.StatusCreated || rnd.IntN(4) != 0 {
					continue
				}
				var res reservations.Reservation
				if err := json.Unmarshal(raw, &res); err != nil || res.ID == "" {
					mu.Lock()
					unexpected = append(unexpected, fmt.Sprintf("created without an id: %s", raw))
					mu.Unlock()
					continue
				}
				status, raw, err = post(addrs[rnd.IntN(len(addrs))], "/api/reservations/"+res.ID+"/cancel", `{"reason":"randomized run"}`)
				mu.Lock()
				if err != nil {
					unexpected = append(unexpected, "cancel: "+err.Error())
				} else if status != http.StatusOK {
					unexpected = append(unexpected, fmt.Sprintf("cancel: %d %s", status, raw))
				} else {
					cancelled++
				}
				mu.Unlock()
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d bookings in %v over %d processes: %d created (%d then cancelled), %d conflicts",
		workers*perWorker, time.Since(began).Round(time.Millisecond), len(addrs), created, cancelled, conflicts)

	require.Empty(t, unexpected, "every booking answers 201 or 409 and every cancel 200")
	assert.Equal(t, workers*perWorker, created+conflicts)
	assert.Positive(t, created, "some bookings succeed")
	assert.Positive(t, conflicts, "some bookings conflict")
	assert.Positive(t, cancelled, "some bookings are cancelled")

	db, err := database.Open(context.Background(), database.Config{URL: dbURL, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	var rows, blocking, overlaps int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE status IN ('pending', 'confirmed', 'active'))
		FROM reservations.reservations`).Scan(&rows, &blocking))
	assert.Equal(t, created, rows, "one row per created booking")
	assert.Equal(t, created-cancelled, blocking, "every booking not cancelled still blocks its vehicle")
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM reservations.reservations x
		JOIN reservations.reservations y ON x.vehicle_id = y.vehicle_id AND x.id < y.id AND x.period && y.period
		WHERE x.status IN ('pending', 'confirmed', 'active') AND y.status IN ('pending', 'confirmed', 'active')`).Scan(&overlaps))
	assert.Zero(t, overlaps, "overlapping blocking bookings of one vehicle")
}
