package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/host"
)

// emit sends one CloudEvent in binary mode to a broker or any CloudEvents receiver: by
// default the in-process broker of a running `orange dev`.
func emit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("emit", flag.ContinueOnError)
	fs.SetOutput(stdout)
	to := fs.String("to", "http://localhost:8080"+host.BrokerIngressPath, "where to send: a Broker URL (K_SINK) or a receiver")
	typ := fs.String("type", "", "event type, e.g. "+events.CustomerRegistered+" (required)")
	source := fs.String("source", "orange-cli", "event source")
	subject := fs.String("subject", "", "event subject: the aggregate id")
	data := fs.String("data", "{}", "JSON data, or @file to read it from a file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *typ == "" {
		fs.Usage()
		return errors.New("emit: -type is required")
	}
	if _, known := events.Types[*typ]; !known {
		fmt.Fprintf(stdout, "note: %s is not in the catalogue; sending it anyway\n", *typ)
	}
	raw := []byte(*data)
	if strings.HasPrefix(*data, "@") {
		var err error
		if raw, err = os.ReadFile(strings.TrimPrefix(*data, "@")); err != nil {
			return err
		}
	}
	if !json.Valid(raw) {
		return errors.New("emit: -data must be JSON")
	}
	e, err := events.New(*source, *typ, *subject, json.RawMessage(raw))
	if err != nil {
		return err
	}
	pub, err := events.NewHTTPPublisher(*to, nil)
	if err != nil {
		return err
	}
	if err := pub.Publish(ctx, e); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sent %s (%s) to %s\n", e.ID(), e.Type(), *to)
	return nil
}
