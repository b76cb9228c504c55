package platform

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/oauth2"

	"github.com/orangecarrental/orange/platform/tracing"
)

// Transport carries calls between functions. A request addresses a function by its service
// name as the URL host (http://pricing-api/api/pricing/quotes). When that function runs in
// this process the request goes straight to its handler — same headers, status codes and
// bodies as over the network, no socket; otherwise it goes over the network to the service's
// URL: <SERVICE>_URL from the environment (PRICING_API_URL for pricing-api) when set, else
// http://<service>, which a Knative pod's DNS search path resolves to the cluster-local
// Service of that name in its own namespace.
type Transport struct {
	network http.RoundTripper
	lookup  func(string) (string, bool)

	mu     sync.RWMutex
	local  map[string]http.Handler
	remote map[string]*url.URL
}

// NewTransport returns a transport whose network calls go through network (a pooled
// transport when nil), with service URLs looked up by lookup (none when nil).
func NewTransport(network http.RoundTripper, lookup func(string) (string, bool)) *Transport {
	if network == nil {
		network = &http.Transport{
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	return &Transport{network: network, lookup: lookup, local: map[string]http.Handler{}, remote: map[string]*url.URL{}}
}

// ServiceURLKey is the environment variable naming service's URL: LOCATIONS_API_URL for
// locations-api.
func ServiceURLKey(service string) string {
	return strings.ToUpper(strings.ReplaceAll(service, "-", "_")) + "_URL"
}

// Mount makes service reachable in-process.
func (t *Transport) Mount(service string, h http.Handler) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.local[service] = h
}

// resolve returns the handler of a local service, or the base URL of a remote one (nil when
// the host is to be used as it is).
func (t *Transport) resolve(host string) (http.Handler, *url.URL, error) {
	t.mu.RLock()
	h, local := t.local[host]
	base, known := t.remote[host]
	t.mu.RUnlock()
	if local || known {
		return h, base, nil
	}
	if raw, ok := t.lookup(ServiceURLKey(host)); ok && raw != "" {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, nil, fmt.Errorf("%s=%q is not an absolute URL", ServiceURLKey(host), raw)
		}
		base = u
	}
	t.mu.Lock()
	t.remote[host] = base
	t.mu.Unlock()
	return nil, base, nil
}

// RoundTrip implements http.RoundTripper. A call to another function made while serving a
// traced request (a span in its context) is a client span of the caller, whose context the
// callee gets as its traceparent; a host outside the system (a dot or port in its name) gets
// no trace context, as ForwardingClient gives it none.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if host := req.URL.Hostname(); strings.Contains(host, ".") || strings.Contains(host, ":") {
		return t.roundTrip(req)
	}
	req, span := tracing.StartClient(req)
	resp, err := t.roundTrip(req)
	tracing.EndClient(span, resp, err)
	return resp, err
}

func (t *Transport) roundTrip(req *http.Request) (*http.Response, error) {
	h, base, err := t.resolve(req.URL.Hostname())
	if err != nil {
		return nil, err
	}
	if h != nil {
		return roundTripInProcess(h, req)
	}
	if base != nil {
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = base.Scheme, base.Host
		out.URL.Path = strings.TrimSuffix(base.Path, "/") + req.URL.Path
		if req.URL.RawPath != "" {
			out.URL.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + req.URL.RawPath
		}
		out.Host = ""
		return t.network.RoundTrip(out)
	}
	return t.network.RoundTrip(req)
}

// roundTripInProcess serves req with h the way net/http's server would: the handler gets a
// server-side request and the caller a client-side response. Like a network call, it returns
// when the request's context ends even if the handler has not: a stuck function must not
// hang its caller.
func roundTripInProcess(h http.Handler, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sreq := req.Clone(ctx)
	if sreq.URL.Path == "" {
		// A server sees "/" for http://host with no path (a Destination without uri).
		u := *sreq.URL
		u.Path = "/"
		sreq.URL = &u
	}
	sreq.RequestURI = sreq.URL.RequestURI()
	sreq.RemoteAddr = "in-process"
	sreq.Host = req.URL.Host
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	// Hop-by-hop headers end at the transport on a network call too.
	sreq.Header.Del("Connection")
	w := &bufferedResponse{header: http.Header{}}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		h.ServeHTTP(w, sreq)
	}()
	select {
	case p := <-done:
		if req.Body != nil {
			_ = req.Body.Close()
		}
		if p != nil {
			// A panic that escaped the handler is a dropped connection on the network.
			return nil, fmt.Errorf("in-process call to %s: handler panicked: %v", req.URL.Host, p)
		}
		return w.response(req), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// bufferedResponse collects what a handler writes.
type bufferedResponse struct {
	header      http.Header
	status      int
	body        bytes.Buffer
	wroteHeader bool
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.wroteHeader {
		return
	}
	if code >= 100 && code < 200 {
		return // informational responses are not surfaced to clients by net/http either
	}
	b.status, b.wroteHeader = code, true
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if !b.wroteHeader {
		b.WriteHeader(http.StatusOK)
	}
	return b.body.Write(p)
}

// Flush is a no-op: the whole body is handed over at once.
func (b *bufferedResponse) Flush() {}

func (b *bufferedResponse) response(req *http.Request) *http.Response {
	if !b.wroteHeader {
		b.WriteHeader(http.StatusOK)
	}
	header := b.header.Clone()
	body := b.body.Bytes()
	bodyAllowed := b.status != http.StatusNoContent && b.status != http.StatusNotModified
	if bodyAllowed && header.Get("Content-Type") == "" && len(body) > 0 {
		header.Set("Content-Type", http.DetectContentType(body))
	}
	length := len(body)
	if !bodyAllowed || req.Method == http.MethodHead {
		body = nil
	}
	if bodyAllowed && header.Get("Content-Length") == "" {
		// net/http announces the length of a buffered body, to HEAD requests too.
		header.Set("Content-Length", strconv.Itoa(length))
	}
	contentLength := int64(len(body))
	if req.Method == http.MethodHead && bodyAllowed {
		contentLength = int64(length)
	}
	if header.Get("Date") == "" {
		header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", b.status, http.StatusText(b.status)),
		StatusCode:    b.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: contentLength,
		Request:       req,
	}
}

// forwardHeaders names what a call to another function carries over from the inbound request.
// Not the caller's token: a function calls others with its own identity (design.md §9).
var forwardHeaders = []string{RequestIDHeader, "Traceparent", "Tracestate"}

type inboundKey struct{}

// WithInbound remembers the inbound request's headers, so calls made while serving it carry
// the same request id and trace context.
func WithInbound(ctx context.Context, h http.Header) context.Context {
	kept := http.Header{}
	for _, k := range forwardHeaders {
		if v := h.Values(k); len(v) > 0 {
			kept[http.CanonicalHeaderKey(k)] = v
		}
	}
	return context.WithValue(ctx, inboundKey{}, kept)
}

// ForwardingClient returns the HTTP client a function calls other functions with: over t,
// authenticated as the function itself by a token of tokens (its OAuth client's, cached by
// the source; no Authorization when tokens is nil), carrying the request id and trace
// context stored in each request's context (see WithInbound) unless the request sets them
// itself. Only to other functions: a host with a dot in it is outside the system and gets
// neither token nor context. The trace context continues as a child span.
func ForwardingClient(t http.RoundTripper, tokens oauth2.TokenSource, timeout time.Duration) *http.Client {
	return &http.Client{Transport: forwarding{next: t, tokens: tokens}, Timeout: timeout}
}

type forwarding struct {
	next   http.RoundTripper
	tokens oauth2.TokenSource
}

func (f forwarding) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Hostname(), ".") || strings.Contains(req.URL.Hostname(), ":") {
		return f.next.RoundTrip(req)
	}
	inbound, _ := req.Context().Value(inboundKey{}).(http.Header)
	out := req.Clone(req.Context())
	for k, v := range inbound {
		if out.Header.Get(k) == "" {
			out.Header[k] = v
		}
	}
	if tp := inbound.Get("Traceparent"); tp != "" && req.Header.Get("Traceparent") == "" &&
		!trace.SpanContextFromContext(req.Context()).IsValid() { // else the transport's client span continues it
		out.Header.Set("Traceparent", ChildTraceparent(tp))
	}
	if id := RequestIDFrom(req.Context()); id != "" && req.Header.Get(RequestIDHeader) == "" {
		out.Header.Set(RequestIDHeader, id)
	}
	if f.tokens != nil && req.Header.Get("Authorization") == "" {
		tok, err := f.tokens.Token()
		if err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, err
		}
		out.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	}
	return f.next.RoundTrip(out)
}
