package host

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"

	"github.com/orangecarrental/orange/platform"
)

// DevServicesPath is where `orange dev` lets the developer reach a cluster-local function
// as a pod inside the cluster would: POST /dev/services/<service>/<path>, e.g. a ping
// straight to cleanup-worker's receiver (`orange emit -as pingsource/cleanup-nightly -to
// http://localhost:8080/dev/services/cleanup-worker/cloudevents`, docs/cleanup.md). It
// grants nothing: the function checks the caller's token as on a cluster (a delivery's
// audience must be the function's own). Only `orange dev` serves it (Standalone has no such
// route, and the gateway forwards /api/… only), and only to this machine: the peer must be a
// loopback address and Host a loopback name, even when ORANGE_LISTEN exposes the port
// (guardDevPages checks Host for every /dev page besides).
const DevServicesPath = "/dev/services/"

// devServices forwards a POST to one of services through the in-process transport.
func devServices(t *platform.Transport, services []string) http.Handler {
	return platform.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if !loopbackPeer(r.RemoteAddr) || !loopbackHost(r.Host) {
			return platform.Errorf(platform.KindForbidden, "%s answers only to this machine's loopback", DevServicesPath)
		}
		service := r.PathValue("service")
		if !slices.Contains(services, service) {
			return platform.NotFound("no function %q in this process", service)
		}
		out := r.Clone(r.Context())
		out.URL = &url.URL{Scheme: "http", Host: service, Path: "/" + r.PathValue("path"), RawQuery: r.URL.RawQuery}
		out.Host, out.RequestURI = service, ""
		resp, err := t.RoundTrip(out)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, err = io.Copy(w, resp.Body)
		return err
	})
}

// loopbackPeer tells whether a request's RemoteAddr ("ip:port") is a loopback address.
func loopbackPeer(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
