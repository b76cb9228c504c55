package platform_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

// fixedCaller authenticates every request as one caller.
type fixedCaller platform.Caller

func (f fixedCaller) Authenticate(context.Context, *http.Request) (platform.Caller, error) {
	return platform.Caller(f), nil
}

// TestAccess holds every kind of caller to every kind of route: people by role, functions
// by name, event deliveries by sender — none of them passing for another.
func TestAccess(t *testing.T) {
	t.Parallel()
	sweep := platform.PingSource("reservations-sweep")
	callers := map[string]platform.Caller{
		"anonymous":        {},
		"customer":         {Subject: "c", Roles: []platform.Role{platform.RoleCustomer}},
		"admin":            {Subject: "a", Roles: []platform.Role{platform.RoleAdmin}},
		"reservations-api": {Subject: "s1", Service: "reservations-api"},
		"vehicles-api":     {Subject: "s2", Service: "vehicles-api"},
		"sweep":            {Subject: "system:serviceaccount:orange:" + sweep.ServiceAccount(), Sender: sweep.ServiceAccount()},
		"other sender":     {Subject: "system:serviceaccount:orange:x", Sender: "x"},
		"foreign sender":   {Subject: "system:serviceaccount:evil:" + sweep.ServiceAccount(), Sender: "system:serviceaccount:evil:" + sweep.ServiceAccount()},
	}
	routes := map[string]platform.Access{
		"public":    platform.Public,
		"customers": platform.Allow(platform.RoleCustomer),
		"granted":   platform.Allow(platform.RoleCustomer).AndServices("reservations-api"),
		"admins":    platform.Allow(),
		"receiver":  platform.Deliveries(sweep),
	}
	want := map[string]map[string]int{
		"public":    {"anonymous": 200, "customer": 200, "admin": 200, "reservations-api": 200, "vehicles-api": 200, "sweep": 200, "other sender": 200, "foreign sender": 200},
		"customers": {"anonymous": 401, "customer": 200, "admin": 200, "reservations-api": 403, "vehicles-api": 403, "sweep": 403, "other sender": 403, "foreign sender": 403},
		"granted":   {"anonymous": 401, "customer": 200, "admin": 200, "reservations-api": 200, "vehicles-api": 403, "sweep": 403, "other sender": 403, "foreign sender": 403},
		"admins":    {"anonymous": 401, "customer": 403, "admin": 200, "reservations-api": 403, "vehicles-api": 403, "sweep": 403, "other sender": 403, "foreign sender": 403},
		"receiver":  {"anonymous": 401, "customer": 403, "admin": 403, "reservations-api": 403, "vehicles-api": 403, "sweep": 200, "other sender": 403, "foreign sender": 403},
	}
	for route, access := range routes {
		api := platform.RouteTable{{Name: route, Method: http.MethodGet, Path: "/x", Access: access,
			Handler: func(w http.ResponseWriter, r *http.Request) error { return nil }}}
		for name, c := range callers {
			t.Run(route+"/"+name, func(t *testing.T) {
				t.Parallel()
				rec := httptest.NewRecorder()
				platform.Handler(api, fixedCaller(c)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
				require.Contains(t, want[route], name)
				assert.Equal(t, want[route][name], rec.Code, rec.Body.String())
			})
		}
	}
}

// TestSenderServiceAccount pins the names Knative Eventing gives the OIDC identities of
// Triggers and PingSources; knative's tests compare them with Eventing's own function for
// every manifest.
func TestSenderServiceAccount(t *testing.T) {
	t.Parallel()
	cases := []struct {
		sender platform.Sender
		want   string
	}{
		{platform.Trigger("t"), "t-oidc-eventing.knative.dev-trigger"},
		{platform.PingSource("reservations-sweep"), "reservations-sweep-oidc-sources.knative.dev-pingsource"},
		// Longer than 63 characters: shortened and hashed, as kmeta.ChildName does (the
		// suffix is too long to keep, so the hash covers parent and suffix).
		{platform.Trigger("payments-api-reservation-completed"), "(hashed)"},
	}
	for _, tc := range cases {
		got := tc.sender.ServiceAccount()
		assert.LessOrEqual(t, len(got), 63, tc.sender.String())
		if tc.want != "(hashed)" {
			assert.Equal(t, tc.want, got, tc.sender.String())
		} else {
			assert.Len(t, got, 63, "parent and hash fill Kubernetes' limit")
			assert.NotEqual(t, got, platform.Trigger("payments-api-reservation-cancelled").ServiceAccount(), "distinct Triggers, distinct identities")
		}
	}
}
