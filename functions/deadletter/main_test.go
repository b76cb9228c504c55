package deadletter_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/deadletter"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// trigger is a Trigger of knative/base that dead-letters here.
const trigger = "notification-worker-customer-updated"

// store is the dead-letter function over a fresh database, served as a host serves it
// (token verification, access checks), its log kept.
type store struct {
	t       *testing.T
	db      *database.DB
	id      *authtest.Identity
	handler http.Handler
	admin   string
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newStore(t *testing.T) *store {
	t.Helper()
	return newStoreOn(t, pg.NewDB(t, deadletter.Migrations), deadletter.Config{ReplayMax: 100})
}

func newStoreOn(t *testing.T, db *database.DB, cfg deadletter.Config) *store {
	t.Helper()
	logs := &syncBuffer{}
	logger := platform.NewLogger(logs, "debug", deadletter.ServiceName)
	svc, err := deadletter.New(context.Background(), cfg, platform.Deps{DB: db, Logger: logger})
	require.NoError(t, err)
	id := authtest.New(t)
	return &store{t: t, db: db, id: id, admin: id.Bearer(t, "ada"), logs: logs,
		handler: platform.Observe(logger, platform.Handler(svc, id.Authenticator(deadletter.ServiceName)))}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

func (s *store) serve(req *http.Request) response {
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// do sends a request with the Authorization header auth ("" for none) and headers as
// name/value pairs.
func (s *store) do(method, path, auth string, headers ...string) response {
	req := httptest.NewRequest(method, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return s.serve(req)
}

// deliverAs POSTs e to / in binary mode with the Authorization header auth.
func (s *store) deliverAs(auth, path string, e cloudevents.Event) response {
	s.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, nil)
	require.NoError(s.t, cehttp.WriteRequest(cloudevents.WithEncodingBinary(context.Background()), binding.ToMessage(&e), req))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return s.serve(req)
}

// deadLetter delivers e as the dead letter of Trigger tg, as Knative's broker filter does.
func (s *store) deadLetter(tg string, e cloudevents.Event) response {
	s.t.Helper()
	return s.deliverAs(s.id.DeliveryBearer(s.t, platform.Trigger(tg), deadletter.ServiceName), "/", e)
}

// letters lists with query q as the admin.
func (s *store) letters(q string) (list letterList) {
	s.t.Helper()
	r := s.do(http.MethodGet, deadletter.Prefix+q, s.admin)
	require.Equal(s.t, http.StatusOK, r.status, "%s", r.body)
	r.json(s.t, &list)
	return list
}

type letterList struct {
	Items          []letter
	Page, PageSize int
	Total          int
}

type letter struct {
	ID, Trigger, Status string
	Failures            int
	ReplayCount         int
	ReplayedBy          string
	DiscardedBy         string
	Event               struct {
		ID, Source, Type, Subject string
		Extensions                map[string]any
		Data                      json.RawMessage
		DataBytes                 int
	}
	Error struct {
		Destination string
		Code        *int
		Data        *string
		Truncated   bool
	}
}

// customerUpdated is a customer.updated event about customer with personal data.
func customerUpdated(t *testing.T, customer, email string) cloudevents.Event {
	t.Helper()
	return customerEvent(t, customer, events.Customer{Email: email, FirstName: "Greta", LastName: "Garbo", Phone: "+49 30 5550123"})
}

// customerEvent is a customer.updated event about customer with the person of c.
func customerEvent(t *testing.T, customer string, c events.Customer) cloudevents.Event {
	t.Helper()
	c.CustomerID, c.Version, c.PreferredLanguage = customer, 2, "de"
	e, err := events.New("customers-api", events.CustomerUpdated, customer, c)
	require.NoError(t, err)
	return e
}

// failed adds Knative's error extensions to e: the subscriber, its status and its answer.
func failed(e cloudevents.Event, status int, answer string) cloudevents.Event {
	out := e.Clone()
	out.SetExtension("knativeerrordest", "http://notification-worker.orange.svc.cluster.local/cloudevents")
	out.SetExtension("knativeerrorcode", status)
	out.SetExtension("knativeerrordata", base64.StdEncoding.EncodeToString([]byte(answer)))
	return out
}

func newCustomer() string { return uuid.NewString() }
