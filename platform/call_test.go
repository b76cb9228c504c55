package platform_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

// TestCallJSON: what CallJSON sends (a JSON body only when there is one, and the headers
// that go with it) and how it reads every kind of answer: a 2xx decoded, any other status a
// *CallError with the problem it carried, an unreadable or oversized 2xx an error of its
// own, and a function never reached the transport's error, never a *CallError.
func TestCallJSON(t *testing.T) {
	t.Parallel()
	type car struct {
		ID   string `json:"id"`
		Seat int    `json:"seats"`
	}
	problem := func(status int, detail string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(platform.Problem{Type: platform.ProblemTypeBase + "invalid", Title: http.StatusText(status),
				Status: status, Detail: detail, Errors: []platform.FieldError{{Field: "seats", Reason: "too many"}}})
		}
	}
	tests := []struct {
		name      string
		method    string
		in        any
		noOut     bool // out is nil
		reply     http.HandlerFunc
		wantBody  string // what the function was sent ("" no body)
		wantCT    string // the request's Content-Type
		wantOut   car
		wantCall  *platform.CallError // for an answer other than 2xx
		wantError string              // part of any other error's text
	}{
		{name: "2xx decoded", method: http.MethodPost, in: car{ID: "a", Seat: 5},
			reply:    func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(w, r.Body) },
			wantBody: `{"id":"a","seats":5}`, wantCT: "application/json", wantOut: car{ID: "a", Seat: 5}},
		{name: "no body when in is nil", method: http.MethodGet,
			reply:   func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"id":"b","seats":2}`)) },
			wantOut: car{ID: "b", Seat: 2}},
		{name: "2xx with out nil is read no further", method: http.MethodDelete, noOut: true,
			reply: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }},
		{name: "4xx problem", method: http.MethodPost, in: car{ID: "c", Seat: 99}, reply: problem(http.StatusBadRequest, "the car is invalid"),
			wantBody: `{"id":"c","seats":99}`, wantCT: "application/json",
			wantCall: &platform.CallError{Service: "cars-api", Status: http.StatusBadRequest, Problem: platform.Problem{
				Type: platform.ProblemTypeBase + "invalid", Title: "Bad Request", Status: http.StatusBadRequest, Detail: "the car is invalid",
				Errors: []platform.FieldError{{Field: "seats", Reason: "too many"}}}},
			wantError: "cars-api answered 400: the car is invalid"},
		{name: "a body that is no problem", method: http.MethodGet,
			reply: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "upstream connect error", http.StatusBadGateway)
			},
			wantCall:  &platform.CallError{Service: "cars-api", Status: http.StatusBadGateway},
			wantError: "cars-api answered 502: Bad Gateway"},
		{name: "an unreadable 2xx", method: http.MethodGet,
			reply:     func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"id":`)) },
			wantError: "GET http://cars-api/api/cars/1: reading the answer"},
		{name: "an answer over 1 MiB is cut", method: http.MethodGet,
			reply: func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"id":"` + strings.Repeat("x", 1<<20) + `"}`))
			},
			wantError: "reading the answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var sent *http.Request
			var sentBody []byte
			tr := platform.NewTransport(nil, nil)
			tr.Mount("cars-api", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sent = r
				sentBody, _ = io.ReadAll(r.Body)
				r.Body = io.NopCloser(strings.NewReader(string(sentBody)))
				tt.reply(w, r)
			}))
			var got car
			var out any = &got
			if tt.noOut {
				out = nil
			}
			err := platform.CallJSON(context.Background(), &http.Client{Transport: tr}, tt.method, "cars-api", "/api/cars/1", tt.in, out)

			require.NotNil(t, sent, "the function was called")
			assert.Equal(t, tt.method, sent.Method)
			assert.Equal(t, "/api/cars/1", sent.URL.Path)
			assert.Equal(t, "application/json", sent.Header.Get("Accept"))
			assert.Equal(t, tt.wantCT, sent.Header.Get("Content-Type"))
			if tt.wantBody == "" {
				assert.Empty(t, sentBody)
			} else {
				assert.JSONEq(t, tt.wantBody, string(sentBody))
			}

			var ce *platform.CallError
			switch {
			case tt.wantCall != nil:
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tt.wantCall, ce)
				assert.EqualError(t, err, tt.wantError)
			case tt.wantError != "":
				require.Error(t, err)
				assert.False(t, errors.As(err, &ce), "a 2xx is no *CallError")
				assert.Contains(t, err.Error(), tt.wantError)
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.wantOut, got)
			}
		})
	}
}

// TestCallJSONTransportFailure: a function never reached is the transport's error as it
// is, never a *CallError.
func TestCallJSONTransportFailure(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	c := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, down })}
	err := platform.CallJSON(context.Background(), c, http.MethodPost, "cars-api", "/api/cars", map[string]int{"seats": 5}, nil)
	require.ErrorIs(t, err, down)
	var ce *platform.CallError
	assert.False(t, errors.As(err, &ce))
}
