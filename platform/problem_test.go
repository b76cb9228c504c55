package platform_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

// wantStatus is the error→status table as the API documents it.
var wantStatus = map[platform.Kind]int{
	platform.KindInvalid:          http.StatusBadRequest,
	platform.KindNotFound:         http.StatusNotFound,
	platform.KindConflict:         http.StatusConflict,
	platform.KindUnauthorized:     http.StatusUnauthorized,
	platform.KindForbidden:        http.StatusForbidden,
	platform.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	platform.KindTooLarge:         http.StatusRequestEntityTooLarge,
	platform.KindMethodNotAllowed: http.StatusMethodNotAllowed,
	platform.KindPrecondition:     http.StatusPreconditionFailed,
	platform.KindUnprocessable:    http.StatusUnprocessableEntity,
	platform.KindUnavailable:      http.StatusServiceUnavailable,
	platform.KindTooManyRequests:  http.StatusTooManyRequests,
	platform.KindBadGateway:       http.StatusBadGateway,
	platform.KindGatewayTimeout:   http.StatusGatewayTimeout,
	platform.KindInternal:         http.StatusInternalServerError,
}

// kindConstants parses errors.go for every constant of type Kind, so that a kind added
// without a status (or without a row here) fails the test below.
func kindConstants(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	require.NoError(t, err)
	var names []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "Kind" {
				for _, n := range vs.Names {
					names = append(names, n.Name)
				}
			}
		}
	}
	sort.Strings(names)
	return names
}

func TestStatusTableCoversEveryKind(t *testing.T) {
	t.Parallel()
	consts := kindConstants(t)
	require.Len(t, consts, len(wantStatus), "Kind constants in errors.go: %v; add the new ones to wantStatus", consts)
	require.Len(t, platform.StatusByKind, len(consts), "statusByKind must have one row per Kind constant")
	for kind, status := range wantStatus {
		got, ok := platform.StatusByKind[kind]
		assert.True(t, ok, "kind %q has no row in statusByKind", kind)
		assert.Equal(t, status, got, "kind %q", kind)
		assert.Equal(t, status, kind.Status(), "kind %q", kind)
	}
	assert.Equal(t, http.StatusInternalServerError, platform.Kind("no-such-kind").Status())
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want platform.Kind
	}{
		{name: "plain error", err: errors.New("boom"), want: platform.KindInternal},
		{name: "platform error", err: platform.NotFound("car %d", 7), want: platform.KindNotFound},
		{name: "wrapped platform error", err: fmt.Errorf("reserve: %w", platform.Conflict("taken")), want: platform.KindConflict},
		{name: "invalid", err: platform.Invalid("bad", platform.FieldError{Field: "a", Reason: "b"}), want: platform.KindInvalid},
		{name: "database refused", err: fmt.Errorf("book: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), want: platform.KindUnavailable},
		{name: "database shutting down", err: fmt.Errorf("book: %w", &pgconn.PgError{Code: "57P01"}), want: platform.KindUnavailable},
		{name: "connection lost", err: fmt.Errorf("book: %w", &pgconn.PgError{Code: "08006"}), want: platform.KindUnavailable},
		{name: "constraint", err: &pgconn.PgError{Code: "23505"}, want: platform.KindInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, platform.KindOf(tc.err))
		})
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	const secret = "SELECT secret FROM cards WHERE pan = '4111'"
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantKind   platform.Kind
		wantDetail string // "" means the generic internal detail
		wantFields []platform.FieldError
		wantCode   string
		wantLogged bool
	}{
		{name: "plain internal error", err: errors.New(secret), wantStatus: 500, wantKind: platform.KindInternal, wantLogged: true},
		{name: "wrapped internal error", err: fmt.Errorf("load: %w", errors.New(secret)), wantStatus: 500, wantKind: platform.KindInternal, wantLogged: true},
		{name: "internal kind with a message", err: &platform.Error{Kind: platform.KindInternal, Message: secret}, wantStatus: 500, wantKind: platform.KindInternal, wantLogged: true},
		{name: "not found shows its message", err: platform.NotFound("no car %q", "B-OC 1"), wantStatus: 404, wantKind: platform.KindNotFound, wantDetail: `no car "B-OC 1"`},
		{name: "4xx hides its wrapped cause", err: &platform.Error{Kind: platform.KindConflict, Message: "car taken", Err: errors.New(secret)}, wantStatus: 409, wantKind: platform.KindConflict, wantDetail: "car taken"},
		{name: "a conflict names its code", err: platform.Conflict("the car is taken").WithCode("vehicle_booked"), wantStatus: 409, wantKind: platform.KindConflict, wantDetail: "the car is taken", wantCode: "vehicle_booked"},
		{name: "an internal error hides its code", err: (&platform.Error{Kind: platform.KindInternal, Message: secret}).WithCode("db_down"), wantStatus: 500, wantKind: platform.KindInternal, wantLogged: true},
		{name: "invalid lists fields", err: platform.Invalid("bad input", platform.FieldError{Field: "seats", Reason: "must be positive"}), wantStatus: 400, wantKind: platform.KindInvalid, wantDetail: "bad input", wantFields: []platform.FieldError{{Field: "seats", Reason: "must be positive"}}},
		{name: "unavailable shows its message and is logged", err: &platform.Error{Kind: platform.KindUnavailable, Message: "not ready", Err: errors.New(secret)}, wantStatus: 503, wantKind: platform.KindUnavailable, wantDetail: "not ready", wantLogged: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			logger := platform.NewLogger(&logs, "debug", "test")
			req := httptest.NewRequest(http.MethodGet, "/api/cars/7", nil)
			ctx := platform.WithRequestID(platform.WithLogger(context.Background(), logger), "req-42")
			req = req.WithContext(ctx)

			rec := httptest.NewRecorder()
			platform.WriteError(rec, req, tc.err)
			resp := rec.Result()
			defer resp.Body.Close()

			p := readProblem(t, resp, tc.wantStatus)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			assert.Equal(t, platform.ProblemTypeBase+string(tc.wantKind), p.Type)
			assert.Equal(t, "req-42", p.RequestID)
			assert.Equal(t, "/api/cars/7", p.Instance)
			assert.Equal(t, tc.wantFields, p.Errors)
			assert.Equal(t, tc.wantCode, p.Code)
			if tc.wantDetail == "" {
				assert.Contains(t, p.Detail, "internal error")
			} else {
				assert.Equal(t, tc.wantDetail, p.Detail)
			}
			assert.NotContains(t, rec.Body.String(), "SELECT", "internals must never reach the caller")
			assert.NotContains(t, rec.Body.String(), "4111")

			failed := linesWithMsg(logLines(t, logs.String()), "request failed")
			if !tc.wantLogged {
				assert.Empty(t, failed, "4xx errors are not logged by WriteError")
				return
			}
			require.Len(t, failed, 1)
			assert.Equal(t, "ERROR", failed[0]["level"])
			assert.Contains(t, failed[0]["error"], secret, "the log keeps the full chain")
			assert.EqualValues(t, tc.wantStatus, failed[0]["status"])
		})
	}
}

func TestProblemForWithoutRequestID(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	p := platform.ProblemFor(req, platform.NotFound("nothing"))
	assert.Empty(t, p.RequestID)
	assert.Equal(t, http.StatusNotFound, p.Status)
	assert.True(t, strings.HasSuffix(p.Type, "/not-found"))
}

// An answer says no-store unless it chose its own caching: the API's answers are someone's
// data, some of them to requests without an Authorization header.
func TestAnswersAreNotStoredByDefault(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	require.NoError(t, platform.WriteJSON(rec, http.StatusOK, map[string]string{"secret": "whsec_x"}))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	rec = httptest.NewRecorder()
	rec.Header().Set("Cache-Control", "public, max-age=60")
	require.NoError(t, platform.WriteJSON(rec, http.StatusOK, []string{}))
	assert.Equal(t, "public, max-age=60", rec.Header().Get("Cache-Control"), "an answer's own choice stays")
}
