package knative_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
)

// The Keycloak realm (knative/keycloak/realm-orange-car-rental.json) gives
// every function but those in noServiceClient a confidential client of its
// own, named as its Knative Service: the identity it calls other functions
// with (design.md §9).

const realmFile = "knative/keycloak/realm-orange-car-rental.json"

type realm struct {
	Roles struct {
		Realm []struct {
			Name string `json:"name"`
		} `json:"realm"`
	} `json:"roles"`
	Clients []realmClient `json:"clients"`
	Users   []struct {
		Username               string   `json:"username"`
		Enabled                bool     `json:"enabled"`
		ServiceAccountClientID string   `json:"serviceAccountClientId"`
		RealmRoles             []string `json:"realmRoles"`
	} `json:"users"`
}

type realmClient struct {
	ClientID                  string `json:"clientId"`
	Enabled                   bool   `json:"enabled"`
	PublicClient              bool   `json:"publicClient"`
	ClientAuthenticatorType   string `json:"clientAuthenticatorType"`
	Secret                    string `json:"secret"`
	StandardFlowEnabled       bool   `json:"standardFlowEnabled"`
	ImplicitFlowEnabled       bool   `json:"implicitFlowEnabled"`
	DirectAccessGrantsEnabled bool   `json:"directAccessGrantsEnabled"`
	ServiceAccountsEnabled    bool   `json:"serviceAccountsEnabled"`
	ProtocolMappers           []struct {
		ProtocolMapper string            `json:"protocolMapper"`
		Config         map[string]string `json:"config"`
	} `json:"protocolMappers"`
}

// secretPlaceholder is the Keycloak import placeholder a function client's
// secret comes from: <SERVICE>_CLIENT_SECRET.
func secretPlaceholder(service string) string {
	return "${" + strings.ToUpper(strings.ReplaceAll(service, "-", "_")) + "_CLIENT_SECRET}"
}

var placeholder = regexp.MustCompile(`^\$\{[A-Z0-9_]+\}$`)

// checkRealm: one confidential client per function with a client of its
// own (clients: their Service names), client credentials only, its secret
// from its own placeholder, the API audience in its access tokens (the
// audience the functions require, audience), and a service-account user
// holding the service role; nothing else is confidential or holds service.
func checkRealm(rl realm, clients []string, audience string) []problem {
	var ps []problem
	add := func(obj, field, msg string) {
		ps = append(ps, problem{File: realmFile, Object: obj, Field: field, Msg: msg})
	}
	if !slices.ContainsFunc(rl.Roles.Realm, func(r struct {
		Name string `json:"name"`
	}) bool {
		return r.Name == string(platform.RoleService)
	}) {
		add("roles", "realm", fmt.Sprintf(": no realm role %q", platform.RoleService))
	}
	// Partners' clients (sync-worker's /api/events): confidential with a service account
	// that holds the partner role and nothing else.
	partners := map[string]bool{}
	for _, u := range rl.Users {
		if slices.Equal(u.RealmRoles, []string{string(platform.RolePartner)}) && u.Username == auth.ServiceAccountUsername(u.ServiceAccountClientID) {
			partners[u.ServiceAccountClientID] = true
		}
	}
	byID := map[string]realmClient{}
	for _, c := range rl.Clients {
		byID[c.ClientID] = c
		if !slices.Contains(clients, c.ClientID) && !partners[c.ClientID] && (c.ServiceAccountsEnabled || !c.PublicClient) {
			add("client "+c.ClientID, "serviceAccountsEnabled", ": only the functions' own clients are confidential with a service account (no shared client)")
		}
	}
	secrets := map[string]string{}
	for _, id := range clients {
		obj := "client " + id
		c, ok := byID[id]
		if !ok {
			add(obj, "clientId", ": missing; every function but "+strings.Join(sortedKeys(noServiceClient), ", ")+" has a client of its own")
			continue
		}
		for _, f := range []struct {
			field     string
			got, want bool
		}{
			{"enabled", c.Enabled, true},
			{"publicClient", c.PublicClient, false},
			{"serviceAccountsEnabled", c.ServiceAccountsEnabled, true},
			{"standardFlowEnabled", c.StandardFlowEnabled, false},
			{"implicitFlowEnabled", c.ImplicitFlowEnabled, false},
			{"directAccessGrantsEnabled", c.DirectAccessGrantsEnabled, false},
		} {
			if f.got != f.want {
				add(obj, f.field, fmt.Sprintf(" = %v, want %v (client credentials only)", f.got, f.want))
			}
		}
		if c.ClientAuthenticatorType != "client-secret" {
			add(obj, "clientAuthenticatorType", wantGot(c.ClientAuthenticatorType, "client-secret"))
		}
		if want := secretPlaceholder(id); c.Secret != want {
			add(obj, "secret", wantGot(c.Secret, want)+" (never a literal secret in the repository)")
		}
		if other, dup := secrets[c.Secret]; dup {
			add(obj, "secret", fmt.Sprintf(": the same placeholder as client %s; one secret per function", other))
		}
		secrets[c.Secret] = id
		hasAudience := false
		for _, m := range c.ProtocolMappers {
			if m.ProtocolMapper == "oidc-audience-mapper" && m.Config["included.custom.audience"] == audience && m.Config["access.token.claim"] == "true" {
				hasAudience = true
			}
		}
		if !hasAudience {
			add(obj, "protocolMappers", fmt.Sprintf(": no oidc-audience-mapper putting %q into access tokens (the functions require it in aud)", audience))
		}
	}
	holders := map[string]bool{}
	for _, u := range rl.Users {
		if slices.Contains(u.RealmRoles, string(platform.RoleService)) {
			holders[u.ServiceAccountClientID] = true
			want := auth.ServiceAccountUsername(u.ServiceAccountClientID)
			switch {
			case !slices.Contains(clients, u.ServiceAccountClientID):
				add("user "+u.Username, "realmRoles", fmt.Sprintf(": holds %q but is not the service account of a function's client", platform.RoleService))
			case u.Username != want:
				add("user "+u.Username, "username", wantGot(u.Username, want)+" (Keycloak's name for the client's service account, which the verifier checks)")
			case !u.Enabled:
				add("user "+u.Username, "enabled", " = false")
			}
		}
	}
	for _, id := range clients {
		if !holders[id] {
			add("client "+id, "users", fmt.Sprintf(": no user %s with serviceAccountClientId %s holding realm role %q", auth.ServiceAccountUsername(id), id, platform.RoleService))
		}
	}
	return ps
}

// functionClients are the Knative Service names of the functions that have
// a client of their own: every function of functions/all but noServiceClient.
func functionClients(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, fn := range all.Functions() {
		if noServiceClient[fn.Service] == "" {
			out = append(out, fn.Service)
		}
	}
	slices.Sort(out)
	if len(out) < 5 {
		t.Fatalf("functions with a client: %v", out)
	}
	return out
}

func readRealm(t testing.TB) realm {
	t.Helper()
	modDir, _ := moduleRoot(t)
	b, err := os.ReadFile(filepath.Join(modDir, filepath.FromSlash(realmFile)))
	if err != nil {
		t.Fatal(err)
	}
	var rl realm
	if err := json.Unmarshal(b, &rl); err != nil {
		t.Fatalf("%s: %v", realmFile, err)
	}
	return rl
}

// apiAudience is the audience the functions require in people's and
// functions' tokens (OIDC_AUDIENCE's default).
func apiAudience(t testing.TB) string {
	t.Helper()
	aud, ok := envDefault(reflect.TypeOf(auth.Config{}), "OIDC_AUDIENCE")
	if !ok || aud == "" {
		t.Fatal("auth.Config reads no OIDC_AUDIENCE with a default")
	}
	return aud
}

func TestRealmHasOneClientPerFunction(t *testing.T) {
	t.Parallel()
	report(t, "realm", checkRealm(readRealm(t), functionClients(t), apiAudience(t)))
	// The README tells how to import it: every placeholder must be named there.
	modDir, _ := moduleRoot(t)
	readme, err := os.ReadFile(filepath.Join(modDir, "knative", "keycloak", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range functionClients(t) {
		env := strings.Trim(secretPlaceholder(id), "${}")
		if !strings.Contains(string(readme), env) {
			t.Errorf("knative/keycloak/README.md: does not name %s (client %s's secret)", env, id)
		}
	}
	for _, c := range readRealm(t).Clients {
		if c.Secret != "" && !placeholder.MatchString(c.Secret) {
			t.Errorf("%s: client %s: secret is not a ${…} placeholder", realmFile, c.ClientID)
		}
	}
}

func TestRealmMutationsAreCaught(t *testing.T) {
	t.Parallel()
	clients, aud := functionClients(t), apiAudience(t)
	tests := []struct {
		name   string
		mutate func(*realm)
		want   string
	}{
		{
			name: "shared client",
			mutate: func(rl *realm) {
				rl.Clients = append(rl.Clients, realmClient{ClientID: "orange-services", ServiceAccountsEnabled: true})
			},
			want: "knative/keycloak/realm-orange-car-rental.json: client orange-services: serviceAccountsEnabled: only the functions' own clients are confidential with a service account (no shared client)",
		},
		{
			name: "function without client",
			mutate: func(rl *realm) {
				rl.Clients = slices.DeleteFunc(rl.Clients, func(c realmClient) bool { return c.ClientID == "payments-api" })
			},
			want: "knative/keycloak/realm-orange-car-rental.json: client payments-api: clientId: missing; every function but " +
				strings.Join(sortedKeys(noServiceClient), ", ") + " has a client of its own",
		},
		{
			name: "browser flow on",
			mutate: func(rl *realm) {
				for i := range rl.Clients {
					if rl.Clients[i].ClientID == "pricing-api" {
						rl.Clients[i].StandardFlowEnabled = true
					}
				}
			},
			want: "knative/keycloak/realm-orange-car-rental.json: client pricing-api: standardFlowEnabled = true, want false (client credentials only)",
		},
		{
			name: "literal secret",
			mutate: func(rl *realm) {
				for i := range rl.Clients {
					if rl.Clients[i].ClientID == "customers-api" {
						rl.Clients[i].Secret = "s3cret"
					}
				}
			},
			want: `knative/keycloak/realm-orange-car-rental.json: client customers-api: secret = "s3cret", want "${CUSTOMERS_API_CLIENT_SECRET}" (never a literal secret in the repository)`,
		},
		{
			name: "no audience",
			mutate: func(rl *realm) {
				for i := range rl.Clients {
					if rl.Clients[i].ClientID == "vehicles-api" {
						rl.Clients[i].ProtocolMappers = nil
					}
				}
			},
			want: `knative/keycloak/realm-orange-car-rental.json: client vehicles-api: protocolMappers: no oidc-audience-mapper putting "orange-api" into access tokens (the functions require it in aud)`,
		},
		{
			name: "service account without the role",
			mutate: func(rl *realm) {
				for i := range rl.Users {
					if rl.Users[i].ServiceAccountClientID == "reservations-api" {
						rl.Users[i].RealmRoles = nil
					}
				}
			},
			want: `knative/keycloak/realm-orange-car-rental.json: client reservations-api: users: no user service-account-reservations-api with serviceAccountClientId reservations-api holding realm role "service"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rl := readRealm(t)
			tt.mutate(&rl)
			mustContain(t, checkRealm(rl, clients, aud), tt.want)
		})
	}
}
