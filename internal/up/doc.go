// Package up is `orange up`: the process model of a Knative cluster on one machine. Each
// Knative Service of an overlay runs as its own OS processes — the cmd/<service> binaries
// ko builds, built with ko.yaml's flags — with min-scale replicas at start, behind a
// per-Service proxy that balances like the activator and feeds Knative's own KPA decider
// (internal/kpa), which scales each Service between its min- and max-scale.
//
// How the processes reach each other, as on Knative: every Service has one address, its
// proxy on a loopback port, passed to every function as <SERVICE>_URL (the platform
// transport's variable; on the cluster the cluster-local URL). The public functions
// (api-gateway, the portals) are reached through the up port (-addr), which also serves
// what the cluster and Keycloak provide — the development issuer, the cluster's
// service-account issuer, the Broker's ingress (K_SINK) and /metrics; the in-process
// broker (knative/base's Triggers, PingSources, EventPolicies) delivers over HTTP to the
// proxies. PostgreSQL is DATABASE_URL or `orange dev`'s private cluster; `orange up`
// migrates every schema first, as production's migration Job does.
//
// docs/up.md says what this models and what only a real cluster shows.
package up
