// Package loadgen is `orange load`: an open-loop load generator that drives the public HTTP
// API through the gateway with the journeys of real users (search, quote, book and pay,
// look up and cancel), paced by a profile (constant, ramp, the seed's day, Black Friday),
// and reports per journey and per request what users would have seen.
//
// The timing is tsenart/vegeta's: its Attacker sends hits at the times its Pacer gives,
// starting another worker whenever every worker is busy (open loop: a slow answer does not
// hold the next hit back), and its Metrics (t-digest quantiles) summarise the results. A hit
// of ours is a whole journey: the Attacker's HTTP client has a RoundTripper (journeyTransport)
// that runs the journey's requests against the target and answers the journey's outcome.
//
// Coordinated omission: vegeta stamps a result with the time a worker *took* the tick
// (Result.Timestamp) and measures latency from there. When the worker pool is capped
// (-workers) or the machine falls behind, a tick waits for a worker and its wait is not in
// the latency — the very queueing a user would have seen. So every journey's latency here
// is measured from its intended send time, due(Seq) on the profile's schedule (our Pacer is
// analytic: hit n is due when the profile's cumulative rate reaches n+1), and the lag
// between intended and actual send is reported on its own (a lag that grows means the
// generator, not the target, is the limit). The requests inside a journey follow one
// another, as a user's do; each is timed from its own send.
//
// The package's decisions live in docs/load.md.
package loadgen
