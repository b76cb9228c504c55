package platform_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

func TestLoadServerConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    platform.ServerConfig
		wantErr string // a substring; "" means success
	}{
		{
			name: "defaults",
			env:  map[string]string{},
			want: platform.ServerConfig{Port: "8080", ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 20 * time.Second,
				WriteTimeout: 35 * time.Second, IdleTimeout: 120 * time.Second, DrainTimeout: 30 * time.Second, LogLevel: "info"},
		},
		{
			name: "overrides",
			env: map[string]string{"PORT": "9090", "HTTP_READ_HEADER_TIMEOUT": "250ms", "HTTP_READ_TIMEOUT": "5s", "HTTP_WRITE_TIMEOUT": "1m",
				"HTTP_IDLE_TIMEOUT": "3m", "HTTP_DRAIN_TIMEOUT": "2m", "LOG_LEVEL": "debug"},
			want: platform.ServerConfig{Port: "9090", ReadHeaderTimeout: 250 * time.Millisecond, ReadTimeout: 5 * time.Second,
				WriteTimeout: time.Minute, IdleTimeout: 3 * time.Minute, DrainTimeout: 2 * time.Minute, LogLevel: "debug"},
		},
		{name: "bad duration", env: map[string]string{"HTTP_DRAIN_TIMEOUT": "soon"}, wantErr: "HTTP_DRAIN_TIMEOUT"},
		{name: "bad read header duration", env: map[string]string{"HTTP_READ_HEADER_TIMEOUT": "10"}, wantErr: "HTTP_READ_HEADER_TIMEOUT"},
		{name: "empty PORT", env: map[string]string{"PORT": ""}, wantErr: "PORT"},
		{name: "zero drain timeout", env: map[string]string{"HTTP_DRAIN_TIMEOUT": "0"}, wantErr: "HTTP_DRAIN_TIMEOUT"},
		{name: "negative read header timeout", env: map[string]string{"HTTP_READ_HEADER_TIMEOUT": "-1s"}, wantErr: "HTTP_READ_HEADER_TIMEOUT"},
		{name: "zero read timeout", env: map[string]string{"HTTP_READ_TIMEOUT": "0s"}, wantErr: "HTTP_READ_TIMEOUT"},
		{name: "zero write timeout", env: map[string]string{"HTTP_WRITE_TIMEOUT": "0s"}, wantErr: "HTTP_WRITE_TIMEOUT"},
		{name: "zero idle timeout", env: map[string]string{"HTTP_IDLE_TIMEOUT": "0s"}, wantErr: "HTTP_IDLE_TIMEOUT"},
		{name: "header timeout beyond the read timeout", env: map[string]string{"HTTP_READ_TIMEOUT": "5s"}, wantErr: "HTTP_READ_HEADER_TIMEOUT"},
		{name: "write timeout not beyond the read timeout", env: map[string]string{"HTTP_WRITE_TIMEOUT": "20s"}, wantErr: "HTTP_WRITE_TIMEOUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got platform.ServerConfig
			err := platform.LoadConfig(context.Background(), envconfig.MapLookuper(tc.env), &got)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestServerConfigValidate(t *testing.T) {
	t.Parallel()
	good := platform.ServerConfig{Port: "8080", ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: 2 * time.Second,
		IdleTimeout: time.Second, DrainTimeout: time.Second}
	require.NoError(t, good.Validate())
	tests := []struct {
		name    string
		mutate  func(*platform.ServerConfig)
		wantErr string
	}{
		{name: "empty port", mutate: func(c *platform.ServerConfig) { c.Port = "" }, wantErr: "PORT"},
		{name: "a port that is no number", mutate: func(c *platform.ServerConfig) { c.Port = "abc" }, wantErr: "PORT must be a port number"},
		{name: "a port out of range", mutate: func(c *platform.ServerConfig) { c.Port = "70000" }, wantErr: "PORT"},
		{name: "an unknown log level", mutate: func(c *platform.ServerConfig) { c.LogLevel = "verbose" }, wantErr: "LOG_LEVEL must be debug, info, warn or error"},
		{name: "zero read header timeout", mutate: func(c *platform.ServerConfig) { c.ReadHeaderTimeout = 0 }, wantErr: "HTTP_READ_HEADER_TIMEOUT"},
		{name: "zero drain timeout", mutate: func(c *platform.ServerConfig) { c.DrainTimeout = 0 }, wantErr: "HTTP_DRAIN_TIMEOUT"},
		{name: "zero read timeout", mutate: func(c *platform.ServerConfig) { c.ReadTimeout = 0 }, wantErr: "HTTP_READ_TIMEOUT"},
		{name: "zero write timeout", mutate: func(c *platform.ServerConfig) { c.WriteTimeout = 0 }, wantErr: "HTTP_WRITE_TIMEOUT"},
		{name: "zero idle timeout", mutate: func(c *platform.ServerConfig) { c.IdleTimeout = 0 }, wantErr: "HTTP_IDLE_TIMEOUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := good
			tc.mutate(&c)
			err := c.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// FunctionConfig is how a function composes its configuration from platform pieces. It is
// exported because envconfig fills only exported embedded structs (see devConfig).
type FunctionConfig struct {
	Server   platform.ServerConfig
	Database database.Config
	Knative  platform.KnativeConfig
	Greeting string `env:"GREETING, default=hello"`
}

func (c *FunctionConfig) Validate() error {
	if err := c.Server.Validate(); err != nil {
		return err
	}
	return c.Database.Validate()
}

func TestLoadComposedConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c FunctionConfig)
		wantErr string
	}{
		{
			name: "nested defaults and values",
			env:  map[string]string{"DATABASE_URL": "postgres://app@db/orange", "K_SERVICE": "fleet-api", "K_SINK": "http://broker"},
			check: func(t *testing.T, c FunctionConfig) {
				assert.Equal(t, "8080", c.Server.Port)
				assert.Equal(t, int32(16), c.Database.MaxConns)
				assert.Equal(t, int32(0), c.Database.MinConns)
				assert.Equal(t, 5*time.Second, c.Database.ConnectTimeout)
				assert.Equal(t, "postgres://app@db/orange", c.Database.URL)
				assert.Equal(t, "fleet-api", c.Knative.Service)
				assert.Equal(t, "http://broker", c.Knative.Sink)
				assert.Equal(t, "hello", c.Greeting)
			},
		},
		{name: "database validation runs", env: map[string]string{"DB_MAX_CONNS": "0"}, wantErr: "DB_MAX_CONNS"},
		{name: "bad integer names the variable", env: map[string]string{"DB_MIN_CONNS": "many"}, wantErr: "DB_MIN_CONNS"},
		{name: "nested bad duration names the variable", env: map[string]string{"HTTP_DRAIN_TIMEOUT": "soon"}, wantErr: "HTTP_DRAIN_TIMEOUT"},
		{name: "server validation runs", env: map[string]string{"PORT": ""}, wantErr: "PORT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c FunctionConfig
			err := platform.LoadConfig(context.Background(), envconfig.MapLookuper(tc.env), &c)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestDatabaseConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     database.Config
		wantErr string // "" means valid
	}{
		{name: "valid", cfg: database.Config{URL: "postgres://app:pw@db:5432/orange", MaxConns: 16}},
		{name: "no URL is valid (checked at open)", cfg: database.Config{MaxConns: 1}},
		{name: "min equals max", cfg: database.Config{MaxConns: 4, MinConns: 4}},
		{name: "zero max conns", cfg: database.Config{MaxConns: 0}, wantErr: "DB_MAX_CONNS"},
		{name: "min above max", cfg: database.Config{MaxConns: 2, MinConns: 3}, wantErr: "DB_MIN_CONNS"},
		{name: "negative min", cfg: database.Config{MaxConns: 2, MinConns: -1}, wantErr: "DB_MIN_CONNS"},
		{name: "unparseable URL", cfg: database.Config{URL: "postgres://app:topsecret@db:notaport/orange", MaxConns: 1}, wantErr: "DATABASE_URL"},
		{name: "unknown parameter", cfg: database.Config{URL: "postgres://app:topsecret@db/orange?sslmode=sometimes", MaxConns: 1}, wantErr: "DATABASE_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.NotContains(t, err.Error(), "topsecret", "validation errors must not print the password")
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		raw      string
		secrets  []string
		wantKept []string // parts that must survive, so the URL stays useful in logs
	}{
		{name: "userinfo", raw: "postgres://app:s3cret@db:5432/orange?sslmode=disable", secrets: []string{"s3cret"}, wantKept: []string{"app", "db:5432", "/orange", "sslmode=disable"}},
		{name: "escaped userinfo", raw: "postgres://app:p%40ss%3Aw0rd@db/orange", secrets: []string{"p@ss", "p%40ss", "w0rd"}, wantKept: []string{"app", "db"}},
		{name: "query parameter", raw: "postgres://app@db/orange?password=s3cret&sslmode=require", secrets: []string{"s3cret"}, wantKept: []string{"app", "sslmode=require"}},
		{name: "both forms", raw: "postgres://app:first@db/orange?password=second", secrets: []string{"first", "second"}, wantKept: []string{"app", "db"}},
		{name: "unix socket host", raw: "postgres:///orange?host=/run/pg&password=s3cret", secrets: []string{"s3cret"}},
		{name: "multiple hosts", raw: "postgresql://app:s3cret@h1:5432,h2:5432/orange", secrets: []string{"s3cret"}, wantKept: []string{"h1:5432,h2:5432"}},
		{name: "keyword/value string", raw: "host=db user=app password=s3cret dbname=orange", secrets: []string{"s3cret"}},
		{name: "unparseable", raw: "postgres://app:s3cret@db:port/orange", secrets: []string{"s3cret"}},
		{name: "no password", raw: "postgres://app@db/orange", wantKept: []string{"postgres://app@db/orange"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := database.Redact(tc.raw)
			for _, s := range tc.secrets {
				assert.NotContains(t, got, s)
			}
			for _, k := range tc.wantKept {
				assert.Contains(t, got, k)
			}

			// LogValue: the whole config logged never shows the password.
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", slog.Any("db", database.Config{URL: tc.raw, MaxConns: 7}))
			for _, s := range tc.secrets {
				assert.NotContains(t, buf.String(), s)
			}
			assert.Contains(t, buf.String(), `"maxConns":7`)
		})
	}
}

// devConfig embeds a composed configuration, as `orange dev` does.
type devConfig struct {
	FunctionConfig
	DataDir string        `env:"ORANGE_DATA_DIR, default=.data"`
	Grace   time.Duration `env:"ORANGE_GRACE, default=1s"`
}

func TestLoadEmbeddedConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "valid", env: map[string]string{}},
		{name: "own field names its variable", env: map[string]string{"ORANGE_GRACE": "later"}, wantErr: "ORANGE_GRACE"},
		{name: "embedded nested field names its variable", env: map[string]string{"HTTP_READ_HEADER_TIMEOUT": "later"}, wantErr: "HTTP_READ_HEADER_TIMEOUT"},
		{name: "embedded validation is promoted", env: map[string]string{"DB_MAX_CONNS": "0"}, wantErr: "DB_MAX_CONNS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c devConfig
			err := platform.LoadConfig(context.Background(), envconfig.MapLookuper(tc.env), &c)
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, ".data", c.DataDir)
				assert.Equal(t, "8080", c.Server.Port)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}
