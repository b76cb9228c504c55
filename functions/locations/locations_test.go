package locations_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/locations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// api is the locations API over a fresh database holding the seed branches, served as a
// host serves it (token verification and access checks included). Requests carry a fleet
// manager's token unless a test sets its own Authorization header.
type api struct {
	t       *testing.T
	db      *database.DB
	handler http.Handler
	fleet   string
}

func newAPI(t *testing.T) *api {
	t.Helper()
	db := pg.NewDB(t, locations.Migrations)
	id := authtest.New(t)
	logger := platform.NewLogger(io.Discard, "error", "locations-api")
	svc, err := locations.New(context.Background(), locations.Config{}, platform.Deps{DB: db})
	require.NoError(t, err)
	return &api{t: t, db: db, handler: platform.Observe(logger, platform.Handler(svc, id.Verifier)), fleet: id.Bearer(t, "frank")}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (a *api) do(method, path, contentType, body string, header ...string) response {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", a.fleet)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (a *api) json(method, path, body string, header ...string) response {
	a.t.Helper()
	return a.do(method, path, "application/json", body, header...)
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
		`SELECT coalesce(string_agg(row_to_json(l)::text, E'\n' ORDER BY code), '') FROM locations.locations l`).Scan(&rows)
	require.NoError(a.t, err)
	err = a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(id::text, ',' ORDER BY seq), '') FROM locations.outbox`).Scan(&outbox)
	require.NoError(a.t, err)
	return rows + "\noutbox: " + outbox
}

// recorded returns the outbox as "type subject version" lines, oldest first.
func (a *api) recorded() []string {
	a.t.Helper()
	rows, err := a.db.Pool.Query(context.Background(),
		`SELECT type, subject, data->>'version', source FROM locations.outbox ORDER BY seq`)
	require.NoError(a.t, err)
	var out []string
	for rows.Next() {
		var typ, subject, version, source string
		require.NoError(a.t, rows.Scan(&typ, &subject, &version, &source))
		require.Equal(a.t, locations.ServiceName, source)
		out = append(out, typ+" "+subject+" v"+version)
	}
	require.NoError(a.t, rows.Err())
	return out
}

const newBranch = `{"code":"DUS-HBF","name":"Düsseldorf Hauptbahnhof",
	"address":{"street":"Konrad-Adenauer-Platz 14","postalCode":"40210","city":"Düsseldorf"},
	"coordinates":{"latitude":51.2199,"longitude":6.7943},
	"email":"duesseldorf-hbf@orangecarrental.com","phone":"+49 211 1234560",
	"openingHours":[{"day":"monday","opens":"07:00","closes":"21:00"}]}`

func TestListsTheSeedBranches(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do(http.MethodGet, "/api/locations", "", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	list := decode[struct {
		Items []locations.Location `json:"items"`
		Count int                  `json:"count"`
	}](t, r)
	var codes []string
	for _, l := range list.Items {
		codes = append(codes, l.Code)
		assert.Equal(t, locations.StatusActive, l.Status)
		assert.Len(t, l.Address.PostalCode, 5)
		assert.NotEmpty(t, l.OpeningHours, l.Code)
	}
	assert.Equal(t, []string{"BER-HBF", "CGN-HBF", "FRA-FLG", "HAM-HBF", "MUC-FLG"}, codes)
	assert.Equal(t, 5, list.Count)
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	require.Equal(t, http.StatusOK, a.json(http.MethodPut, "/api/locations/HAM-HBF/status", `{"status":"maintenance"}`).status)

	tests := []struct {
		query      string
		wantStatus int
		wantCodes  []string
		wantFields []string
	}{
		{query: "?city=berlin", wantStatus: 200, wantCodes: []string{"BER-HBF"}},
		{query: "?city=K%C3%B6ln", wantStatus: 200, wantCodes: []string{"CGN-HBF"}},
		{query: "?status=maintenance", wantStatus: 200, wantCodes: []string{"HAM-HBF"}},
		{query: "?status=active&city=Hamburg", wantStatus: 200, wantCodes: nil},
		{query: "?city=Atlantis", wantStatus: 200, wantCodes: nil},
		{query: "?status=open", wantStatus: 400, wantFields: []string{"status"}},
		{query: "?colour=orange", wantStatus: 400, wantFields: []string{"colour"}},
		// platform.ParseQuery: a ';' is no separator, a repetition is refused, every bad
		// parameter is named in one answer.
		{query: "?status=active;city=Berlin", wantStatus: 400, wantFields: []string{"status"}},
		{query: "?city=Berlin&city=Hamburg", wantStatus: 400, wantFields: []string{"city"}},
		{query: "?city=%zz", wantStatus: 400, wantFields: []string{"city"}},
		{query: "?status=open&colour=orange", wantStatus: 400, wantFields: []string{"colour", "status"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := a.do(http.MethodGet, "/api/locations"+tt.query, "", "")
			require.Equal(t, tt.wantStatus, r.status, string(r.body))
			if tt.wantStatus != 200 {
				assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
				var fields []string
				for _, f := range decode[platform.Problem](t, r).Errors {
					fields = append(fields, f.Field)
				}
				assert.ElementsMatch(t, tt.wantFields, fields)
				return
			}
			list := decode[struct{ Items []locations.Location }](t, r)
			var codes []string
			for _, l := range list.Items {
				codes = append(codes, l.Code)
			}
			assert.Equal(t, tt.wantCodes, codes)
		})
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tests := []struct {
		path       string
		wantStatus int
	}{
		{"/api/locations/BER-HBF", 200},
		{"/api/locations/ber-hbf", 200}, // codes are case-insensitive on the way in
		{"/api/locations/XYZ-ABC", 404},
		{"/api/locations/not-a-code!", 404},
		{"/api/locations/BER-HBF/extra", 404},
	}
	for _, tt := range tests {
		r := a.do(http.MethodGet, tt.path, "", "")
		require.Equal(t, tt.wantStatus, r.status, tt.path)
		if tt.wantStatus == 200 {
			l := decode[locations.Location](t, r)
			assert.Equal(t, "BER-HBF", l.Code)
			assert.Equal(t, `"1"`, r.header.Get("ETag"))
		} else {
			p := decode[platform.Problem](t, r)
			assert.Equal(t, platform.ProblemTypeBase+"not-found", p.Type)
		}
	}
}

func TestCreateThenGet(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.json(http.MethodPost, "/api/locations", newBranch)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, "/api/locations/DUS-HBF", r.header.Get("Location"))
	created := decode[locations.Location](t, r)
	assert.Equal(t, locations.StatusActive, created.Status)
	assert.Equal(t, "DE", created.Address.Country)
	assert.Equal(t, "Europe/Berlin", created.TimeZone)
	assert.Equal(t, 1, created.Version)

	got := decode[locations.Location](t, a.do(http.MethodGet, "/api/locations/DUS-HBF", "", ""))
	assert.Equal(t, created, got)
}

func TestRejectedRequestsWriteNothing(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	huge := `{"code":"BIG-ONE","name":"` + strings.Repeat("x", platform.DefaultMaxBodyBytes) + `"}`
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		wantStatus  int
		wantType    string
		wantField   string
	}{
		{"malformed JSON", "POST", "/api/locations", "application/json", `{"code":"DUS-HBF",`, 400, "invalid", ""},
		{"not JSON at all", "POST", "/api/locations", "application/json", `code=DUS-HBF`, 400, "invalid", ""},
		{"unknown field", "POST", "/api/locations", "application/json", strings.Replace(newBranch, `"code"`, `"colour":"orange","code"`, 1), 400, "invalid", "colour"},
		{"wrong content type", "POST", "/api/locations", "text/plain", newBranch, 415, "unsupported-media-type", ""},
		{"no content type", "POST", "/api/locations", "", newBranch, 415, "unsupported-media-type", ""},
		{"oversize body", "POST", "/api/locations", "application/json", huge, 413, "payload-too-large", ""},
		{"two JSON values", "POST", "/api/locations", "application/json", newBranch + newBranch, 400, "invalid", ""},
		{"invalid code", "POST", "/api/locations", "application/json", strings.Replace(newBranch, "DUS-HBF", "DUSHBF", 1), 400, "invalid", "code"},
		{"code too long", "POST", "/api/locations", "application/json", strings.Replace(newBranch, "DUS-HBF", "DUS-HBFXX", 1), 400, "invalid", "code"},
		{"duplicate code", "POST", "/api/locations", "application/json", strings.Replace(newBranch, "DUS-HBF", "BER-HBF", 1), 409, "conflict", ""},
		{"four-digit postal code", "POST", "/api/locations", "application/json", strings.Replace(newBranch, "40210", "4021", 1), 400, "invalid", "address.postalCode"},
		{"letters in postal code", "POST", "/api/locations", "application/json", strings.Replace(newBranch, "40210", "4021A", 1), 400, "invalid", "address.postalCode"},
		{"missing name", "POST", "/api/locations", "application/json", strings.Replace(newBranch, `"Düsseldorf Hauptbahnhof"`, `""`, 1), 400, "invalid", "name"},
		{"latitude out of range", "POST", "/api/locations", "application/json", strings.Replace(newBranch, "51.2199", "91", 1), 400, "invalid", "coordinates.latitude"},
		{"bad email", "POST", "/api/locations", "application/json", strings.Replace(newBranch, "duesseldorf-hbf@orangecarrental.com", "not-an-email", 1), 400, "invalid", "email"},
		{"closes before it opens", "POST", "/api/locations", "application/json", strings.Replace(newBranch, `"closes":"21:00"`, `"closes":"06:00"`, 1), 400, "invalid", "openingHours[0]"},
		{"unknown weekday", "POST", "/api/locations", "application/json", strings.Replace(newBranch, "monday", "caturday", 1), 400, "invalid", "openingHours[0].day"},
		{"a window repeated", "POST", "/api/locations", "application/json", strings.Replace(newBranch, `"closes":"21:00"}`, `"closes":"21:00"},{"day":"monday","opens":"07:00","closes":"21:00"}`, 1), 400, "invalid", "openingHours[1]"},
		{"windows overlapping", "POST", "/api/locations", "application/json", strings.Replace(newBranch, `"closes":"21:00"}`, `"closes":"21:00"},{"day":"monday","opens":"20:00","closes":"23:00"}`, 1), 400, "invalid", "openingHours[1]"},
		{"wrong JSON type", "POST", "/api/locations", "application/json", `{"code":42}`, 400, "invalid", "code"},
		{"update: malformed", "PUT", "/api/locations/BER-HBF", "application/json", `{"name":`, 400, "invalid", ""},
		{"update: unknown field", "PUT", "/api/locations/BER-HBF", "application/json", `{"name":"x","code":"BER-HBF","address":{"street":"a","postalCode":"10557","city":"Berlin"}}`, 400, "invalid", "code"},
		{"update: bad postal code", "PUT", "/api/locations/BER-HBF", "application/json", `{"name":"x","address":{"street":"a","postalCode":"1055","city":"Berlin"}}`, 400, "invalid", "address.postalCode"},
		{"update: unknown location", "PUT", "/api/locations/XXX-YYY", "application/json", `{"name":"x","address":{"street":"a","postalCode":"10557","city":"Berlin"}}`, 404, "not-found", ""},
		{"update: wrong content type", "PUT", "/api/locations/BER-HBF", "application/xml", `<name/>`, 415, "unsupported-media-type", ""},
		{"status: unknown status", "PUT", "/api/locations/BER-HBF/status", "application/json", `{"status":"demolished"}`, 400, "invalid", "status"},
		{"status: unknown location", "PUT", "/api/locations/XXX-YYY/status", "application/json", `{"status":"closed"}`, 404, "not-found", ""},
		{"wrong method", "DELETE", "/api/locations/BER-HBF", "", "", 405, "method-not-allowed", ""},
	}
	before := a.snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(tt.method, tt.path, tt.contentType, tt.body)
			require.Equal(t, tt.wantStatus, r.status, string(r.body))
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			p := decode[platform.Problem](t, r)
			assert.Equal(t, platform.ProblemTypeBase+tt.wantType, p.Type)
			assert.Equal(t, tt.wantStatus, p.Status)
			assert.NotEmpty(t, p.Detail)
			if tt.wantField != "" {
				var fields []string
				for _, f := range p.Errors {
					fields = append(fields, f.Field)
				}
				assert.Contains(t, fields, tt.wantField)
			}
			assert.Equal(t, before, a.snapshot(), "a rejected request changed the data")
		})
	}
}

func TestUpdateWithOptimisticConcurrency(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const details = `{"name":"Berlin Hbf (Europaplatz)","address":{"street":"Europaplatz 1","postalCode":"10557","city":"Berlin"},"timeZone":"Europe/Berlin"}`

	r := a.json(http.MethodPut, "/api/locations/BER-HBF", details, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	updated := decode[locations.Location](t, r)
	assert.Equal(t, 2, updated.Version)
	assert.Equal(t, `"2"`, r.header.Get("ETag"))
	assert.Equal(t, "Berlin Hbf (Europaplatz)", updated.Name)
	assert.Nil(t, updated.Coordinates, "a PUT replaces the details, coordinates included")
	assert.True(t, updated.UpdatedAt.After(updated.CreatedAt))

	before := a.snapshot()
	stale := a.json(http.MethodPut, "/api/locations/BER-HBF", details, "If-Match", `"1"`)
	require.Equal(t, http.StatusPreconditionFailed, stale.status, string(stale.body))
	assert.Equal(t, before, a.snapshot())

	// RFC 9110's strong comparison: a weak tag never matches; a tag that is not an ETag at
	// all is bad input.
	weak := a.json(http.MethodPut, "/api/locations/BER-HBF", details, "If-Match", `W/"2"`)
	require.Equal(t, http.StatusPreconditionFailed, weak.status, string(weak.body))
	bad := a.json(http.MethodPut, "/api/locations/BER-HBF", details, "If-Match", `2`)
	require.Equal(t, http.StatusBadRequest, bad.status)
	assert.Equal(t, before, a.snapshot())

	// A list matches when one of its tags does.
	listed := a.json(http.MethodPut, "/api/locations/BER-HBF", details, "If-Match", `"x", W/"2", "2"`)
	require.Equal(t, http.StatusOK, listed.status, string(listed.body))
	assert.Equal(t, `"3"`, listed.header.Get("ETag"))

	// Without If-Match the last writer wins.
	require.Equal(t, http.StatusOK, a.json(http.MethodPut, "/api/locations/BER-HBF", details).status)
}

func TestChangeStatus(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.json(http.MethodPut, "/api/locations/MUC-FLG/status", `{"status":"closed"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	closed := decode[locations.Location](t, r)
	assert.Equal(t, locations.StatusClosed, closed.Status)
	assert.Equal(t, 2, closed.Version)

	again := decode[locations.Location](t, a.json(http.MethodPut, "/api/locations/MUC-FLG/status", `{"status":"CLOSED"}`))
	assert.Equal(t, closed, again, "setting the status a branch has is a no-op")

	stale := a.json(http.MethodPut, "/api/locations/MUC-FLG/status", `{"status":"active"}`, "If-Match", `"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, stale.status)

	list := decode[struct{ Items []locations.Location }](t, a.do(http.MethodGet, "/api/locations?status=closed", "", ""))
	require.Len(t, list.Items, 1)
	assert.Equal(t, "MUC-FLG", list.Items[0].Code)
}

func TestSchemaRefusesWhatValidationRefuses(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// The table's own constraints hold even when Go is bypassed.
	_, err := a.db.Pool.Exec(context.Background(),
		`INSERT INTO locations.locations (code, name, street, postal_code, city) VALUES ('BAD', 'x', 'x', '1234', 'x')`)
	require.Error(t, err)
	assert.True(t, database.IsCode(err, database.CheckViolation), err.Error())
}

// TestChangesEmitEvents checks each change records its event in the same transaction, and a
// change that changes nothing records none.
func TestChangesEmitEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	require.Equal(t, http.StatusCreated, a.json(http.MethodPost, "/api/locations", newBranch).status)
	require.Equal(t, http.StatusOK, a.json(http.MethodPut, "/api/locations/DUS-HBF",
		`{"name":"Düsseldorf Hbf","address":{"street":"Konrad-Adenauer-Platz 14","postalCode":"40210","city":"Düsseldorf"}}`).status)
	require.Equal(t, http.StatusOK, a.json(http.MethodPut, "/api/locations/DUS-HBF/status", `{"status":"closed"}`).status)
	require.Equal(t, http.StatusOK, a.json(http.MethodPut, "/api/locations/DUS-HBF/status", `{"status":"closed"}`).status)
	assert.Equal(t, []string{
		events.LocationCreated + " DUS-HBF v1",
		events.LocationUpdated + " DUS-HBF v2",
		events.LocationStatusChanged + " DUS-HBF v3",
	}, a.recorded())
}
