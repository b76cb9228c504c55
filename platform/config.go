package platform

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// ServerConfig is how a function's HTTP server listens and drains.
type ServerConfig struct {
	Port              string        `env:"PORT, default=8080"`
	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT, default=10s"`
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
	if c.ReadHeaderTimeout <= 0 {
		return fmt.Errorf("HTTP_READ_HEADER_TIMEOUT must be positive, got %s", c.ReadHeaderTimeout)
	}
	if c.DrainTimeout <= 0 {
		return fmt.Errorf("HTTP_DRAIN_TIMEOUT must be positive, got %s", c.DrainTimeout)
	}
	return nil
}
