package benchgate

// Functions are the Knative Services ko builds from cmd/<service> (a test checks the list
// against cmd/): each has a start-time and an idle-memory row.
var Functions = []string{
	"api-gateway", "call-center-portal", "cleanup-worker", "customers-api", "dead-letter",
	"locations-api", "notification-worker", "notifications-api", "payments-api", "pricing-api",
	"public-portal", "report-worker", "reservations-api", "sync-worker", "vehicles-api",
}

// StartPackage is where BenchmarkStartToReady starts every function's binary.
const StartPackage = "internal/startbench"

// Floors is the gate: design.md §8's targets and issue 19's rows, each against a baseline
// of the same run. docs/benchmarks.md explains every row.
func Floors() []Row {
	rows := []Row{
		{
			Name:     "GET by id, full stack (locations-api) / bare handler + SELECT",
			Figure:   Ref{"functions/locations", "BenchmarkGetByCode/locations-api", "ns/op"},
			Baseline: &Ref{"functions/locations", "BenchmarkGetByCode/bare-select", "ns/op"},
			Inverse:  true, Floor: 0.50, Dir: AtLeast,
		},
		{
			Name:     "GET /api/vehicles/{id} through the gateway (orange dev) / bare",
			Figure:   Ref{"functions/all", "BenchmarkGatewayGET", "gateway-req/s"},
			Baseline: &Ref{"functions/all", "BenchmarkGatewayGET", "bare-req/s"},
			Ratio:    &Ref{"functions/all", "BenchmarkGatewayGET", "gateway/bare"},
			Floor:    0.50, Dir: AtLeast,
		},
		{
			Name:     "the same by this process's CPU per request: bare / gateway",
			Figure:   Ref{"functions/all", "BenchmarkGatewayGET", "gateway-cpu-µs/req"},
			Baseline: &Ref{"functions/all", "BenchmarkGatewayGET", "bare-cpu-µs/req"},
			Inverse:  true, Dir: Info,
		},
		{
			Name:     "GET /api/vehicles/{id}, vehicles-api alone (orange serve) / bare",
			Figure:   Ref{"functions/all", "BenchmarkGatewayGET", "serve-req/s"},
			Baseline: &Ref{"functions/all", "BenchmarkGatewayGET", "bare-req/s"},
			Ratio:    &Ref{"functions/all", "BenchmarkGatewayGET", "serve/bare"},
			Dir:      Info,
		},
		{
			Name:     "the same by this process's CPU per request: bare / alone",
			Figure:   Ref{"functions/all", "BenchmarkGatewayGET", "serve-cpu-µs/req"},
			Baseline: &Ref{"functions/all", "BenchmarkGatewayGET", "bare-cpu-µs/req"},
			Inverse:  true, Dir: Info,
		},
		{
			Name:     "booking / bare handler + INSERT tx",
			Figure:   Ref{"functions/reservations", "BenchmarkBooking", "booking-req/s|bookings/s"},
			Baseline: &Ref{"functions/reservations", "BenchmarkBooking", "baseline-req/s|bare-req/s"},
			Ratio:    &Ref{"functions/reservations", "BenchmarkBooking", "booking/bare|ratio"},
			Floor:    0.40, Dir: AtLeast,
		},
		{
			Name:   "booking → confirmed lag, p99 (ms)",
			Figure: Ref{"functions/all", "BenchmarkConfirmationLag", "lag-p99-ms"},
			Floor:  1000, Dir: AtMost,
		},
		{
			Name:   "  at the booking rate (bookings/s)",
			Figure: Ref{"functions/all", "BenchmarkConfirmationLag", "bookings/s"},
			Dir:    Info,
		},
		{
			Name:   "  highest open-loop booking rate with lag p99 ≤ 1 s, none refused (bookings/s)",
			Figure: Ref{"functions/all", "BenchmarkConfirmationLag", "bookings/s-at-lag-p99≤1s"},
			Dir:    Info,
		},
		{
			Name:   "  WAL fsyncs per booking, its event pipeline included",
			Figure: Ref{"functions/all", "BenchmarkConfirmationLag", "wal-fsyncs/booking"},
			Dir:    Info,
		},
		{
			Name:     "in-process broker, no-op consumer / sdk-go HTTP receiver",
			Figure:   Ref{"events/broker", "BenchmarkBroker/broker-noop-consumer", "events/s"},
			Baseline: &Ref{"events/broker", "BenchmarkBroker/sdk-go-http-receiver", "events/s"},
			Floor:    10, Dir: AtLeast,
		},
		{
			Name:   "search 10k cars/100k bookings: highest open-loop rate with p99 ≤ 20 ms, 0 errors (req/s)",
			Figure: Ref{"functions/fleet", "BenchmarkSearchAtScale", "open-loop-req/s-at-p99≤20ms|req/s@p99≤20ms"},
			Floor:  50, Dir: AtLeast,
		},
		{
			Name:   "search: p99 at that rate (ms)",
			Figure: Ref{"functions/fleet", "BenchmarkSearchAtScale", "open-loop-p99-ms|p99-ms"},
			Floor:  20, Dir: AtMost,
		},
		{
			Name:     "search, closed loop / bare SELECT",
			Figure:   Ref{"functions/fleet", "BenchmarkSearchAtScale", "search-req/s"},
			Baseline: &Ref{"functions/fleet", "BenchmarkSearchAtScale", "bare-req/s"},
			Ratio:    &Ref{"functions/fleet", "BenchmarkSearchAtScale", "search/bare"},
			Dir:      Info,
		},
		{
			Name:   "overload at 4× capacity: goodput / capacity",
			Figure: Ref{"platform/admission", "BenchmarkOverload", "goodput/capacity"},
			Floor:  0.9, Dir: AtLeast,
		},
		{
			Name:   "overload: errors other than 503 (/s)",
			Figure: Ref{"platform/admission", "BenchmarkOverload", "non-503-errors/s"},
			Dir:    Info,
		},
		{
			Name:   "overload: accepted p99 / unloaded p99",
			Figure: Ref{"platform/admission", "BenchmarkOverload", "p99/unloaded-p99"},
			Dir:    Info,
		},
		{
			Name:     "orange load alone: max rate / a minimal client's, on a bare server",
			Figure:   Ref{"internal/loadgen", "BenchmarkGeneratorOverhead", "loadgen-max-req/s"},
			Baseline: &Ref{"internal/loadgen", "BenchmarkGeneratorOverhead", "bare-req/s"},
			Ratio:    &Ref{"internal/loadgen", "BenchmarkGeneratorOverhead", "loadgen/bare"},
			Dir:      Info,
		},
		{
			Name:     "observability: instrumented / bare (gateway → locations-api)",
			Figure:   Ref{"functions/all", "BenchmarkObservabilityOverhead", "instrumented-req/s"},
			Baseline: &Ref{"functions/all", "BenchmarkObservabilityOverhead", "bare-req/s"},
			Ratio:    &Ref{"functions/all", "BenchmarkObservabilityOverhead", "instrumented/bare"},
			Floor:    0.90, Dir: AtLeast,
		},
	}
	for _, fn := range Functions {
		// The median of starts paired with a bare start right after each (start/bare).
		bench := "BenchmarkStartToReady/" + fn
		rows = append(rows, Row{
			Name:     "start " + fn + ": exec → /readyz 200 / bare server",
			Figure:   Ref{StartPackage, bench, "ready-ms"},
			Baseline: &Ref{StartPackage, bench, "bare-ready-ms"},
			Ratio:    &Ref{StartPackage, bench, "start/bare"},
			Floor:    5, Dir: AtMost,
		})
	}
	for _, fn := range Functions {
		rows = append(rows, Row{
			Name:   "idle RSS " + fn + " (MiB)",
			Figure: Ref{StartPackage, "BenchmarkStartToReady/" + fn, "idle-RSS-MiB"},
			Floor:  30, Dir: AtMost,
		})
	}
	return rows
}
