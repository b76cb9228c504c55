package syncworker

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/orangecarrental/orange/events"
)

// validators are the compiled JSON Schemas of the inbound types, by type.
type validators map[string]*jsonschema.Schema

// compileSchemas compiles the published schema (events.Schema) of every inbound type, with
// formats asserted (uuid, date-time): the schema a producer reads is the one we apply.
func compileSchemas() (validators, error) {
	out := validators{}
	// One compiler for every type: each compiler compiles the draft's meta-schema again
	// before the first schema it is given, which was most of this function's start
	// (docs/performance.md, "Start time").
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, typ := range inboundTypes() {
		raw, ok := events.Schema(typ)
		if !ok {
			return nil, fmt.Errorf("no JSON Schema for inbound type %s", typ)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("schema of %s: %w", typ, err)
		}
		url := "urn:orange:schema:" + typ
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("schema of %s: %w", typ, err)
		}
		if out[typ], err = c.Compile(url); err != nil {
			return nil, fmt.Errorf("schema of %s: %w", typ, err)
		}
	}
	return out, nil
}

var printer = message.NewPrinter(language.English)

// validate checks data against typ's schema and returns each violation as
// "data/<pointer>: <reason>", sorted, empty when data is valid.
func (v validators) validate(typ string, data []byte) ([]string, error) {
	sch, ok := v[typ]
	if !ok {
		return nil, fmt.Errorf("no schema for %s", typ)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return []string{"data: is not JSON"}, nil
	}
	err = sch.Validate(inst)
	var ve *jsonschema.ValidationError
	if err == nil {
		return nil, nil
	}
	if !errors.As(err, &ve) {
		return nil, err
	}
	var out []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, "data"+pointer(e.InstanceLocation)+": "+e.ErrorKind.LocalizedString(printer))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// pointer is the JSON Pointer (RFC 6901) of an instance location: "/a/0/b~1c".
func pointer(loc []string) string {
	var b strings.Builder
	for _, token := range loc {
		b.WriteString("/" + pointerEscaper.Replace(token))
	}
	return b.String()
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")
