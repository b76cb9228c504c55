package syncworker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Guard keeps webhooks off addresses that are not the public internet: loopback, private
// (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16 — the cloud metadata
// endpoint —, fe80::/10), carrier-grade NAT, multicast, unspecified, the special-purpose
// and documentation ranges (nonPublic), and IPv4-mapped IPv6 forms of all of them. IPv6
// forms that carry an IPv4 address a translator or relay would connect to — NAT64
// (64:ff9b::/96, 64:ff9b:1::/48), 6to4 (2002::/16) — are judged by that IPv4 address;
// Teredo (2001::/32) and the deprecated IPv4-compatible form (::/96) are refused outright.
// It checks at subscription time (CheckURL, every address the name resolves to) and again
// at connect time on the address actually dialled (Control), so a name that resolves
// differently later (DNS rebinding) is refused all the same.
type Guard struct {
	// AllowLoopback admits loopback addresses (127/8, ::1), and plain http to them.
	AllowLoopback bool
	// Resolver resolves endpoint names; nil: net.DefaultResolver.
	Resolver *net.Resolver
}

// errRefused marks an address the guard refuses.
var errRefused = errors.New("refused")

// nonPublic are the special-purpose ranges (RFC 6890 and its updates) that the netip
// predicates do not cover: never a partner's public endpoint.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated), ::, ::1
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/32"),       // Teredo: a relay connects to the IPv4 inside
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation (RFC 9637)
}

// embeddedIPv4 returns the IPv4 address an IPv6 address hands to a translator or relay —
// NAT64's well-known and local-use prefixes (RFC 6052, 8215: the last 32 bits), SIIT's
// IPv4-translated form (the last 32 bits), 6to4 (RFC 3056:
// bits 16–47) — so that the IPv4 address is what is judged.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip), nat64Local.Contains(ip), siit.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	// SIIT's IPv4-translated addresses (RFC 2765: ::ffff:0:a.b.c.d): the last 32 bits, like
	// NAT64's. (The deprecated IPv4-compatible ::a.b.c.d is refused outright: nonPublic.)
	siit = netip.MustParsePrefix("::ffff:0:0:0/96")
)

// allowed reports whether a webhook may connect to ip.
func (g *Guard) allowed(ip netip.Addr) error {
	ip = ip.Unmap().WithZone("")
	if v4, ok := embeddedIPv4(ip); ok {
		if err := g.allowed(v4); err != nil {
			return fmt.Errorf("%w: %s carries %s, which is not public", errRefused, ip, v4)
		}
		return nil
	}
	switch {
	case !ip.IsValid():
		return fmt.Errorf("%w: not an IP address", errRefused)
	case ip.IsLoopback():
		if g.AllowLoopback {
			return nil
		}
		return fmt.Errorf("%w: %s is a loopback address", errRefused, ip)
	case ip.IsUnspecified():
		return fmt.Errorf("%w: %s is the unspecified address", errRefused, ip)
	case ip.IsPrivate():
		return fmt.Errorf("%w: %s is a private address", errRefused, ip)
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return fmt.Errorf("%w: %s is a link-local address", errRefused, ip)
	case ip.IsMulticast() || ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("%w: %s is a multicast address", errRefused, ip)
	case slices.ContainsFunc(nonPublic, func(p netip.Prefix) bool { return p.Contains(ip) }):
		return fmt.Errorf("%w: %s is a special-purpose address, not a public one", errRefused, ip)
	case !ip.IsGlobalUnicast():
		return fmt.Errorf("%w: %s is not a public unicast address", errRefused, ip)
	}
	return nil
}

// CheckURL validates an endpoint: an absolute https URL (http only to loopback where that is
// allowed) without credentials or fragment, whose host resolves to allowed addresses only.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute URL")
	}
	if u.User != nil || u.Fragment != "" {
		return errors.New("must carry no credentials and no fragment")
	}
	if len(raw) > 2048 {
		return errors.New("must be at most 2048 characters")
	}
	host := u.Hostname()
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return err
	}
	loopback := true
	for _, a := range addrs {
		if err := g.allowed(a); err != nil {
			return fmt.Errorf("host %s: %v", host, err)
		}
		loopback = loopback && a.Unmap().IsLoopback()
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !(g.AllowLoopback && loopback) {
			return errors.New("must use https")
		}
	default:
		return errors.New("must use https")
	}
	return nil
}

func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{ip}, nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("host %s does not resolve", host)
	}
	return addrs, nil
}

// Control is a net.Dialer Control: it refuses to connect to an address the guard does not
// allow, after name resolution, on every connection.
func (g *Guard) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errRefused, address)
	}
	return g.allowed(ap.Addr())
}

// Client returns the webhook client: every connection through Control, no proxy (a proxy
// would connect on our behalf, unchecked), no redirect followed (a 3xx is the answer, and a
// failure), each request bounded by timeout.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: g.Control}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          64,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       60 * time.Second,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
