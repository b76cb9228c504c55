package customers_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/customers"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// The demo users the tests act as (platform/auth/devissuer); "" is anonymous.
const (
	anonymous = ""
	alice     = "alice" // customer A, owns devissuer.CustomerAlice
	bob       = "bob"   // customer B
	agent     = "carla"
	fleet     = "frank"
	admin     = "ada"
	// reservations is reservations-api calling with its own identity, the one function
	// customers-api admits (to the eligibility checks); payments is a function it admits
	// nowhere.
	reservations = "service:reservations-api"
	payments     = "service:payments-api"
)

const (
	aliceID = devissuer.CustomerAlice
	bobID   = devissuer.CustomerBob
	// nobodyID is a well-formed id no customer has.
	nobodyID = "99999999-9999-4999-8999-999999999999"
)

// api is the customers API over a fresh database holding the seed customers, served as a
// host serves it: token verification and access checks included.
type api struct {
	t       *testing.T
	db      *database.DB
	handler http.Handler
	tokens  map[string]string
}

func newAPI(t *testing.T) *api {
	t.Helper()
	db := pg.NewDB(t, customers.Migrations)
	id := authtest.New(t)
	svc, err := customers.New(context.Background(), customers.Config{}, platform.Deps{DB: db})
	require.NoError(t, err)
	logger := platform.NewLogger(io.Discard, "error", customers.ServiceName)
	a := &api{t: t, db: db, handler: platform.Observe(logger, platform.Handler(svc, id.Authenticator(customers.ServiceName))), tokens: map[string]string{}}
	for _, user := range []string{alice, bob, agent, fleet, admin, reservations, payments} {
		a.tokens[user] = id.Bearer(t, user)
	}
	return a
}

// as returns the API with its helpers reporting to t: subtests sharing one database each use
// their own.
func (a *api) as(t *testing.T) *api {
	c := *a
	c.t = t
	return &c
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request as user; header holds name, value pairs.
func (a *api) do(user, method, path, contentType, body string, header ...string) response {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if user != anonymous {
		req.Header.Set("Authorization", a.tokens[user])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// json sends a JSON body as user.
func (a *api) json(user, method, path, body string, header ...string) response {
	a.t.Helper()
	return a.do(user, method, path, "application/json", body, header...)
}

// get fetches a customer as user, requiring success.
func (a *api) get(user, id string) customers.Customer {
	a.t.Helper()
	r := a.do(user, http.MethodGet, "/api/customers/"+id, "", "")
	require.Equal(a.t, http.StatusOK, r.status, string(r.body))
	return decode[customers.Customer](a.t, r)
}

// register registers a customer as an agent, requiring success, and returns it.
func (a *api) register(body string) customers.Customer {
	a.t.Helper()
	r := a.json(agent, http.MethodPost, "/api/customers", body)
	require.Equal(a.t, http.StatusCreated, r.status, string(r.body))
	return decode[customers.Customer](a.t, r)
}

// registerVerified registers an account as an agent and verifies its address by the link
// its welcome mail carries, as its owner would: an account books only then.
func (a *api) registerVerified(body string) customers.Customer {
	a.t.Helper()
	c := a.register(body)
	r := a.json(anonymous, http.MethodPost, "/api/customers/verify-email", `{"token":"`+a.verificationToken(c.ID)+`"}`)
	require.Equal(a.t, http.StatusOK, r.status, string(r.body))
	return a.get(agent, c.ID)
}

// verificationToken is the token of the latest verification link recorded for customer id:
// what the notifier puts into the mail.
func (a *api) verificationToken(id string) string {
	a.t.Helper()
	var token string
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(), `SELECT data->>'verificationToken' FROM customers.outbox
		WHERE subject = $1 AND data ? 'verificationToken' ORDER BY seq DESC LIMIT 1`, id).Scan(&token))
	return token
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}

// snapshot is every stored row and every recorded event, to prove a rejected request wrote
// nothing.
func (a *api) snapshot() string {
	a.t.Helper()
	var rows, outbox string
	err := a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(row_to_json(c)::text, E'\n' ORDER BY id), '') FROM customers.customers c`).Scan(&rows)
	require.NoError(a.t, err)
	err = a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(row_to_json(o)::text, E'\n' ORDER BY seq), '') FROM customers.outbox o`).Scan(&outbox)
	require.NoError(a.t, err)
	return rows + "\noutbox:\n" + outbox
}

// recorded returns the events recorded about customer id as "type vVersion", oldest first.
func (a *api) recorded(id string) []string {
	a.t.Helper()
	rows, err := a.db.Pool.Query(context.Background(),
		`SELECT type, data->>'version', source FROM customers.outbox WHERE subject = $1 ORDER BY seq`, id)
	require.NoError(a.t, err)
	var out []string
	for rows.Next() {
		var typ, version, source string
		require.NoError(a.t, rows.Scan(&typ, &version, &source))
		require.Equal(a.t, customers.ServiceName, source)
		out = append(out, typ+" v"+version)
	}
	require.NoError(a.t, rows.Err())
	return out
}

// berlin is where rental days are reckoned.
func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(customers.Zone)
	require.NoError(t, err)
	return loc
}

// today is the current day in Germany, as the service reckons it.
func today(t *testing.T) customers.Date { return customers.DayIn(time.Now(), berlin(t)) }

// doc is a JSON object under construction; with returns a copy with edits applied.
type doc map[string]any

// with returns a deep copy of d with each "dotted.path", value pair set (a nil value
// deletes the field).
func (d doc) with(kv ...any) doc {
	out := deepCopy(d)
	for i := 0; i+1 < len(kv); i += 2 {
		path := strings.Split(kv[i].(string), ".")
		m := out
		for _, p := range path[:len(path)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		if kv[i+1] == nil {
			delete(m, path[len(path)-1])
		} else {
			m[path[len(path)-1]] = kv[i+1]
		}
	}
	return out
}

func (d doc) String() string {
	b, err := json.Marshal(map[string]any(d))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func deepCopy(d map[string]any) map[string]any {
	out := maps.Clone(d)
	for k, v := range out {
		if m, ok := v.(map[string]any); ok {
			out[k] = deepCopy(m)
		} else if m, ok := v.(doc); ok {
			out[k] = deepCopy(m)
		}
	}
	return out
}

// newCustomer is a valid registration: an individual in Berlin with a German licence.
var newCustomer = doc{
	"firstName": "Clara", "lastName": "Neumann", "email": "clara.neumann@example.de",
	"phone": "+49 30 9876543", "dateOfBirth": "1992-05-17",
	"address":           map[string]any{"street": "Oranienstraße 25", "postalCode": "10999", "city": "Berlin"},
	"preferredLanguage": "de",
	"licence":           map[string]any{"number": "B7HK22P0X11", "issuingCountry": "DE", "issueDate": "2012-06-01", "expiryDate": "2032-06-01"},
}

// aliceProfile is Alice's seeded profile as a profile update body.
var aliceProfile = doc{
	"type": "individual", "firstName": "Alice", "lastName": "Hartmann", "email": "alice@example.com",
	"phone": "+49 30 5550101", "dateOfBirth": "1990-04-12",
	"address":           map[string]any{"street": "Invalidenstraße 44", "postalCode": "10115", "city": "Berlin", "country": "DE"},
	"preferredLanguage": "en",
}

// problemFields lists the fields a problem names.
func problemFields(t *testing.T, r response) []string {
	t.Helper()
	p := decode[platform.Problem](t, r)
	var fields []string
	for _, f := range p.Errors {
		fields = append(fields, f.Field)
	}
	return fields
}
