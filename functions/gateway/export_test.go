package gateway

// SaturateForTest puts the limit of the function behind path at its floor with as many
// requests in flight, as after its refusals, so that the gateway refuses the next ones.
func (g *Gateway) SaturateForTest(path string) {
	l := g.upstreams.of(path)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit, l.inFlight = minUpstreamLimit, minUpstreamLimit
}
