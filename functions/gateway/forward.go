package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/admission"
)

// Gateway forwards public requests to functions.
type Gateway struct {
	cfg       Config
	proxy     *httputil.ReverseProxy
	addresses *limiter // per client address, before token verification
	callers   *limiter // per subject (else address), after it
	trusted   platform.TrustedProxies
	origins   map[string]bool
	upstreams *upstreams // adaptive per-function limits (upstreams.go); nil: off
}

type upstreamKey struct{}

// New returns a gateway that reaches functions through deps.Transport (by service name as
// host), logging the proxy's errors to deps.Logger.
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Gateway{
		cfg:       cfg,
		addresses: newLimiter(cfg.AddressRateLimit, cfg.AddressRateBurst, "per client address"),
		callers:   newLimiter(cfg.RateLimit, cfg.RateBurst, "per caller"),
		origins:   map[string]bool{},
	}
	if cfg.UpstreamMaxInFlight > 0 {
		g.upstreams = newUpstreams(cfg.UpstreamMaxInFlight)
	}
	for _, o := range cfg.AllowedOrigins {
		g.origins[strings.TrimSuffix(strings.TrimSpace(o), "/")] = true
	}
	trusted, err := platform.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	g.trusted = trusted
	g.proxy = &httputil.ReverseProxy{
		Transport:      deps.Transport,
		Rewrite:        rewrite,
		ModifyResponse: checkResponse,
		ErrorHandler:   upstreamError,
		// Without a pool ReverseProxy allocates a 32 KiB copy buffer for every response
		// (two thirds of what a forward allocates, docs/performance.md).
		BufferPool: copyBuffers{},
	}
	if deps.Logger != nil {
		g.proxy.ErrorLog = slog.NewLogLogger(deps.Logger.Handler(), slog.LevelWarn)
	}
	g.trusted.WarnIfNone(ctx, deps, "one rate limit")
	return g, nil
}

// forward is the handler of every route to service.
func (g *Gateway) forward(service string) platform.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := g.callers.allow(w, callerKey(r)); err != nil {
			return err
		}
		refund(r)
		if r.ContentLength > g.cfg.MaxBodyBytes {
			return platform.Errorf(platform.KindTooLarge, "the request body exceeds %d bytes", g.cfg.MaxBodyBytes)
		}
		ctx, cancel := context.WithTimeout(r.Context(), g.cfg.UpstreamTimeout)
		defer cancel()
		if r.Body != nil && r.Body != http.NoBody {
			body := &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes)}
			r.Body = body
			ctx = context.WithValue(ctx, bodyKey{}, body)
		}
		if s := slotOf(r.Context()); s != nil {
			s.forwarded = true
		}
		g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, upstreamKey{}, service)))
		return nil
	}
}

// copyBuffers lends ReverseProxy its 32 KiB buffers for copying answers.
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyBufferPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put(&b) }

type bodyKey struct{}

// limitedBody remembers that the request body outgrew the limit. Over the network the
// transport reports that itself; an in-process function reads the body directly and answers
// the read error however it likes, so the gateway checks afterwards and answers 413 either way.
type limitedBody struct {
	io.ReadCloser
	exceeded atomic.Pointer[http.MaxBytesError]
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.exceeded.Store(tooLarge)
	}
	return n, err
}

// checkResponse vets a function's answer before it is passed on: the gateway has already set
// the request id (the function echoes the same one), a refusal for overload adapts the
// function's limit (upstreams.go), and a body that outgrew the limit is a 413 whatever the
// function made of it.
func checkResponse(res *http.Response) error {
	res.Header.Del(platform.RequestIDHeader)
	refused := overloaded(res)
	res.Header.Del(admission.RefusedHeader) // between functions only
	if res.Request == nil {
		return nil
	}
	if s := slotOf(res.Request.Context()); s != nil && refused {
		s.overload = true
	}
	if body, _ := res.Request.Context().Value(bodyKey{}).(*limitedBody); body != nil {
		if tooLarge := body.exceeded.Load(); tooLarge != nil {
			return tooLarge
		}
	}
	return nil
}

// rewrite addresses the function by its service name (the transport resolves it), keeps the
// path, and passes the request id, a child trace context and the client address the gateway
// decided on along. The caller's token travels unchanged: a function identifies a signed-in
// caller by it, and uses the address only for what belongs to anonymous callers.
func rewrite(pr *httputil.ProxyRequest) {
	ctx := pr.In.Context()
	service, _ := ctx.Value(upstreamKey{}).(string)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = service
	pr.Out.Host = ""
	// ReverseProxy drops query parameters it cannot parse (a ';' separator) before Rewrite
	// runs; the function must see the query as the client sent it, so that it can refuse it
	// by name instead of answering a silently different question.
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	pr.SetXForwarded()
	// Only the gateway's own decision reaches the function, and X-Forwarded-For says the
	// same: what the gateway believes, not the hops a client claimed.
	pr.Out.Header.Del(platform.ClientAddressHeader)
	if c := clientFrom(ctx); c.addr.IsValid() {
		pr.Out.Header.Set(platform.ClientAddressHeader, c.String())
		pr.Out.Header.Set("X-Forwarded-For", c.String())
	}
	pr.Out.Header.Set(platform.RequestIDHeader, platform.RequestIDFrom(ctx))
	pr.Out.Header.Set("Traceparent", platform.ChildTraceparent(pr.In.Header.Get("Traceparent")))
}

// upstreamError turns a failed forward into problem+json: 504 when the upstream took too
// long, 413 when the body outgrew the limit while streaming, 502 otherwise.
func upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	service, _ := r.Context().Value(upstreamKey{}).(string)
	var tooLarge *http.MaxBytesError
	var perr error
	switch {
	case errors.As(err, &tooLarge):
		perr = platform.Errorf(platform.KindTooLarge, "the request body exceeds %d bytes", tooLarge.Limit)
	case errors.Is(err, context.DeadlineExceeded):
		if s := slotOf(r.Context()); s != nil {
			s.overload = true // as telling as a refusal: the function is behind
		}
		perr = &platform.Error{Kind: platform.KindGatewayTimeout, Message: service + " did not answer in time", Err: err}
	case errors.Is(r.Context().Err(), context.Canceled):
		// The caller left; nobody reads this answer.
		platform.LoggerFrom(r.Context()).DebugContext(r.Context(), "caller went away", slog.String("upstream", service))
		return
	default:
		perr = &platform.Error{Kind: platform.KindBadGateway, Message: service + " is unavailable", Err: err}
	}
	platform.LoggerFrom(r.Context()).WarnContext(r.Context(), "forward failed",
		slog.String("upstream", service), slog.String("error", err.Error()))
	platform.WriteError(w, r, perr)
}
