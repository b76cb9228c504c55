package knative_test

// scaleRow is one Knative Service's replica bounds per environment.
// PeakMin is the min-scale the Friday pre-scaling CronJob sets (0: the
// Service is not pre-scaled).
type scaleRow struct {
	Service                string
	StagingMin, StagingMax int
	ProdMin, ProdMax       int
	PeakMin                int
	Source                 string
}

// scaleTable is THE scale table: design.md §6 row by row (the rows that name
// two Services are split), plus the Services §6 has no row for, marked
// "ours". The overlays' scale.yaml files, the pre-scaling CronJobs and
// docs/capacity.md are all checked against it; nothing else defines scale.
//
// Staging max is ours too (§6 gives none): equal to production max, so a
// staging load test can reach production's ceiling; lower is allowed, higher
// is not (checkScaleTable). Peak min (Friday 08:00 until Saturday 20:00) is the
// capacity model's (docs/capacity.md, "Derived"): 2 × the replicas the seed's
// Black Friday peak needs at 70 % of one replica's measured capacity, within
// [production min, max]; 0 where the production min already suffices.
var scaleTable = []scaleRow{
	{Service: "vehicles-api", StagingMin: 3, StagingMax: 20, ProdMin: 5, ProdMax: 20, PeakMin: 6, Source: "seed (HPA 5–20)"},
	{Service: "reservations-api", StagingMin: 3, StagingMax: 15, ProdMin: 5, ProdMax: 15, Source: "seed (recommended HPA 5–15)"},
	{Service: "customers-api", StagingMin: 3, StagingMax: 9, ProdMin: 3, ProdMax: 9, Source: "seed min"},
	{Service: "pricing-api", StagingMin: 2, StagingMax: 9, ProdMin: 3, ProdMax: 9, Source: "seed min"},
	{Service: "locations-api", StagingMin: 2, StagingMax: 6, ProdMin: 2, ProdMax: 6, Source: "seed min"},
	{Service: "payments-api", StagingMin: 2, StagingMax: 9, ProdMin: 3, ProdMax: 9, Source: "seed min"},
	{Service: "notifications-api", StagingMin: 1, StagingMax: 6, ProdMin: 2, ProdMax: 6, Source: "seed min"},
	{Service: "api-gateway", StagingMin: 2, StagingMax: 20, ProdMin: 3, ProdMax: 20, PeakMin: 4, Source: "seed min; max follows vehicles-api, all traffic passes it"},
	{Service: "public-portal", StagingMin: 2, StagingMax: 9, ProdMin: 3, ProdMax: 9, Source: "seed"},
	{Service: "call-center-portal", StagingMin: 1, StagingMax: 6, ProdMin: 2, ProdMax: 6, Source: "seed min"},
	{Service: "notification-worker", StagingMin: 1, StagingMax: 10, ProdMin: 2, ProdMax: 10, Source: "seed's worker deployment (2)"},
	{Service: "report-worker", StagingMin: 0, StagingMax: 2, ProdMin: 0, ProdMax: 2, Source: "cron-driven: scale to zero between runs"},
	{Service: "cleanup-worker", StagingMin: 0, StagingMax: 2, ProdMin: 0, ProdMax: 2, Source: "cron-driven: scale to zero between runs"},
	{Service: "sync-worker", StagingMin: 0, StagingMax: 5, ProdMin: 1, ProdMax: 5, Source: "event-driven"},
	{Service: "dead-letter", StagingMin: 0, StagingMax: 2, ProdMin: 1, ProdMax: 3, Source: "ours: Broker dead-letter sink; warm in production"},
}

// publicServices are the only Services reachable from outside the cluster
// (design.md §3 Visibility); every other one must be cluster-local.
var publicServices = map[string]bool{
	"api-gateway":        true,
	"public-portal":      true,
	"call-center-portal": true,
}
