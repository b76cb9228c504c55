package platform

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Object keys, held to what the body is decoded into. encoding/json takes the last of a key
// named twice and matches a key to a field whatever its case, so {"vehicleId":"a",
// "VEHICLEID":"b"} decoded as "b" here while another reader of the same bytes (a log, a
// proxy, a signature check) may read "a". A request is one meaning: DecodeJSON refuses a
// key named twice in an object and a key that names a field only in another case.

// keyProblem walks body (well-formed JSON, already decoded into a value of type t) and
// returns the first key that is named twice in its object or names a field of t's structs
// only case-insensitively, as a FieldError, or nil. It scans the bytes itself: a booking's
// body in ~1 µs, where json.Decoder's tokens took ~10 (issue 19 counts a booking's CPU).
func keyProblem(body []byte, t reflect.Type) *FieldError {
	s := keyScanner{b: body}
	return s.value(t, nil)
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// keyPath is where a value is, built into a string only for an answer.
type keyPath struct {
	parent *keyPath
	key    string
	index  int // -1: key names an object's member
}

func (p *keyPath) String() string {
	if p == nil {
		return ""
	}
	prefix := p.parent.String()
	if p.index >= 0 {
		return prefix + "[" + strconv.Itoa(p.index) + "]"
	}
	if prefix == "" {
		return p.key
	}
	return prefix + "." + p.key
}

// keyScanner reads well-formed JSON (DecodeJSON has decoded it) at b[i:].
type keyScanner struct {
	b []byte
	i int
}

func (s *keyScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str reads the string at s.i (its opening quote) and returns its value.
func (s *keyScanner) str() string {
	start, escaped := s.i+1, false
	for j := start; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			s.i = j + 1
			if !escaped {
				return string(s.b[start:j])
			}
			var out string
			_ = json.Unmarshal(s.b[start-1:j+1], &out)
			return out
		}
	}
	s.i = len(s.b)
	return ""
}

// value reads one value whose Go type is t (nil: unknown — its keys are checked for
// repeats only) at path.
func (s *keyScanner) value(t reflect.Type, path *keyPath) *FieldError {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)) {
		t = nil // decodes itself: its keys are its own business, not a struct's fields
	}
	s.space()
	if s.i >= len(s.b) {
		return nil
	}
	switch s.b[s.i] {
	case '{':
		s.i++
		var fields map[string]structField
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields = fieldsOf(t)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		var seen []string
		for {
			s.space()
			if s.i >= len(s.b) || s.b[s.i] == '}' {
				s.i++
				return nil
			}
			if s.b[s.i] == ',' {
				s.i++
				s.space()
			}
			key := s.str()
			s.space()
			s.i++ // ':'
			at := &keyPath{parent: path, key: key, index: -1}
			if slices.Contains(seen, key) {
				return &FieldError{Field: at.String(), Reason: "named twice in one object"}
			}
			seen = append(seen, key)
			child := elem
			if fields != nil {
				f, ok := fields[key]
				if !ok || f.folded {
					if g, ok := fields[strings.ToLower(key)]; ok && g.name != key {
						return &FieldError{Field: at.String(), Reason: "unknown field: names are case-sensitive, this one is " + g.name}
					}
				}
				child = f.typ // nil for a key of no field
			}
			if fe := s.value(child, at); fe != nil {
				return fe
			}
		}
	case '[':
		s.i++
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for n := 0; ; n++ {
			s.space()
			if s.i >= len(s.b) || s.b[s.i] == ']' {
				s.i++
				return nil
			}
			if s.b[s.i] == ',' {
				s.i++
			}
			if fe := s.value(elem, &keyPath{parent: path, index: n}); fe != nil {
				return fe
			}
		}
	case '"':
		s.str()
	default: // a number, true, false, null
		for s.i < len(s.b) && !strings.ContainsRune(",]} \t\n\r", rune(s.b[s.i])) {
			s.i++
		}
	}
	return nil
}

// structField is a JSON field of a struct: its exact name and type. fieldsOf keys each by
// its name and, marked folded, by its name in lower case.
type structField struct {
	name   string
	typ    reflect.Type
	folded bool
}

var structFields sync.Map // reflect.Type → map[string]structField

// fieldsOf lists t's JSON fields as encoding/json sees them: exported fields by their tag's
// name or their own, those of embedded structs promoted, "-" left out.
func fieldsOf(t reflect.Type) map[string]structField {
	if m, ok := structFields.Load(t); ok {
		return m.(map[string]structField)
	}
	m := map[string]structField{}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					add(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, ok := m[name]; !ok || m[name].folded {
				m[name] = structField{name: name, typ: f.Type}
			}
			if lower := strings.ToLower(name); lower != name {
				if _, ok := m[lower]; !ok {
					m[lower] = structField{name: name, typ: f.Type, folded: true}
				}
			}
		}
	}
	add(t)
	structFields.Store(t, m)
	return m
}
