package syncworker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// The inbound payloads are checked against their published JSON Schemas (events.Schema,
// draft 2020-12) by the validator below, not by a general JSON Schema library: the one this
// function used (santhosh-tekuri/jsonschema) compiles every draft's meta-schemas in its
// package initialisation, ~5.4 ms and 1.7 MB on every start of the process whether or not a
// partner ever sends an event — a quarter of sync-worker's start on the 2-core box
// (docs/benchmarks.md, "Start time"). The schemas of the inbound types are generated from
// events.Inbound and use a small, fixed set of keywords: an object with properties, required
// and additionalProperties false; each property a string (format uuid or date-time,
// pattern, maxLength, enum), an integer or a number (minimum, maximum). compileSchemas
// accepts exactly that set and refuses a schema with any other keyword, so a schema the
// validator would not fully apply fails TestInboundSchemasCompile instead of being applied
// in part; TestValidatorAgreesWithJSONSchema checks, with the library in the test only, that
// both accept and refuse the same payloads at the same places. So the schema a producer
// reads is still the one we apply.

// validators are the compiled schemas of the inbound types, by type.
type validators map[string]*objectSchema

// inboundSchemas compiles the inbound types' schemas once per process, on first use: the
// sender's first pass (Run, after the process is ready) or the first /api/events, whichever
// comes first, not in New: a replica may never get a partner's event, and its start is
// what a cold start waits for. The schemas are embedded, so the compile cannot fail in one
// process and not in another: TestInboundSchemasCompile fails the build's tests instead;
// should it fail anyway, /api/events answers 500 and the sender logs it.
var inboundSchemas = sync.OnceValues(compileSchemas)

// objectSchema is an inbound payload's schema: an object of known fields, no others.
type objectSchema struct {
	props    map[string]*fieldSchema
	names    []string // the property names, sorted: violations come out in a stable order
	required []string
}

// fieldSchema is one property's schema.
type fieldSchema struct {
	typ       string // "string", "integer" or "number"
	format    string // "", "uuid" or "date-time"
	pattern   *regexp.Regexp
	maxLength int // -1: none
	min, max  *big.Rat
	enum      []string
}

// compileSchemas compiles the published schema (events.Schema) of every inbound type.
func compileSchemas() (validators, error) {
	out := validators{}
	for _, typ := range inboundTypes() {
		raw, ok := events.Schema(typ)
		if !ok {
			return nil, fmt.Errorf("no JSON Schema for inbound type %s", typ)
		}
		s, err := compileObject(raw)
		if err != nil {
			return nil, fmt.Errorf("schema of %s: %w", typ, err)
		}
		out[typ] = s
	}
	return out, nil
}

// compileObject reads an inbound type's schema document, refusing any keyword it would not
// apply.
func compileObject(raw []byte) (*objectSchema, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	s := &objectSchema{props: map[string]*fieldSchema{}}
	var props map[string]map[string]json.RawMessage
	for kw, v := range doc {
		var err error
		switch kw {
		case "$schema":
			var u string
			if err = json.Unmarshal(v, &u); err == nil && u != "https://json-schema.org/draft/2020-12/schema" {
				err = fmt.Errorf("draft %s", u)
			}
		case "title", "description": // annotations
		case "type":
			err = want(v, `"object"`)
		case "additionalProperties":
			err = want(v, "false")
		case "required":
			err = json.Unmarshal(v, &s.required)
		case "properties":
			err = json.Unmarshal(v, &props)
		default:
			err = errors.New("unsupported keyword")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kw, err)
		}
	}
	if doc["type"] == nil || doc["additionalProperties"] == nil {
		return nil, errors.New(`want "type": "object" and "additionalProperties": false`)
	}
	for name, p := range props {
		f, err := compileField(p)
		if err != nil {
			return nil, fmt.Errorf("properties/%s: %w", name, err)
		}
		s.props[name] = f
		s.names = append(s.names, name)
	}
	slices.Sort(s.names)
	for _, r := range s.required {
		if s.props[r] == nil {
			return nil, fmt.Errorf("required: %s is not a property", r)
		}
	}
	return s, nil
}

func compileField(p map[string]json.RawMessage) (*fieldSchema, error) {
	f := &fieldSchema{maxLength: -1}
	for kw, v := range p {
		var err error
		switch kw {
		case "title", "description":
		case "type":
			if err = json.Unmarshal(v, &f.typ); err == nil && f.typ != "string" && f.typ != "integer" && f.typ != "number" {
				err = fmt.Errorf("type %s", f.typ)
			}
		case "format":
			if err = json.Unmarshal(v, &f.format); err == nil && f.format != "uuid" && f.format != "date-time" {
				err = fmt.Errorf("format %s", f.format)
			}
		case "pattern":
			var src string
			if err = json.Unmarshal(v, &src); err == nil {
				f.pattern, err = regexp.Compile(src)
			}
		case "maxLength":
			err = json.Unmarshal(v, &f.maxLength)
		case "minimum", "maximum":
			r, ok := new(big.Rat).SetString(string(v))
			if !ok {
				err = errors.New("not a number")
			} else if kw == "minimum" {
				f.min = r
			} else {
				f.max = r
			}
		case "enum":
			err = json.Unmarshal(v, &f.enum)
		default:
			err = errors.New("unsupported keyword")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kw, err)
		}
	}
	if f.typ == "" {
		return nil, errors.New("no type")
	}
	if f.typ != "string" && (f.format != "" || f.pattern != nil || f.maxLength >= 0 || f.enum != nil) ||
		f.typ == "string" && (f.min != nil || f.max != nil) {
		return nil, fmt.Errorf("a keyword that does not apply to type %s", f.typ)
	}
	return f, nil
}

// want checks that v is the JSON value w.
func want(v json.RawMessage, w string) error {
	if string(bytes.TrimSpace(v)) != w {
		return fmt.Errorf("want %s", w)
	}
	return nil
}

// validateInbound checks data against the inbound type typ's schema (validators.validate).
func validateInbound(typ string, data []byte) ([]string, error) {
	v, err := inboundSchemas()
	if err != nil {
		return nil, err
	}
	return v.validate(typ, data)
}

// consumable lists what keeps data (valid by typ's schema) from being taken by the
// functions that consume the event, reading it once:
//   - an integer property written with a fraction or an exponent. Draft 2020-12 counts 3.0
//     and 1e3 as integers, and so does validate; the consumers read integers as Go's, which
//     take neither: fuelEighths 3.0 was accepted here and then dead-lettered by vehicles-api;
//   - a top-level …At time more than maxClockSkew ahead of now: fleet keeps a car's newest
//     reading, so one dated 2099 hid every real one after it for good.
//
// Refused at the way in, where the partner hears of it.
func consumable(typ string, data []byte, now time.Time) []string {
	v, err := inboundSchemas()
	if err != nil || v[typ] == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if dec.Decode(&obj) != nil {
		return nil
	}
	var out []string
	for name, val := range obj {
		switch val := val.(type) {
		case json.Number:
			if f := v[typ].props[name]; f != nil && f.typ == "integer" && strings.ContainsAny(string(val), ".eE") {
				out = append(out, "data"+pointer([]string{name})+": got "+string(val)+", want an integer written without a fraction or exponent")
			}
		case string:
			if t, err := platform.ParseTime(val); err == nil && strings.HasSuffix(name, "At") && t.After(now.Add(maxClockSkew)) {
				out = append(out, "data/"+name+": lies in the future ("+val+"); a reading is dated when it was made")
			}
		}
	}
	slices.Sort(out)
	return out
}

// maxClockSkew is how far ahead of this clock a partner's reading may be dated.
const maxClockSkew = 5 * time.Minute

// validate checks data against typ's schema and returns each violation as
// "data/<pointer>: <reason>", sorted, empty when data is valid. The reasons are worded as
// the JSON Schema library words them (docs/inbound-events.md shows one).
func (v validators) validate(typ string, data []byte) ([]string, error) {
	s, ok := v[typ]
	if !ok {
		return nil, fmt.Errorf("no schema for %s", typ)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var inst any
	if err := dec.Decode(&inst); err != nil || dec.More() {
		return []string{"data: is not JSON"}, nil
	}
	obj, ok := inst.(map[string]any)
	if !ok {
		return []string{"data: got " + jsonType(inst) + ", want object"}, nil
	}
	var out, missing, extra []string
	for _, r := range s.required {
		if _, ok := obj[r]; !ok {
			missing = append(missing, r)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		out = append(out, "data: missing property "+quote(missing[0]))
	default:
		out = append(out, "data: missing properties "+joinQuoted(missing))
	}
	for name, val := range obj {
		f := s.props[name]
		if f == nil {
			extra = append(extra, name)
			continue
		}
		for _, reason := range f.check(val) {
			out = append(out, "data"+pointer([]string{name})+": "+reason)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		out = append(out, "data: additional properties "+joinQuoted(extra)+" not allowed")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// check returns what is wrong with val for f.
func (f *fieldSchema) check(val any) []string {
	got := jsonType(val)
	if got != f.typ && !(f.typ == "number" && got == "integer") {
		return []string{"got " + got + ", want " + f.typ}
	}
	if f.typ != "string" {
		n, _ := new(big.Rat).SetString(string(val.(json.Number)))
		var out []string
		if f.min != nil && n.Cmp(f.min) < 0 {
			out = append(out, fmt.Sprintf("minimum: got %v, want %v", ratFloat(n), ratFloat(f.min)))
		}
		if f.max != nil && n.Cmp(f.max) > 0 {
			out = append(out, fmt.Sprintf("maximum: got %v, want %v", ratFloat(n), ratFloat(f.max)))
		}
		return out
	}
	s := val.(string)
	var out []string
	if f.maxLength >= 0 {
		if n := utf8.RuneCountInString(s); n > f.maxLength {
			out = append(out, fmt.Sprintf("maxLength: got %d, want %d", n, f.maxLength))
		}
	}
	if f.pattern != nil && !f.pattern.MatchString(s) {
		out = append(out, quote(s)+" does not match pattern "+quote(f.pattern.String()))
	}
	if f.enum != nil && !slices.Contains(f.enum, s) {
		out = append(out, "value must be one of "+joinQuoted(f.enum))
	}
	switch f.format {
	case "uuid":
		if !platform.ValidUUID(s) {
			out = append(out, quote(s)+" is not valid uuid")
		}
	case "date-time":
		if !isDateTime(s) {
			out = append(out, quote(s)+" is not valid date-time")
		}
	}
	return out
}

// jsonType is the JSON Schema type of a decoded value (numbers as json.Number): a number
// with no fractional part is an integer, as draft 2020-12 counts it.
func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(v)); ok && r.IsInt() {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	default:
		return "object"
	}
}

func ratFloat(r *big.Rat) float64 { f, _ := r.Float64(); return f }

// isDateTime reports whether s is an RFC 3339 date-time: what platform.ParseTime — the
// parser of every function the event goes to — takes ("t" and "z" in either case, a leap
// second at 23:59:60 UTC, an offset within ±23:59), without space around it.
func isDateTime(s string) bool {
	_, err := platform.ParseTime(s)
	return err == nil && s == strings.TrimSpace(s)
}

// quote and joinQuoted quote names and values as the library's messages do: 'x'.
func quote(s string) string {
	q := fmt.Sprintf("%q", s)
	q = strings.ReplaceAll(q, `\"`, `"`)
	q = strings.ReplaceAll(q, `'`, `\'`)
	return "'" + q[1:len(q)-1] + "'"
}

func joinQuoted(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = quote(x)
	}
	return strings.Join(q, ", ")
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
