package up

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplicaEnv: what `orange up` decides for the local machine wins over the manifest's
// literal values, nothing names the cluster, and the -env flags win over everything.
func TestReplicaEnv(t *testing.T) {
	t.Parallel()
	svc := Service{Name: "notification-worker", Env: map[string]string{
		"MAIL_MODE":              "smtp", // the cluster's mail server: here mail goes to a folder
		"LOG_LEVEL":              "info",
		"DB_MAX_CONNS":           "16",
		"RESERVATIONS_API_URL":   "http://reservations-api.orange.svc.cluster.local",
		"SOMETHING_URL":          "http://something.orange.svc.cluster.local:8080/x",
		"PAYMENT_PROVIDER":       "sandbox",
		"NOTIFICATION_BATCHSIZE": "5",
	}}
	host := map[string]string{"PATH": "/bin", "HOME": "/home/me"}
	platform := map[string]string{"MAIL_MODE": "folder", "MAIL_DIR": "/data/mail", "OIDC_ISSUER_URL": "http://127.0.0.1:8080/realms/orange"}
	urls := map[string]string{"RESERVATIONS_API_URL": "http://127.0.0.1:4001", "PRICING_API_URL": "http://127.0.0.1:4002/pricing-api"}
	local := map[string]string{"OIDC_CLIENT_SECRET": "s3cret"}

	tests := []struct {
		name      string
		all, one  map[string]string
		maxConns  int
		want      map[string]string
		wantUnset []string
	}{
		{
			name: "orange up's values win over the manifest's", maxConns: 8,
			want: map[string]string{
				"PATH": "/bin", "HOME": "/home/me", "MAIL_MODE": "folder", "MAIL_DIR": "/data/mail", "LOG_LEVEL": "info",
				"DB_MAX_CONNS": "8", "RESERVATIONS_API_URL": "http://127.0.0.1:4001", "PRICING_API_URL": "http://127.0.0.1:4002/pricing-api",
				"PAYMENT_PROVIDER": "sandbox", "NOTIFICATION_BATCHSIZE": "5", "OIDC_CLIENT_SECRET": "s3cret",
				"OIDC_ISSUER_URL": "http://127.0.0.1:8080/realms/orange",
			},
			wantUnset: []string{"SOMETHING_URL", "PORT"},
		},
		{
			name: "a lower pool stays", maxConns: 32,
			want: map[string]string{"DB_MAX_CONNS": "16"},
		},
		{
			name: "-env for all, then for the Service", maxConns: 8,
			all:  map[string]string{"LOG_LEVEL": "debug", "MAIL_MODE": "smtp", "PORT": "1"},
			one:  map[string]string{"LOG_LEVEL": "warn", "SMTP_HOST": "mail.example:25"},
			want: map[string]string{"LOG_LEVEL": "warn", "MAIL_MODE": "smtp", "SMTP_HOST": "mail.example:25"},
			// PORT is each replica's own (startReplica).
			wantUnset: []string{"PORT"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, kv := range replicaEnv(svc, host, platform, urls, local, tc.maxConns, tc.all, tc.one) {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, kv)
				got[k] = v
			}
			for k, v := range tc.want {
				assert.Equal(t, v, got[k], k)
			}
			for _, k := range tc.wantUnset {
				assert.NotContains(t, got, k)
			}
			for k, v := range got {
				assert.NotContains(t, v, "svc.cluster.local", k)
			}
		})
	}
}

func TestParseEnv(t *testing.T) {
	t.Parallel()
	all, per, err := ParseEnv([]string{
		"RATE_LIMIT_RPS=100000",
		"api-gateway:RATE_LIMIT_BURST=5000",
		"notification-worker:SMTP_HOST=mail.example:587", // ":" and "=" in a value
		"api-gateway:UPSTREAM=a=b",
		"EMPTY=",
		"RATE_LIMIT_RPS=7", // the later wins
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"RATE_LIMIT_RPS": "7", "EMPTY": ""}, all)
	assert.Equal(t, map[string]map[string]string{
		"api-gateway":         {"RATE_LIMIT_BURST": "5000", "UPSTREAM": "a=b"},
		"notification-worker": {"SMTP_HOST": "mail.example:587"},
	}, per)

	for _, bad := range []string{"NOVALUE", "=x", "1ABC=x", "Api_Gateway:X=1", ":X=1", "api-gateway:=1", "A-B=1", "PORT=9000", "api-gateway:PORT=1"} {
		_, _, err := ParseEnv([]string{bad})
		assert.Error(t, err, bad)
	}
}
