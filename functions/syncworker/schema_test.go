package syncworker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/orangecarrental/orange/events"
)

// TestInboundSchemasCompile: the schemas are compiled on first use, not at start
// (schema.go), so this is where a schema the validator refuses shows — one a generator
// change gave a keyword the validator does not apply. Every inbound type has one, and {}
// names its required fields.
func TestInboundSchemasCompile(t *testing.T) {
	v, err := compileSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range inboundTypes() {
		if v[typ] == nil {
			t.Errorf("no compiled schema for %s", typ)
		}
		if problems, err := validateInbound(typ, []byte(`{}`)); err != nil || len(problems) != 1 || !strings.HasPrefix(problems[0], "data: missing propert") {
			t.Errorf("%s: {} gave %q, %v; want its required fields named", typ, problems, err)
		}
	}
}

// TestCompileRefusesWhatItWouldNotApply: a keyword outside the supported set fails the
// compile instead of being ignored.
func TestCompileRefusesWhatItWouldNotApply(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown top keyword":  `{"type":"object","additionalProperties":false,"properties":{},"oneOf":[]}`,
		"open object":          `{"type":"object","additionalProperties":true,"properties":{}}`,
		"no additionalProps":   `{"type":"object","properties":{}}`,
		"unknown field kw":     `{"type":"object","additionalProperties":false,"properties":{"a":{"type":"string","minLength":1}}}`,
		"unknown format":       `{"type":"object","additionalProperties":false,"properties":{"a":{"type":"string","format":"email"}}}`,
		"array field":          `{"type":"object","additionalProperties":false,"properties":{"a":{"type":"array"}}}`,
		"bound on string":      `{"type":"object","additionalProperties":false,"properties":{"a":{"type":"string","minimum":1}}}`,
		"required not a field": `{"type":"object","additionalProperties":false,"properties":{},"required":["a"]}`,
		"other draft":          `{"$schema":"http://json-schema.org/draft-07/schema","type":"object","additionalProperties":false,"properties":{}}`,
	} {
		if _, err := compileObject([]byte(doc)); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}

// TestValidatorAgreesWithJSONSchema holds the validator to a full JSON Schema
// implementation (the library, linked into this test only): for every inbound type, a valid
// payload and each kind of violation of each field, both accept or refuse, at the same
// places (instance locations).
func TestValidatorAgreesWithJSONSchema(t *testing.T) {
	ours, err := compileSchemas()
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, typ := range inboundTypes() {
		raw, _ := events.Schema(typ)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource("urn:"+typ, doc); err != nil {
			t.Fatal(err)
		}
		lib, err := c.Compile("urn:" + typ)
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range payloads(t, ours[typ]) {
			got, err := ours.validate(typ, data)
			if err != nil {
				t.Fatal(err)
			}
			want := libPlaces(t, lib, data)
			if gp := places(got); !slices.Equal(gp, want) {
				t.Errorf("%s, %s %s: ours %q, the library's places %q", typ, name, data, got, want)
			}
		}
	}
}

// payloads are a valid payload for s and, by name, each kind of violation.
func payloads(t *testing.T, s *objectSchema) map[string][]byte {
	valid := map[string]any{}
	for name, f := range s.props {
		valid[name] = validValue(f)
	}
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	with := func(name string, v any) []byte {
		m := maps.Clone(valid)
		if v == nil {
			delete(m, name)
		} else {
			m[name] = v
		}
		return enc(m)
	}
	out := map[string][]byte{
		"valid":       enc(valid),
		"extra field": enc(map[string]any{"extra": 1}),
		"array":       []byte(`[]`),
		"string":      []byte(`"x"`),
		"null":        []byte(`null`),
		"two missing": []byte(`{"extra": true}`),
	}
	for name, f := range s.props {
		out[name+" missing"] = with(name, nil)
		out[name+" boolean"] = with(name, true)
		out[name+" null"] = with(name, json.RawMessage(`null`))
		switch f.typ {
		case "string":
			out[name+" number"] = with(name, 7)
			if f.maxLength >= 0 {
				out[name+" too long"] = with(name, strings.Repeat("ä", f.maxLength+1))
				out[name+" longest"] = with(name, strings.Repeat("ä", f.maxLength))
			}
			if f.enum != nil {
				out[name+" not in enum"] = with(name, "nope")
			}
			switch f.format {
			case "uuid":
				out[name+" not a uuid"] = with(name, "1234")
				out[name+" upper uuid"] = with(name, "6F7A1C0E-5B1D-4C3E-9B8F-2A6D0E4C9B71")
				out[name+" uuid braces"] = with(name, "{6f7a1c0e-5b1d-4c3e-9b8f-2a6d0e4c9b71}")
			case "date-time":
				for i, s := range []string{"yesterday", "2026-12-03", "2026-12-03T10:00:00", "2026-12-03 10:00:00Z",
					"2026-12-03t10:00:00z", "2026-12-03T10:00:00.123456+01:00", "2026-02-30T10:00:00Z",
					"2026-12-31T23:59:60Z", "2026-12-31T22:59:60Z", "2026-12-31T10:00:00,5Z", "2026-12-03T24:00:00Z",
					"2026-12-03T10:00:00+24:00", "2026-12-03T10:00:00-23:60", "2026-12-03T10:00:00+23:59"} {
					out[fmt.Sprintf("%s date-time %d", name, i)] = with(name, s)
				}
			}
		default:
			out[name+" string"] = with(name, "12")
			out[name+" fraction"] = with(name, json.RawMessage(`1.5`))
			out[name+" whole float"] = with(name, json.RawMessage(`1.0`))
			if f.min != nil {
				out[name+" below"] = with(name, json.Number(fmt.Sprint(ratFloat(f.min)-1)))
				out[name+" at minimum"] = with(name, json.Number(fmt.Sprint(ratFloat(f.min))))
			}
			if f.max != nil {
				out[name+" above"] = with(name, json.Number(fmt.Sprint(ratFloat(f.max)+1)))
				out[name+" at maximum"] = with(name, json.Number(fmt.Sprint(ratFloat(f.max))))
			}
		}
	}
	return out
}

func validValue(f *fieldSchema) any {
	switch {
	case f.format == "uuid":
		return "6f7a1c0e-5b1d-4c3e-9b8f-2a6d0e4c9b71"
	case f.format == "date-time":
		return "2026-12-03T10:00:00Z"
	case f.enum != nil:
		return f.enum[0]
	case f.typ == "string":
		return "fine"
	case f.min != nil:
		return json.Number(fmt.Sprint(ratFloat(f.min)))
	default:
		return 0
	}
}

// places are the instance locations of our violations ("data/x"), sorted, once each.
func places(problems []string) []string {
	var out []string
	for _, p := range problems {
		out = append(out, p[:strings.Index(p, ":")])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// libPlaces are the library's, in the same form.
func libPlaces(t *testing.T, sch *jsonschema.Schema, data []byte) []string {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	var out []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, "data"+pointer(e.InstanceLocation))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.Sort(out)
	return slices.Compact(out)
}
