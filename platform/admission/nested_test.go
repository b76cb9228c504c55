package admission_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/admission"
)

// An in-process call made by a request that a function has admitted is part of that work:
// the callee serves it even at its own limit, instead of failing the request half-way. A
// front door's admission is not the work: what it forwards still meets the callee's limit.
func TestCallsMadeByAdmittedWorkAreNotRefusedHalfWay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		public bool // the caller is a front door
		want   int
	}{
		{"from a function's admitted request", false, http.StatusNoContent},
		{"from a front door", true, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBlocking()
			defer close(b.release)
			callee := admission.New("pricing-api", admission.Config{MaxInFlight: 1}, false)
			// The first request holds pricing-api's only slot; any other is answered at once.
			pricing := callee.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Hold") != "" {
					b.ServeHTTP(w, r)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			fill(t, pricing, b, 1, func() *http.Request { r := get(); r.Header.Set("Hold", "1"); return r })

			// The caller's handler calls pricing-api in-process with its request's context,
			// as platform's transport does.
			var code int
			caller := admission.New("vehicles-api", admission.Config{MaxInFlight: 1}, tc.public).Wrap(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					assert.Equal(t, !tc.public, admission.Admitted(r.Context()))
					rec := httptest.NewRecorder()
					pricing.ServeHTTP(rec, get().WithContext(r.Context()))
					code = rec.Code
					w.WriteHeader(http.StatusOK)
				}))
			rec := httptest.NewRecorder()
			caller.ServeHTTP(rec, get())
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, tc.want, code)
			s := callee.Stats(admission.Requests)
			assert.Equal(t, 1, s.InFlight, "the nested call took no slot")
			if tc.want == http.StatusNoContent {
				assert.Equal(t, admission.Stats{Limit: 1, InFlight: 1, Admitted: 1, Nested: 1}, s)
			} else {
				assert.Equal(t, admission.Stats{Limit: 1, InFlight: 1, Admitted: 1, Rejected: 1}, s)
			}
		})
	}
}

// A request that reaches a function with no admitted work behind it (over the network, or
// from the in-process broker) is not marked: it meets the function's limit.
func TestAFreshRequestIsNotAdmittedWork(t *testing.T) {
	t.Parallel()
	assert.False(t, admission.Admitted(get().Context()))
}

// A function's refusal is marked for the gateway (which adapts its per-function limit to
// it and drops the mark); a front door's, answered to clients, is not.
func TestARefusalIsMarkedForTheGatewayOnly(t *testing.T) {
	t.Parallel()
	for _, public := range []bool{false, true} {
		b := newBlocking()
		h := admission.New("things-api", admission.Config{MaxInFlight: 1}, public).Wrap(b)
		wait := fill(t, h, b, 1, get)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, get())
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Equal(t, !public, rec.Header().Get(admission.RefusedHeader) != "", "public=%v", public)
		close(b.release)
		wait()
	}
}
