package events_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
)

// typeName is the catalogue's naming rule: com.orangecarrental.<aggregate>.<fact>.v<N>.
var typeName = regexp.MustCompile(`^com\.orangecarrental\.[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*\.v[1-9][0-9]*$`)

var jsonName = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)

// declaredTypes reads the string constants of catalogue.go, so a constant added without an
// entry in Types (or the other way round) fails here.
func declaredTypes(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "catalogue.go", nil, 0)
	require.NoError(t, err)
	out := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				require.Truef(t, ok && lit.Kind == token.STRING, "constant %s is not a string literal", name.Name)
				v, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				out[name.Name] = v
			}
		}
	}
	return out
}

func TestCatalogueListsEveryDeclaredType(t *testing.T) {
	t.Parallel()
	declared := declaredTypes(t)
	require.NotEmpty(t, declared)
	seen := map[string]string{}
	for name, typ := range declared {
		if other, dup := seen[typ]; dup {
			t.Errorf("%s and %s are both %q", other, name, typ)
		}
		seen[typ] = name
		assert.Containsf(t, events.Types, typ, "constant %s (%s) has no payload in Types", name, typ)
	}
	for typ := range events.Types {
		assert.Containsf(t, seen, typ, "Types has %s, which catalogue.go does not declare", typ)
	}
	for typ := range events.External {
		assert.Containsf(t, events.Types, typ, "external type %s has no payload in Types", typ)
	}
}

func sortedTypes() []string {
	out := make([]string, 0, len(events.Types))
	for typ := range events.Types {
		out = append(out, typ)
	}
	sort.Strings(out)
	return out
}

func TestCatalogueTypeNames(t *testing.T) {
	t.Parallel()
	for _, typ := range sortedTypes() {
		if events.External[typ] {
			continue
		}
		assert.Regexpf(t, typeName, typ, "%s is not com.orangecarrental.<aggregate>.<fact>.v<N>", typ)
	}
}

// fill sets every field of v to a distinct non-zero value, so a field that does not survive
// JSON shows up as a difference.
func fill(t *testing.T, v reflect.Value, path string, n *int) {
	t.Helper()
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		fill(t, v.Elem(), path, n)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, v.Field(i), path+"."+v.Type().Field(i).Name, n)
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("%s-%d", path, *n))
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(int64(1000 + *n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(1000+*n) + 0.25)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, s.Index(i), fmt.Sprintf("%s[%d]", path, i), n)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.ValueOf("key"), reflect.ValueOf(any(fmt.Sprintf("%s-%d", path, *n))))
		v.Set(m)
	default:
		t.Fatalf("%s: fill does not know %s; teach it", path, v.Kind())
	}
}

func TestCataloguePayloadsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, typ := range sortedTypes() {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			want := events.Types[typ]()
			require.Equal(t, reflect.Pointer, reflect.TypeOf(want).Kind(), "Types must return a pointer to decode into")
			n := 0
			fill(t, reflect.ValueOf(want), typ, &n)

			// Plain JSON.
			body, err := json.Marshal(want)
			require.NoError(t, err)
			got := events.Types[typ]()
			require.NoError(t, json.Unmarshal(body, got))
			assert.Equal(t, want, got)

			// Through a CloudEvent, as a consumer sees it.
			e, err := events.New(source, typ, "subject-1", want)
			require.NoError(t, err)
			assert.Equal(t, "application/json", e.DataContentType())
			got = events.Types[typ]()
			require.NoError(t, e.DataAs(got))
			assert.Equal(t, want, got)

			// Every field has its own lowerCamel JSON name, and none is left out.
			var keys map[string]any
			require.NoError(t, json.Unmarshal(body, &keys))
			if st := reflect.TypeOf(want).Elem(); st.Kind() == reflect.Struct {
				assert.Len(t, keys, st.NumField(), "every field is encoded")
				for i := range st.NumField() {
					f := st.Field(i)
					tag := f.Tag.Get("json")
					name, _, _ := strings.Cut(tag, ",")
					assert.Regexpf(t, jsonName, name, "%s.%s needs a lowerCamel json tag", st.Name(), f.Name)
				}
			}
			if events.External[typ] {
				return
			}
			if in, ok := events.Inbound[typ]; ok {
				// Producers outside cannot know our versions: an inbound payload is ordered
				// by the time field events.Inbound names, a required RFC 3339 field.
				_, hasVersion := keys["version"]
				assert.Falsef(t, hasVersion, "%s: an inbound payload carries no version of ours", typ)
				field, ok := keys[in.OrderedBy]
				require.Truef(t, ok, "%s is ordered by %q, which its payload does not have", typ, in.OrderedBy)
				assert.IsType(t, "", field)
				assert.Equalf(t, "date-time", in.Fields[in.OrderedBy].Format, "%s: %s must be a date-time", typ, in.OrderedBy)
				assert.NotContainsf(t, jsonTag(t, want, in.OrderedBy), "omitempty", "%s: %s is required", typ, in.OrderedBy)
				return
			}
			// Brokers keep no order: every payload carries the aggregate's version.
			version, ok := keys["version"]
			require.Truef(t, ok, "the payload of %s carries no version", typ)
			assert.IsType(t, float64(0), version)
			f, ok := reflect.TypeOf(want).Elem().FieldByName("Version")
			require.True(t, ok)
			assert.Equal(t, reflect.Int64, f.Type.Kind())
		})
	}
}

func TestDecodeDataAcceptsItsOwnPayload(t *testing.T) {
	t.Parallel()
	want := events.Customer{CustomerID: "c-1", Version: 3, Email: "a@example.com", FirstName: "Ada", LastName: "L", PreferredLanguage: "de"}
	e, err := events.New("/functions/customers", events.CustomerRegistered, want.CustomerID, want)
	require.NoError(t, err)
	got, err := events.DecodeData[events.Customer](e)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestDecodeDataRefusesOtherShapes(t *testing.T) {
	t.Parallel()
	for name, data := range map[string]string{
		"not JSON":          `{"customerId":`,
		"wrong field type":  `{"customerId": 42}`,
		"array":             `[1, 2]`,
		"string":            `"customer"`,
		"version as string": `{"customerId":"c-1","version":"3"}`,
		"null":              `null`,
		"empty":             ``,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newChange(t, "x", 1)
			require.NoError(t, e.SetData("application/json", []byte(data)))
			_, err := events.DecodeData[events.Customer](e)
			require.Error(t, err)
		})
	}

	// The refusal is logged and kept with a dead letter: it names what is wrong, never a
	// value of the data (sdk-go's DataAs quoted all of it, personal fields included).
	for name, data := range map[string]string{
		"a field of another type": `{"customerId":"c-1","version":"seven","email":"zyxwa.quokka@example.com","firstName":"Zyxwa"}`,
		"a number out of range":   `{"customerId":"c-1","version":1e400,"email":"zyxwa.quokka@example.com"}`,
		"broken JSON":             `{"customerId":"c-1","email":"zyxwa.quokka@example.com","firstName":"Zyxwa"`,
	} {
		e := newChange(t, "x", 1)
		require.NoError(t, e.SetData("application/json", []byte(data)))
		_, err := events.DecodeData[events.Customer](e)
		require.Error(t, err, name)
		assert.NotContains(t, strings.ToLower(err.Error()), "zyxwa", name)
	}
}

// jsonTag is the json tag of the field of payload (a pointer to a struct) named name in JSON.
func jsonTag(t *testing.T, payload any, name string) string {
	t.Helper()
	st := reflect.TypeOf(payload).Elem()
	for i := range st.NumField() {
		tag := st.Field(i).Tag.Get("json")
		if n, _, _ := strings.Cut(tag, ","); n == name {
			return tag
		}
	}
	t.Fatalf("%s has no field %q", st.Name(), name)
	return ""
}

// TestInboundTypesAreInTheCatalogue: every type external producers may send is a type of
// the catalogue, and each rule names a field of its payload (the generator refuses a
// payload field without a rule).
func TestInboundTypesAreInTheCatalogue(t *testing.T) {
	t.Parallel()
	for typ, in := range events.Inbound {
		require.Containsf(t, events.Types, typ, "inbound type %s has no payload in Types", typ)
		payload := events.Types[typ]()
		for name := range in.Fields {
			jsonTag(t, payload, name)
		}
	}
}
