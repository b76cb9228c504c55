// Package startbench measures how every function starts: BenchmarkStartToReady builds each
// cmd/<service> binary once as ko builds it (CGO_ENABLED=0, -trimpath, ko.yaml's ldflags),
// starts it against a test PostgreSQL with the environment it needs, and reports the time
// from exec to the first 200 on /readyz (ns/op) and the resident memory once it has settled
// (idle-RSS-MiB), beside a bare static net/http server started the same way in the same run.
// design.md §8's targets: start ≤ 5× the bare server's, idle RSS ≤ 30 MiB per function;
// tools/benchgate judges them (docs/benchmarks.md).
//
// Each function's database is migrated by one start before the timed ones: the figure is a
// replica's start once its schema exists (Knative's cold start or scale-out; the first
// rollout of a migration is slower, and production's migration Job runs before it). The
// package has no code of its own: only the benchmark and the bare server in testdata.
package startbench
