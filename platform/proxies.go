package platform

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the networks of the proxies in front of a front door (api-gateway, the
// public portal) whose X-Forwarded-For entries are believed: TRUSTED_PROXIES, CIDR networks
// or single addresses. With none, X-Forwarded-For is never read and the peer is the client.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies reads TRUSTED_PROXIES' entries; blank ones are skipped.
func ParseTrustedProxies(list []string) (TrustedProxies, error) {
	var out TrustedProxies
	for _, raw := range list {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// WarnIfNone logs, when the function runs as a Knative Service (K_SERVICE set) and no proxy
// is trusted, that every client is seen as the pod's queue-proxy: what the front door keeps
// per client address — limits is what that is — is then shared by all of them.
func (ps TrustedProxies) WarnIfNone(ctx context.Context, deps Deps, limits string) {
	if len(ps) > 0 || deps.Logger == nil || deps.Env == nil {
		return
	}
	if v, ok := deps.Env.Lookup("K_SERVICE"); !ok || v == "" {
		return
	}
	deps.Logger.WarnContext(ctx, "TRUSTED_PROXIES is empty: every client is seen as the queue-proxy's address "+
		"and all share "+limits+"; list the queue-proxy and the ingress's pod network (docs/security.md)")
}

// Trusts tells whether a is one of the trusted proxies.
func (ps TrustedProxies) Trusts(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr is the peer's address, or — when the peer is a trusted proxy — the right-most
// address in X-Forwarded-For that is not a trusted proxy: every proxy appends the address it
// saw, so entries left of that are whatever the client claimed. When the peer is not an IP
// address (a test's pipe, a Unix socket), ok is false and raw is what RemoteAddr said.
func (ps TrustedProxies) ClientAddr(r *http.Request) (addr netip.Addr, raw string, ok bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, host, false
	}
	peer = peer.Unmap()
	if !ps.Trusts(peer) {
		return peer, peer.String(), true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := parseHop(hops[i])
		if err != nil {
			break // not written by a proxy we trust: the chain we can believe ends here
		}
		if hop = hop.Unmap(); !ps.Trusts(hop) {
			return hop, hop.String(), true
		}
	}
	return peer, peer.String(), true
}

// parseHop reads one X-Forwarded-For entry: an address, or an address with a port as some
// load balancers write it ("203.0.113.7:5123", "[2001:db8::7]:5123").
func parseHop(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a, nil
	}
	ap, err := netip.ParseAddrPort(s)
	return ap.Addr(), err
}
