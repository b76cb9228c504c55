// Package capacity is the capacity model of issue 18 (docs/capacity.md): what one replica of
// each function serves on this machine, and what Knative's KPA does with the manifests' scale
// settings when the seed's day and Black Friday arrive.
//
// Measure runs each function's per-Service binary (ko's flags) pinned to one CPU with
// GOMAXPROCS=1, as the manifest's 1000m limit allows, against a throwaway PostgreSQL, and
// offers its main route open-loop constant rates stepping up (vegeta as a library; latency
// from the intended send time). A route's capacity is the highest rate whose step had no
// error and a p99 within the route's SLO; Little's law (rate × mean latency) gives the
// requests in flight at that rate — the number the KPA's concurrency target relates to.
//
// Decisions where the issue is silent (the long form is docs/capacity.md):
//
//   - SLOs are user-facing: p99 ≤ 100 ms for an API read or a quote and the gateway's
//     forward (a page makes one or two), 150 ms for a portal page, 250 ms for the availability
//     search (the seed promises none; these are what a person clicking waits without
//     noticing). A generous SLO puts capacity at the knee, where latency turns up, which is
//     also where measurement on a shared machine is steadiest.
//   - A failed step is repeated once, and the ladder goes on past one failed rate: one
//     scheduling stall of another process is a p99 of its own at a few hundred samples.
//   - The replay uses each route's 1-CPU ceiling, 1000 ms ÷ the replica's own CPU time per
//     request (/proc), not the rate within the SLO: on a machine shared with other work the
//     latter measures the share of the core the replica got, the former does not depend on it.
//   - Reads stand for writes the mix makes (a booking, a payment's authorization): their cost
//     needs the event pipeline and is the booking benchmark's (make bench).
//   - The replay is a fluid queue per Service, one second at a time, with Knative's decider
//     (internal/kpa) fed the in-flight count every second and asked every two; a new replica is
//     ready StartDelay later. It estimates mean latency, not percentiles.
package capacity
