package platform

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// ServerConfig is how a function's HTTP server listens, bounds each connection and drains.
// The timeouts are chosen against Knative's timeoutSeconds (30 s in knative/base; docs/security.md):
// a request whose body is still arriving after HTTP_READ_TIMEOUT gets a 408 from us before
// Knative gives up on it, a handler may run as long as Knative waits for it and a little
// more (HTTP_WRITE_TIMEOUT), and an idle keep-alive connection is closed after
// HTTP_IDLE_TIMEOUT — longer than the queue-proxy keeps its idle connections to us (Go's
// 90 s), so the proxy always lets go first and never sends on a connection we are closing.
type ServerConfig struct {
	Port string `env:"PORT, default=8080"`
	// Host is the address to listen on; empty: every interface, as a container must. Not
	// read from the environment here: the host program decides (`orange dev`: ORANGE_LISTEN).
	Host string
	// ReadHeaderTimeout bounds reading a request's line and headers.
	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT, default=10s"`
	// ReadTimeout bounds reading a whole request, body included: a body still arriving then
	// is answered 408 and the connection closed.
	ReadTimeout time.Duration `env:"HTTP_READ_TIMEOUT, default=20s"`
	// WriteTimeout bounds a request from the end of its headers to the end of the response:
	// it must exceed the longest handler (Knative's timeoutSeconds), or an answer in time is
	// cut off.
	WriteTimeout time.Duration `env:"HTTP_WRITE_TIMEOUT, default=35s"`
	// IdleTimeout is how long a keep-alive connection may wait for its next request.
	IdleTimeout time.Duration `env:"HTTP_IDLE_TIMEOUT, default=120s"`
	// DrainTimeout bounds how long SIGTERM waits for in-flight requests. Knative gives a pod
	// its revision timeout before SIGKILL; keep this below that.
	DrainTimeout time.Duration `env:"HTTP_DRAIN_TIMEOUT, default=30s"`
	LogLevel     string        `env:"LOG_LEVEL, default=info"`
}

// KnativeConfig holds what Knative tells a container about itself
// (https://knative.dev/docs/serving/services/ — the K_* runtime contract). All are empty
// outside Knative.
type KnativeConfig struct {
	Service       string `env:"K_SERVICE"`
	Revision      string `env:"K_REVISION"`
	Configuration string `env:"K_CONFIGURATION"`
	// Sink is where events are sent (a Broker URL), injected by a SinkBinding or set explicitly.
	Sink string `env:"K_SINK"`
}

// Validator is implemented by config structs that check themselves after loading.
type Validator interface {
	Validate() error
}

// LoadConfig fills cfg from lookuper (the process environment when nil) and validates it,
// so that a misconfigured process stops at start with a message naming the variable.
func LoadConfig(ctx context.Context, lookuper envconfig.Lookuper, cfg any) error {
	if lookuper == nil {
		lookuper = envconfig.OsLookuper()
	}
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: lookuper}); err != nil {
		if name := variableOf(cfg, err); name != "" {
			return fmt.Errorf("configuration: %s: %w", name, err)
		}
		return fmt.Errorf("configuration: %w", err)
	}
	if v, ok := cfg.(Validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
	}
	return nil
}

// variableOf names the environment variable behind an envconfig error. envconfig reports the
// Go field path ("Server: DrainTimeout: …"); an operator knows the variable.
func variableOf(cfg any, err error) string {
	names := map[string]string{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			p := f.Name
			if path != "" {
				p = path + ": " + f.Name
			}
			if tag := f.Tag.Get("env"); tag != "" {
				names[p] = strings.TrimSpace(strings.Split(tag, ",")[0])
			} else {
				walk(f.Type, p)
				if f.Anonymous {
					walk(f.Type, path)
				}
			}
		}
	}
	walk(reflect.TypeOf(cfg), "")
	best := ""
	for p := range names {
		if strings.HasPrefix(err.Error(), p+":") && len(p) > len(best) {
			best = p
		}
	}
	return names[best]
}

// Validate checks the server settings.
func (c ServerConfig) Validate() error {
	if c.Port == "" {
		return fmt.Errorf("PORT must not be empty")
	}
	if n, err := strconv.Atoi(c.Port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("PORT must be a port number from 0 to 65535, got %q", c.Port)
	}
	switch strings.ToLower(c.LogLevel) {
	case "", "debug", "info", "warn", "error": // "": info
	default:
		return fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", c.LogLevel)
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{
		{"HTTP_READ_HEADER_TIMEOUT", c.ReadHeaderTimeout},
		{"HTTP_READ_TIMEOUT", c.ReadTimeout},
		{"HTTP_WRITE_TIMEOUT", c.WriteTimeout},
		{"HTTP_IDLE_TIMEOUT", c.IdleTimeout},
		{"HTTP_DRAIN_TIMEOUT", c.DrainTimeout},
	} {
		if t.d <= 0 {
			return fmt.Errorf("%s must be positive, got %s", t.name, t.d)
		}
	}
	if c.ReadHeaderTimeout > c.ReadTimeout {
		return fmt.Errorf("HTTP_READ_HEADER_TIMEOUT (%s) must not exceed HTTP_READ_TIMEOUT (%s): the headers are part of the request", c.ReadHeaderTimeout, c.ReadTimeout)
	}
	if c.WriteTimeout <= c.ReadTimeout {
		return fmt.Errorf("HTTP_WRITE_TIMEOUT (%s) must exceed HTTP_READ_TIMEOUT (%s): a request whose body took the whole read timeout still needs its answer", c.WriteTimeout, c.ReadTimeout)
	}
	return nil
}
