package capacity

// Journey is one kind of user request at the gateway and what it causes in each Service.
type Journey struct {
	Name  string
	Share float64 // of the gateway's requests
	// Calls are the requests one such journey step makes each Service serve, by the
	// measured route whose capacity they cost.
	Calls []Call
}

// Call is n requests to a Service's measured route.
type Call struct {
	Service, Route string
	N              float64
}

// Mix is the seed's journey mix (issue 18: search 70 %, quote 15 %, book + pay 10 %, lookup
// and cancel 5 %) with the fan-out each step causes. Counted per request at api-gateway;
// every step is also one page of public-portal (the upper bound: all traffic comes through
// the portal, none from the call center or partners). Where a step's route was not measured
// on its own, the nearest measured route stands for its cost (named in the comment):
//
//   - search: vehicles-api's availability search, which calls pricing-api once (rates ≈
//     quote) and reads the branch list from locations-api once;
//   - quote: the vehicle (vehicles-api GET) and its quote (pricing-api);
//   - book + pay: reservations-api creates the booking (≈ its list read: a booking's own
//     cost is the booking benchmark's) after reading the customer (customers-api), the
//     vehicle (vehicles-api GET) and the price (pricing-api); payments-api authorizes
//     (≈ its read) from the reservation's event; notifications-api records the mail;
//   - lookup / cancel: the booking (reservations-api), its payments (payments-api).
var Mix = []Journey{
	{Name: "search", Share: 0.70, Calls: []Call{
		{"api-gateway", "forward", 1}, {"public-portal", "page", 1},
		{"vehicles-api", "search", 1}, {"pricing-api", "quote", 1}, {"locations-api", "list", 1},
	}},
	{Name: "quote", Share: 0.15, Calls: []Call{
		{"api-gateway", "forward", 1}, {"public-portal", "page", 1},
		{"vehicles-api", "get", 1}, {"pricing-api", "quote", 1},
	}},
	{Name: "book + pay", Share: 0.10, Calls: []Call{
		{"api-gateway", "forward", 1}, {"public-portal", "page", 1},
		{"reservations-api", "list", 1}, {"customers-api", "get", 1}, {"vehicles-api", "get", 1},
		{"pricing-api", "quote", 1}, {"payments-api", "list", 1}, {"notifications-api", "list", 1},
	}},
	{Name: "lookup / cancel", Share: 0.05, Calls: []Call{
		{"api-gateway", "forward", 1}, {"public-portal", "page", 1},
		{"reservations-api", "list", 1}, {"payments-api", "list", 1},
	}},
}

// FanOut is each Service's requests per gateway request under Mix.
func FanOut() map[string]float64 {
	out := map[string]float64{}
	for _, j := range Mix {
		for _, c := range j.Calls {
			out[c.Service] += j.Share * c.N
		}
	}
	return out
}

// RouteWeight is the share of service's requests that cost route's time under Mix.
func RouteWeight(service, route string) float64 {
	var on, all float64
	for _, j := range Mix {
		for _, c := range j.Calls {
			if c.Service != service {
				continue
			}
			all += j.Share * c.N
			if c.Route == route {
				on += j.Share * c.N
			}
		}
	}
	if all == 0 {
		return 0
	}
	return on / all
}
