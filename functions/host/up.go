package host

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// This file exports, for `orange up` (internal/up), the pieces of Dev that stand in for the
// cluster's platform — there each function runs as its own processes and `orange up` itself
// serves the issuers, the broker and PostgreSQL, exactly as `orange dev` does.

// StartPrivateCluster starts (initialising on first use) `orange dev`'s private PostgreSQL
// under cfg.DataDir and returns its URL and how to stop it.
func StartPrivateCluster(ctx context.Context, logger *slog.Logger, cfg DevConfig) (stop func() error, url string, err error) {
	return startPrivateCluster(ctx, logger, cfg)
}

// PortalClients are the development issuer's public clients (the portals' sign-in) with
// their callbacks on port, as Dev registers them.
func PortalClients(reg *platform.Registry, port string) []devissuer.PublicClient {
	return portalClients(reg, port)
}

// BrokerIngress is the in-process broker's ingress as Dev serves it at BrokerIngressPath:
// the sender's token must be addressed to the Broker, its EventPolicies allow the type.
func BrokerIngress(b *broker.Broker, verifier *auth.DeliveryVerifier) http.Handler {
	return platform.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return ingress(b, verifier, w, r)
	})
}
