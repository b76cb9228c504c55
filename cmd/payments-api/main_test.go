package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/pgtest"
	"github.com/orangecarrental/orange/platform/proctest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) {
	defer proctest.Cleanup()
	pgtest.Main(m, &pg)
}

// TestServesAlone starts the real binary and authorizes a payment with the sandbox.
func TestServesAlone(t *testing.T) {
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t, payments.Migrations)
	issuer, issuerEnv := startIssuer(t)
	token, err := issuer.TokenFor("carla")
	require.NoError(t, err)
	p := proctest.Start(t, bin, nil, "PORT=0", "DATABASE_URL="+dbURL, "LOG_LEVEL=info", issuerEnv)
	proctest.WaitReady(t, p.Addr)
	// The card is tokenized first (anyone may), then authorized by its payment method.
	resp, err := http.Post("http://"+p.Addr+"/api/payments/methods", "application/json", strings.NewReader(`{"token":"tok_success"}`))
	require.NoError(t, err)
	var method struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&method))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	// An agent's authorization retries a booking's declined payment, which payments-api made
	// from the booking's reservation.created: here, put in place.
	db, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	_, err = db.Exec(context.Background(), `INSERT INTO payments.payments (reservation_id, customer_id, status, authorized_cents, provider, failure_reason)
		VALUES ('9a9e0000-0000-4000-8000-000000000001', $1, 'failed', 14276, 'sandbox', 'card_declined')`, devissuer.CustomerAlice)
	require.NoError(t, err)
	require.NoError(t, db.Close(context.Background()))
	body := `{"reservationId":"9a9e0000-0000-4000-8000-000000000001","customerId":"` + devissuer.CustomerAlice + `","amountCents":14276,"paymentMethodId":"` + method.ID + `"}`
	req, err := http.NewRequest(http.MethodPost, "http://"+p.Addr+"/api/payments", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
}

// TestRefusesToStartMisconfigured checks start-up validation names the variable at fault.
func TestRefusesToStartMisconfigured(t *testing.T) {
	bin := proctest.Build(t, ".")
	_, issuerEnv := startIssuer(t)
	dbURL := pg.NewDatabaseURL(t, payments.Migrations)
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{[]string{"PORT=0", "DATABASE_URL=" + dbURL, issuerEnv, "PAYMENT_PROVIDER=stripe"}, "PAYMENT_PROVIDER"},
		{[]string{"PORT=0", "DATABASE_URL=" + dbURL, issuerEnv, "PAYMENT_PROVIDER_TIMEOUT=0s"}, "PAYMENT_PROVIDER_TIMEOUT"},
	} {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), tt.env...)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "started with %v", tt.env)
		assert.Contains(t, string(out), tt.want)
	}
}

func startIssuer(tb testing.TB) (*devissuer.Issuer, string) {
	key, err := devissuer.GenerateKey()
	require.NoError(tb, err)
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	tb.Cleanup(srv.Close)
	iss = devissuer.New(srv.URL+devissuer.RealmPath, key)
	return iss, "OIDC_ISSUER_URL=" + iss.URL()
}
