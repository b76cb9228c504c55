package platform

import (
	"context"
	"crypto/md5" //nolint:gosec // a name, not a secret: Knative's own choice, reproduced
	"encoding/hex"
	"slices"
	"strings"
)

// Role is a Keycloak realm role. A token carries them in realm_access.roles.
type Role string

// The roles of the system. RoleService marks the service account of a function's OAuth
// client: a token holding it is a function calling on its own behalf (Caller.Service), and
// is admitted only where a route names that function (Access.AndServices). It is never given
// to a person.
const (
	RoleCustomer Role = "customer"
	RoleAgent    Role = "call-center-agent"
	RoleFleet    Role = "fleet-manager"
	RoleAdmin    Role = "admin"
	// RolePartner marks an external system (a telematics provider, a partner garage) signed
	// in with client credentials: its client id names the partner. Admitted only where a
	// route names the role (sync-worker's /api/events).
	RolePartner Role = "partner"
	RoleService Role = "service"
)

// Caller is who sent a request, as its verified token says. The zero Caller is anonymous.
// Exactly one kind is set for a signed-in caller: a person (Roles), a function calling on its
// own behalf (Service), or the event platform delivering an event (Sender).
type Caller struct {
	Subject    string
	Username   string
	CustomerID string
	Roles      []Role
	// Service is the Knative Service name of a function calling with its own identity (its
	// OAuth client id); empty for people and event deliveries.
	Service string
	// Sender is the Kubernetes service account a delivery's token names — the OIDC identity
	// Knative Eventing gives a Trigger or PingSource — when the event platform sent the
	// request; empty otherwise.
	Sender string
}

// Anonymous reports whether the request carried no token.
func (c Caller) Anonymous() bool { return c.Subject == "" }

// Has reports whether the caller holds role.
func (c Caller) Has(role Role) bool { return slices.Contains(c.Roles, role) }

// Staff reports whether the caller may see every customer's objects: agents, admins and
// functions calling on their own behalf (which a route admits only by name).
func (c Caller) Staff() bool { return c.Has(RoleAgent) || c.Has(RoleAdmin) || c.Service != "" }

// Owns reports whether customerID is the caller's own customer record.
func (c Caller) Owns(customerID string) bool {
	return c.CustomerID != "" && c.CustomerID == customerID
}

// MaySee reports whether the caller may see an object owned by customerID. A handler that
// gets false answers 404, not 403, so a customer cannot learn that another's object exists.
func (c Caller) MaySee(customerID string) bool { return c.Staff() || c.Owns(customerID) }

type callerKey struct{}

// WithCaller stores the verified caller in ctx.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller of the request ctx belongs to (anonymous when none).
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// Access says who may call a route. Admins may call every route but event receivers.
type Access struct {
	// Public routes answer anyone, signed in or not.
	Public bool
	// Roles may call the route (any one suffices); empty with Public false and no Services
	// means admins only.
	Roles []Role
	// Services are the functions that may call the route with their own identity.
	Services []string
	// Senders, when set, make the route an event receiver: only deliveries of the event
	// platform from these senders are admitted — no person, no function, no admin.
	Senders []Sender
}

// Public is the access of routes anyone may call.
var Public = Access{Public: true}

// Allow returns the access for routes that the given roles (and admins) may call.
func Allow(roles ...Role) Access { return Access{Roles: roles} }

// AndServices returns a copy of a that also admits the named functions (Knative Service
// names) calling with their own identity.
func (a Access) AndServices(services ...string) Access {
	a.Services = append(slices.Clone(a.Services), services...)
	return a
}

// Deliveries is the access of a CloudEvents receiver: the event platform's deliveries from
// the given senders only, the way a role is granted.
func Deliveries(senders ...Sender) Access { return Access{Senders: senders} }

// Sender is a Knative Eventing object that delivers events with its own OIDC identity: a
// Trigger (its deliveries to the subscriber and to the dead-letter sink) or a PingSource.
type Sender struct {
	Kind string // "Trigger" or "PingSource"
	Name string
}

// Trigger names a Trigger as a sender.
func Trigger(name string) Sender { return Sender{Kind: "Trigger", Name: name} }

// PingSource names a PingSource as a sender.
func PingSource(name string) Sender { return Sender{Kind: "PingSource", Name: name} }

// senderGroups are the API groups of the senders' kinds, which Knative puts in the names of
// their OIDC service accounts.
var senderGroups = map[string]string{"Trigger": "eventing.knative.dev", "PingSource": "sources.knative.dev"}

// ServiceAccount is the name of the service account Knative Eventing creates for the
// sender when OIDC authentication is on (knative.dev/eventing pkg/auth
// GetOIDCServiceAccountNameForResource): kmeta.ChildName(name, "-oidc-<group>-<kind>"),
// lower-cased. Its tokens' subject is system:serviceaccount:<namespace>:<this name>.
func (s Sender) ServiceAccount() string {
	return strings.ToLower(childName(s.Name, "-oidc-"+senderGroups[s.Kind]+"-"+s.Kind))
}

// String is "Trigger/<name>".
func (s Sender) String() string { return s.Kind + "/" + s.Name }

// childName is knative.dev/pkg/kmeta.ChildName, which names objects Knative derives from
// another: parent+suffix, with the parent shortened and hashed when the whole would exceed
// Kubernetes' 63 characters. Service binaries do not import Knative (design.md §3); the
// knative tests hold this copy to the original.
func childName(parent, suffix string) string {
	const longest, md5Len = 63, 32
	const head = longest - md5Len
	if len(parent) <= longest-len(suffix) {
		return parent + suffix
	}
	if head-len(suffix) <= 0 {
		h := md5.Sum([]byte(parent + suffix)) //nolint:gosec
		if head < len(parent) {
			parent = parent[:head]
		}
		ret := parent + hex.EncodeToString(h[:])
		if d := longest - len(ret); d > 0 {
			ret += suffix[:d]
		}
		for len(ret) > 0 && !isAlphanumeric(ret[len(ret)-1]) {
			ret = ret[:len(ret)-1]
		}
		return ret
	}
	h := md5.Sum([]byte(parent)) //nolint:gosec
	return parent[:head-len(suffix)] + hex.EncodeToString(h[:]) + suffix
}

func isAlphanumeric(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// check returns nil when c may call a route with access a: 401 for an anonymous caller of a
// protected route, 403 for a signed-in caller the route does not admit.
func (a Access) check(c Caller) error {
	if a.Public {
		return nil
	}
	if c.Anonymous() {
		return Errorf(KindUnauthorized, "sign in to call this operation")
	}
	if len(a.Senders) > 0 {
		if c.Sender != "" && slices.ContainsFunc(a.Senders, func(s Sender) bool { return s.ServiceAccount() == c.Sender }) {
			return nil
		}
		return Errorf(KindForbidden, "only the event platform's deliveries from this receiver's Triggers and PingSources are accepted")
	}
	switch {
	case c.Sender != "":
		// An event delivery's token is good for event receivers only.
	case c.Service != "":
		if slices.Contains(a.Services, c.Service) {
			return nil
		}
	case c.Has(RoleAdmin):
		return nil
	default:
		for _, r := range a.Roles {
			if c.Has(r) {
				return nil
			}
		}
	}
	return Errorf(KindForbidden, "your roles do not allow this operation")
}
