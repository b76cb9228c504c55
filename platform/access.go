package platform

import (
	"context"
	"slices"
)

// Role is a Keycloak realm role. A token carries them in realm_access.roles.
type Role string

// The roles of the system. RoleService is the identity of calls between functions and of
// deliveries from the Broker; it is never given to a person.
const (
	RoleCustomer Role = "customer"
	RoleAgent    Role = "call-center-agent"
	RoleFleet    Role = "fleet-manager"
	RoleAdmin    Role = "admin"
	RoleService  Role = "service"
)

// Caller is who sent a request, as its verified token says. The zero Caller is anonymous.
type Caller struct {
	Subject    string
	Username   string
	CustomerID string
	Roles      []Role
}

// Anonymous reports whether the request carried no token.
func (c Caller) Anonymous() bool { return c.Subject == "" }

// Has reports whether the caller holds role.
func (c Caller) Has(role Role) bool { return slices.Contains(c.Roles, role) }

// Staff reports whether the caller may see every customer's objects: agents, admins and
// the service identity.
func (c Caller) Staff() bool { return c.Has(RoleAgent) || c.Has(RoleAdmin) || c.Has(RoleService) }

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

// Access says who may call a route. Admins may call every route.
type Access struct {
	// Public routes answer anyone, signed in or not.
	Public bool
	// Roles may call the route (any one suffices); empty with Public false means admins only.
	Roles []Role
}

// Public is the access of routes anyone may call.
var Public = Access{Public: true}

// Allow returns the access for routes that the given roles (and admins) may call.
func Allow(roles ...Role) Access { return Access{Roles: roles} }

// check returns nil when c may call a route with access a: 401 for an anonymous caller of a
// protected route, 403 for a signed-in caller without a fitting role.
func (a Access) check(c Caller) error {
	if a.Public || c.Has(RoleAdmin) {
		return nil
	}
	for _, r := range a.Roles {
		if c.Has(r) {
			return nil
		}
	}
	if c.Anonymous() {
		return Errorf(KindUnauthorized, "sign in to call this operation")
	}
	return Errorf(KindForbidden, "your roles do not allow this operation")
}
