package reservations_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/openapitest"
)

func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	r := a.do("", http.MethodGet, "/api/reservations/openapi.json", "")
	require.Equal(t, http.StatusOK, r.status)
	return openapitest.Load(t, r.body)
}

// TestOpenAPICoversEveryRoute holds the document and the route table to each other.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	svc, err := reservations.New(context.Background(), reservations.Config{}, platform.Deps{})
	require.NoError(t, err)
	openapitest.CheckRoutes(t, loadOpenAPI(t, a), svc.Routes())
	assert.Equal(t, a.do("", http.MethodGet, "/openapi.json", "").body, a.do("", http.MethodGet, "/api/reservations/openapi.json", "").body)
}

// TestResponsesMatchTheDocument validates real responses, errors included, against the document.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	v := openapitest.NewValidator(t, loadOpenAPI(t, a))
	p, ret := period(3, 48)
	res := a.book(vehicle1, p, ret)
	second := a.book("f1ee0000-0000-4000-8000-000000000005", p, ret)
	calls := []struct{ user, method, path, body string }{
		{"alice", "POST", "/api/reservations", bookingBody(vehicle2, p, ret, "")},
		{"alice", "POST", "/api/reservations", bookingBody(vehicle2, p, ret, "")},
		{"alice", "POST", "/api/reservations", `{"vehicleId":"x"}`},
		{"carla", "GET", "/api/reservations?status=pending&sort=-createdAt", ""},
		{"carla", "GET", "/api/reservations?status=lost", ""},
		{"alice", "GET", "/api/reservations/" + res.ID, ""},
		{"bob", "GET", "/api/reservations/" + res.ID, ""},
		{"", "GET", "/api/reservations/lookup?id=" + res.ID + "&email=" + aliceEmail, ""},
		{"carla", "POST", "/api/reservations/" + res.ID + "/complete", ""},
		{"alice", "POST", "/api/reservations/" + res.ID + "/cancel", `{"reason":"changed plans"}`},
		{"carla", "POST", "/api/reservations", bookingBody(vehicle2, ret, ret.Add(24*time.Hour), `,"customerId":"`+ineligible+`"`)},                                      // 422
		{"", "POST", "/api/reservations/guest", guestBody(p, ret, "young@example.com", time.Now().AddDate(-20, 0, 0).Format(time.DateOnly), "2024-01-01", "2040-01-01")}, // 422
		{"", "POST", "/api/reservations/guest", guestBody(ret, ret.Add(24*time.Hour), "guest@example.com", "1990-01-01", "2010-01-01", "2040-01-01")},
		{"alice", "GET", "/api/reservations?page=1;pageSize=9999999", ""},                                                   // 400
		{"alice", "POST", "/api/reservations/" + second.ID + "/payment-method", `{"paymentMethodId":"` + secondCard + `"}`}, // 409: no decline yet
		{"alice", "POST", "/api/reservations/" + second.ID + "/payment-method", `{"paymentMethodId":"4242"}`},               // 400
		{"alice", "POST", "/api/reservations/" + second.ID + "/change", `{"insurance":"FULL"}`},
		{"alice", "POST", "/api/reservations/" + second.ID + "/change", `{}`},                           // 400
		{"", "GET", "/api/reservations/" + second.ID + "/guest?token=forged", ""},                       // 404
		{"", "GET", "/api/reservations/" + second.ID + "/guest", ""},                                    // 400
		{"", "GET", "/api/reservations/" + second.ID + "/guest/cancellation-fee?token=forged", ""},      // 404
		{"", "POST", "/api/reservations/" + second.ID + "/guest/cancel?token=forged", `{"reason":"x"}`}, // 404
		{"", "POST", "/api/reservations/" + second.ID + "/guest/change?token=forged", `{"insurance":"FULL"}`},
		{"", "POST", "/api/reservations/" + second.ID + "/guest/payment-method?token=forged", `{"paymentMethodId":"` + secondCard + `"}`},
		{"alice", "GET", "/api/reservations/" + second.ID + "/guest-link", ""}, // 403
		{"ada", "GET", "/api/reservations/" + second.ID + "/guest-link", ""},   // 404: not a guest booking, no key
	}
	for _, c := range calls {
		header := http.Header{}
		if c.body != "" {
			header.Set("Content-Type", "application/json")
		}
		r := a.do(c.user, c.method, c.path, c.body)
		v.Check(t, c.method, c.path, header, r.status, r.header, r.body)
	}
}
