package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/orangecarrental/orange/events"
)

// jsonSchemaDialect is the draft every schema declares.
const jsonSchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// docs holds the doc comments of the events package: "Type" and "Type.Field" (Go names)
// → text, and constant name → type string, read from its source so the schemas say what
// the Go code says.
type docs struct {
	comments  map[string]string
	constants map[string]string // event type → constant name (VehicleOdometerRead)
}

// readDocs parses the non-test Go files of dir.
func readDocs(dir string) (docs, error) {
	d := docs{comments: map[string]string{}, constants: map[string]string{}}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return d, err
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return d, err
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					doc := s.Doc
					if doc == nil && len(gd.Specs) == 1 {
						doc = gd.Doc
					}
					d.comments[s.Name.Name] = text(doc)
					st, ok := s.Type.(*ast.StructType)
					if !ok {
						continue
					}
					for _, field := range st.Fields.List {
						for _, n := range field.Names {
							c := text(field.Doc)
							if c == "" {
								c = text(field.Comment)
							}
							d.comments[s.Name.Name+"."+n.Name] = c
						}
					}
				case *ast.ValueSpec:
					if gd.Tok != token.CONST {
						continue
					}
					for i, n := range s.Names {
						if i < len(s.Values) {
							if lit, ok := s.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								d.constants[strings.Trim(lit.Value, "\"`")] = n.Name
							}
						}
					}
				}
			}
		}
	}
	return d, nil
}

// text is a comment group as one line of prose.
func text(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	return strings.Join(strings.Fields(g.Text()), " ")
}

// schemaOf is the JSON Schema (draft 2020-12) of typ's payload: the Go struct's fields by
// their JSON names, a field without omitempty required; for an inbound type (events.Inbound)
// strict — no other field, and each field bounded by its rule.
func schemaOf(typ string, d docs) (map[string]any, error) {
	payload := reflect.TypeOf(events.Types[typ]())
	for payload.Kind() == reflect.Pointer {
		payload = payload.Elem()
	}
	inbound, strict := events.Inbound[typ]
	s, err := schemaOfType(payload, d, inbound, strict)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", typ, err)
	}
	s["$schema"] = jsonSchemaDialect
	s["title"] = typ
	desc := d.comments[payload.Name()]
	if strict {
		desc = strings.TrimSpace(desc + " Sent by producers outside the system to /api/events; ordered by " +
			inbound.OrderedBy + " (the payload carries no version): a consumer applies an event only if it is newer than the last one it applied of the same type and car.")
	}
	if desc != "" {
		s["description"] = desc
	}
	return s, nil
}

func schemaOfType(t reflect.Type, d docs, rules events.InboundType, strict bool) (map[string]any, error) {
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}, nil
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Slice:
		items, err := schemaOfType(t.Elem(), d, events.InboundType{}, false)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Map:
		return map[string]any{"type": "object"}, nil
	case reflect.Struct:
	default:
		return nil, fmt.Errorf("%s: no JSON Schema for a %s; teach tools/eventdocs", t, t.Kind())
	}
	props := map[string]any{}
	required := []string{}
	seen := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p, err := schemaOfType(f.Type, d, events.InboundType{}, false)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		if c := d.comments[t.Name()+"."+f.Name]; c != "" {
			p["description"] = c
		}
		if strict {
			rule, ok := rules.Fields[name]
			if !ok {
				return nil, fmt.Errorf("%s.%s: inbound field %q has no rule in events.Inbound", t.Name(), f.Name, name)
			}
			seen[name] = true
			applyRule(p, rule)
		}
		props[name] = p
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			required = append(required, name)
		}
	}
	for name := range rules.Fields {
		if strict && !seen[name] {
			return nil, fmt.Errorf("events.Inbound has a rule for %q, which %s does not have", name, t.Name())
		}
	}
	s := map[string]any{"type": "object", "properties": props, "required": required}
	if strict {
		s["additionalProperties"] = false
	}
	return s, nil
}

// applyRule adds the keywords of r to p, a field's schema.
func applyRule(p map[string]any, r events.FieldRule) {
	if r.Format != "" {
		p["format"] = r.Format
	}
	if r.Minimum != nil {
		p["minimum"] = number(*r.Minimum)
	}
	if r.Maximum != nil {
		p["maximum"] = number(*r.Maximum)
	}
	if len(r.Enum) > 0 {
		p["enum"] = r.Enum
	}
	if p["type"] != "string" {
		return
	}
	switch {
	case r.MaxLength > 0:
		p["maxLength"] = r.MaxLength
	case r.Format == "" && len(r.Enum) == 0:
		p["maxLength"] = events.DefaultMaxLength
	}
	if r.Format == "uuid" {
		// Formats are annotations unless a validator asserts them; the pattern holds
		// everywhere.
		p["pattern"] = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
	}
}

// number writes a whole bound as an integer (2000000, not 2e+06).
func number(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}
