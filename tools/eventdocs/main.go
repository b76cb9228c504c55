// Command eventdocs writes the event catalogue as documents: one JSON Schema (draft 2020-12)
// per event type in events/schemas/<type>.json, generated from the Go payload types of
// events/ (and, for the inbound types, the rules of events.Inbound), and the AsyncAPI 3.0
// document events/asyncapi.json, whose producers and consumers come from the Knative
// manifests (EventPolicies, Triggers, PingSources). It lives here, not in events/, because
// events must not import knative. A test holds the checked-in files to what it generates:
//
//	go generate ./events/        (or: go run ./tools/eventdocs -dir events)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/knative"
)

func main() {
	dir := flag.String("dir", ".", "the events package directory to write into")
	flag.Parse()
	if err := write(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "eventdocs:", err)
		os.Exit(1)
	}
}

// generate returns every document, by its path relative to the events directory dir
// (whose Go source it reads for doc comments).
func generate(dir string, manifests fs.FS) (map[string][]byte, error) {
	d, err := readDocs(dir)
	if err != nil {
		return nil, err
	}
	fl, err := readFlows(manifests)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	var errs []error
	for typ := range events.Types {
		s, err := schemaOf(typ, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[schemaPath(typ)], err = encode(s)
		errs = append(errs, err)
	}
	out["asyncapi.json"], err = encode(asyncAPI(d, fl))
	errs = append(errs, err)
	return out, errors.Join(errs...)
}

// schemaPath is where the schema of typ lives, relative to events/.
func schemaPath(typ string) string { return "schemas/" + typ + ".json" }

// encode is v as indented JSON with a final newline; maps come out with sorted keys, so the
// bytes depend only on the content.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(v)
	return b.Bytes(), err
}

// write regenerates the documents in dir, removing schemas of types that are gone.
func write(dir string) error {
	docs, err := generate(dir, knative.Manifests)
	if err != nil {
		return err
	}
	stale, err := filepath.Glob(filepath.Join(dir, "schemas", "*.json"))
	if err != nil {
		return err
	}
	for _, f := range stale {
		if _, ok := docs["schemas/"+filepath.Base(f)]; !ok {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "schemas"), 0o755); err != nil {
		return err
	}
	for name, b := range docs {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// payloadName is the Go name of typ's payload struct.
func payloadName(typ string) string {
	t := reflect.TypeOf(events.Types[typ]())
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return strings.TrimSpace(t.Name())
}
