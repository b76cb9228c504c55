// Package brokertest answers, for tests, what knative/base says about deliveries: which
// Trigger or PingSource delivers an event type to which Service — so a test sends a delivery
// with the token of the sender the cluster would use, read from the manifests, not written
// by hand.
package brokertest

import (
	"net/http"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/knative"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// routes is what knative/base says about deliveries: every Trigger and PingSource, as the
// cluster (and the in-process broker of `orange dev`) runs them.
type routes struct {
	triggers []broker.Trigger
	pings    []broker.PingSource
}

var loadRoutes = sync.OnceValues(func() (routes, error) {
	triggers, err := broker.LoadTriggers(knative.Manifests, "base")
	if err != nil {
		return routes{}, err
	}
	pings, err := broker.LoadPingSources(knative.Manifests, "base")
	return routes{triggers: triggers, pings: pings}, err
})

// Delivery is one way events of a type reach a Service in knative/base: the Trigger (or
// PingSource) that sends them and the Service it sends them to.
type Delivery struct {
	Sender  platform.Sender
	Service string
}

// DeliveriesOf returns how events of typ are delivered in knative/base, one entry per
// Trigger whose filter passes such an event (or, for a ping, per PingSource that sinks to a
// Service).
func DeliveriesOf(tb testing.TB, typ string) []Delivery {
	tb.Helper()
	r, err := loadRoutes()
	require.NoError(tb, err)
	var out []Delivery
	if typ == events.Ping {
		for _, p := range r.pings {
			if p.Sink.Service != "" {
				out = append(out, deliveryTo(tb, platform.PingSource(p.Name), p.Sink))
			}
		}
		return out
	}
	probe := cloudevents.NewEvent()
	probe.SetID(uuid.NewString())
	probe.SetSource("tests")
	probe.SetType(typ)
	for _, tg := range r.triggers {
		if tg.Matches(probe) {
			out = append(out, deliveryTo(tb, platform.Trigger(tg.Name), tg.Subscriber))
		}
	}
	return out
}

// deliveryTo is sender's delivery to d, checked to address d's audience in the tests'
// namespace: the token the receiver's verifier expects is the one the manifest asks for.
func deliveryTo(tb testing.TB, sender platform.Sender, d broker.Destination) Delivery {
	tb.Helper()
	require.Equal(tb, authtest.Namespace, d.Namespace, "%s delivers to another namespace", sender)
	require.Equal(tb, auth.ServiceAudience(d.Namespace, d.Service), d.Audience, "%s: the audience of its deliveries to %s", sender, d.Service)
	return Delivery{Sender: sender, Service: d.Service}
}

// SenderOf is the one Trigger or PingSource that delivers events of typ to service.
func SenderOf(tb testing.TB, service, typ string) platform.Sender {
	tb.Helper()
	var found []platform.Sender
	for _, d := range DeliveriesOf(tb, typ) {
		if d.Service == service {
			found = append(found, d.Sender)
		}
	}
	require.Len(tb, found, 1, "the senders of %s to %s in knative/base: %v", typ, service, found)
	return found[0]
}

// OtherDelivery is a Trigger of another function: one delivering typ to another Service
// when there is one, else the first Trigger of another Service.
func OtherDelivery(tb testing.TB, service, typ string) Delivery {
	tb.Helper()
	for _, d := range DeliveriesOf(tb, typ) {
		if d.Service != service {
			return d
		}
	}
	r, err := loadRoutes()
	require.NoError(tb, err)
	for _, tg := range r.triggers {
		if tg.Subscriber.Service != "" && tg.Subscriber.Service != service {
			return deliveryTo(tb, platform.Trigger(tg.Name), tg.Subscriber)
		}
	}
	tb.Fatalf("knative/base has no Trigger of a Service but %s", service)
	return Delivery{}
}

// Credential is one Authorization header a receiver test sends, and the status it must get.
type Credential struct {
	Name   string
	Auth   string // "" for none
	Status int
}

// DeliveryCredentials are the event-platform credentials a receiver must refuse for a
// delivery of typ to service — none, another issuer, the cluster issuer's name signed with
// another key, expired, addressed to another Service (401), a valid delivery from another
// function's Trigger (403) — followed by the one it must accept: its own Trigger's (202).
// Callers add people's and functions' tokens before the last.
func DeliveryCredentials(tb testing.TB, id *authtest.Identity, service, typ string) []Credential {
	tb.Helper()
	right := SenderOf(tb, service, typ)
	other := OtherDelivery(tb, service, typ)
	subject := devissuer.Subject(authtest.Namespace, right.ServiceAccount())
	audience := auth.ServiceAudience(authtest.Namespace, service)
	key, err := devissuer.GenerateKey()
	require.NoError(tb, err)
	foreign, err := devissuer.NewCluster("http://elsewhere.test"+devissuer.ClusterPath, key).Mint(subject, audience)
	require.NoError(tb, err)
	impostor, err := devissuer.NewCluster(authtest.ClusterURL, key).Mint(subject, audience)
	require.NoError(tb, err)
	now := time.Now()
	expired, err := id.Cluster.MintClaims(devissuer.Claims{"iss": authtest.ClusterURL, "sub": subject, "aud": []string{audience},
		"iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	require.NoError(tb, err)
	return []Credential{
		{"no token", "", http.StatusUnauthorized},
		{"a token of another issuer", "Bearer " + foreign, http.StatusUnauthorized},
		{"the cluster issuer's name signed with another key", "Bearer " + impostor, http.StatusUnauthorized},
		{"an expired token of the right sender", "Bearer " + expired, http.StatusUnauthorized},
		{"the right sender's token addressed to " + other.Service, id.DeliveryBearer(tb, right, other.Service), http.StatusUnauthorized},
		{"a valid delivery from " + other.Sender.String(), id.DeliveryBearer(tb, other.Sender, service), http.StatusForbidden},
		{"its Trigger " + right.String(), id.DeliveryBearer(tb, right, service), http.StatusAccepted},
	}
}

// WithCallers inserts extra credentials before the last (accepted) one of creds.
func WithCallers(creds []Credential, extra ...Credential) []Credential {
	out := append([]Credential{}, creds[:len(creds)-1]...)
	return append(append(out, extra...), creds[len(creds)-1])
}
