package publicportal

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The portal is a front door like api-gateway: its calls tell reservations-api the guest's
// address (platform.ClientAddressHeader), which counts the guest holds per address. Behind
// Knative's queue-proxy and the ingress every peer is a proxy, so — as the gateway does —
// the address is the right-most X-Forwarded-For entry that is not one of TRUSTED_PROXIES
// (the same setting as the gateway's, docs/security.md); with none trusted, X-Forwarded-For
// is never read and the peer is the client. Without TRUSTED_PROXIES on the cluster, every
// guest counts as the queue-proxy's address: set it there as for the gateway.

// proxies are the trusted proxies' networks.
type proxies []netip.Prefix

// parseProxies reads TRUSTED_PROXIES: CIDR networks or single addresses.
func parseProxies(list []string) (proxies, error) {
	var out proxies
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

func (ps proxies) trusted(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddress is the address of the browser r comes from, as far as the trusted proxies
// tell.
func (ps proxies) clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !ps.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		s := strings.TrimSpace(hops[i])
		hop, err := netip.ParseAddr(s)
		if err != nil {
			ap, err := netip.ParseAddrPort(s)
			if err != nil {
				break // not written by a proxy we trust: the believable chain ends here
			}
			hop = ap.Addr()
		}
		if hop = hop.Unmap(); !ps.trusted(hop) {
			return hop.String()
		}
	}
	return peer.String()
}
