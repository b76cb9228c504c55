package up

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/knative"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
)

// platformPieces is what the cluster gives the functions besides their pods, run inside
// `orange up` as `orange dev` runs it: PostgreSQL, Keycloak (the development issuer), the
// cluster's service-account issuer, the Broker with the Triggers, PingSources and
// EventPolicies of knative/base. env is what each function's container would get.
type platformPieces struct {
	mux     *http.ServeMux
	env     map[string]string
	broker  *broker.Broker
	tokens  string // folder of the projected Broker tokens, one file per service
	cluster *devissuer.Cluster
	db      *database.DB
	stops   []func()
}

func (p *platformPieces) stop() {
	for i := len(p.stops) - 1; i >= 0; i-- {
		p.stops[i]()
	}
}

// startPlatform starts the platform for the functions of reg named in running, served at
// origin (http://127.0.0.1:port, the up port), delivering events through transport (which
// reaches each Service's proxy by name).
func startPlatform(ctx context.Context, cfg Config, reg *platform.Registry, running []string, origin, port string, transport http.RoundTripper, logger *slog.Logger) (*platformPieces, error) {
	p := &platformPieces{mux: http.NewServeMux(), env: map[string]string{}}
	ok := false
	defer func() {
		if !ok {
			p.stop()
		}
	}()
	url := cfg.DatabaseURL
	if url == "" {
		stop, u, err := host.StartPrivateCluster(ctx, logger, host.DevConfig{DataDir: cfg.DataDir, DatabaseName: "orange"})
		if err != nil {
			return nil, err
		}
		p.stops = append(p.stops, func() {
			if err := stop(); err != nil {
				logger.Error("stop postgres", slog.Any("error", err))
			}
		})
		url = u
	}
	db, err := database.Open(ctx, database.Config{URL: url, MaxConns: 8})
	if err != nil {
		return nil, err
	}
	p.stops = append(p.stops, db.Close)
	p.db = db
	// The schemas of the running functions up front, as production's migration Job does;
	// replicas start with MIGRATE_ON_START=false.
	sets := []database.Migrations{broker.Migrations}
	for _, fn := range reg.Functions() {
		if fn.Migrations != nil && slices.Contains(running, fn.Service) &&
			!slices.ContainsFunc(sets, func(m database.Migrations) bool { return m.Schema == fn.Migrations.Schema }) {
			sets = append(sets, *fn.Migrations)
		}
	}
	for _, m := range sets {
		if _, err := db.Migrate(ctx, m); err != nil {
			return nil, err
		}
	}

	key, err := devissuer.LoadOrCreateKey(filepath.Join(cfg.DataDir, "dev-issuer-key.pem"))
	if err != nil {
		return nil, fmt.Errorf("development issuer key: %w", err)
	}
	issuer := devissuer.New(origin+devissuer.RealmPath, key)
	var names []string
	for _, fn := range reg.Functions() {
		names = append(names, fn.Service)
	}
	issuer.AddClients(names...)
	issuer.AddPublicClients(host.PortalClients(reg, port)...)
	clusterKey, err := devissuer.LoadOrCreateKey(filepath.Join(cfg.DataDir, "dev-cluster-key.pem"))
	if err != nil {
		return nil, fmt.Errorf("development cluster issuer key: %w", err)
	}
	cluster := devissuer.NewCluster(origin+devissuer.ClusterPath, clusterKey)
	p.cluster = cluster
	p.mux.Handle(devissuer.RealmPath+"/", issuer.Handler())
	p.mux.Handle(devissuer.ClusterPath+"/", cluster.Handler(devissuer.ClusterPath))

	if err := p.startBroker(ctx, cfg, running, transport, logger); err != nil {
		return nil, err
	}

	portalKey := make([]byte, 32)
	_, _ = rand.Read(portalKey)
	p.env = map[string]string{
		"DATABASE_URL":           url,
		"MIGRATE_ON_START":       "false",
		"OIDC_ISSUER_URL":        issuer.URL(),
		"OIDC_AUDIENCE":          devissuer.Audience,
		"EVENTS_OIDC_ISSUER_URL": cluster.URL(),
		"EVENTS_NAMESPACE":       auth.DefaultNamespace,
		"K_SINK":                 origin + host.BrokerIngressPath,
		// `orange dev`'s local defaults, one value for all replicas of a run (a portal's
		// session must be readable by each of its replicas, a manage link by each
		// reservations-api).
		"PORTAL_SESSION_KEYS":  base64.StdEncoding.EncodeToString(portalKey),
		"MAIL_MODE":            "folder", // the mail sink: a folder, as in `orange dev`, not SMTP
		"MAIL_DIR":             filepath.Join(cfg.DataDir, "mail"),
		"RESERVATION_LINK_KEY": rand.Text() + rand.Text(),
		"SYNC_ALLOW_LOOPBACK":  "true",
		"SYNC_SEED_PARTNERS":   devissuer.DevPartner,
		"PORTAL_SANDBOX_CARDS": "true",
	}
	ok = true
	return p, nil
}

// startBroker runs the in-process broker as `orange dev` does, with the Triggers and
// PingSources whose subscriber runs here (a subset leaves the others out), durable in the
// broker schema, delivering over HTTP to the Services' proxies, and its ingress on the up
// port. Each function's relay authenticates with a token file like the projected one on a
// pod, renewed by writeTokens.
func (p *platformPieces) startBroker(ctx context.Context, cfg Config, running []string, transport http.RoundTripper, logger *slog.Logger) error {
	triggers, err := broker.LoadTriggers(knative.Manifests, "base")
	if err != nil {
		return err
	}
	pings, err := broker.LoadPingSources(knative.Manifests, "base")
	if err != nil {
		return err
	}
	policies, err := broker.LoadEventPolicies(knative.Manifests, "base")
	if err != nil {
		return err
	}
	triggers = slices.DeleteFunc(triggers, func(t broker.Trigger) bool { return !slices.Contains(running, t.Subscriber.Service) })
	pings = slices.DeleteFunc(pings, func(s broker.PingSource) bool {
		return s.Sink.Broker == "" && !slices.Contains(running, s.Sink.Service)
	})
	ns := auth.DefaultNamespace
	sign := func(sender platform.Sender, namespace, audience string) (string, error) {
		return p.cluster.Token(devissuer.Subject(namespace, sender.ServiceAccount()), audience)
	}
	deliver := broker.HTTPDeliverer(transport, sign)
	b := broker.New(triggers, deliver, broker.Options{
		Logger:   logger.With(slog.String("component", "broker")),
		DB:       p.db,
		Policies: broker.NewPolicies(policies, ns, auth.DefaultBroker),
	})
	p.broker = b
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := b.Run(bctx); err != nil {
			logger.Error("broker", slog.Any("error", err))
		}
	}()
	if len(pings) > 0 {
		go func() { _ = broker.RunPingSources(bctx, pings, broker.Sender(b, deliver), nil) }()
	}
	p.stops = append(p.stops, func() { cancel(); <-done })

	keys := platform.NewTransport(nil, nil)
	keys.Mount("127.0.0.1", p.mux)
	verifier, err := auth.NewDeliveryVerifier(auth.DeliveryConfig{IssuerURL: p.cluster.URL()}, auth.BrokerAudience(ns, auth.DefaultBroker), ns,
		&http.Client{Transport: keys, Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	p.mux.Handle("POST "+host.BrokerIngressPath, host.BrokerIngress(b, verifier))
	p.mux.Handle("GET /dev/broker", b.DevHandler())

	p.tokens = filepath.Join(cfg.DataDir, "up", "broker-tokens")
	if err := os.MkdirAll(p.tokens, 0o700); err != nil {
		return err
	}
	if err := p.writeTokens(running); err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(10 * time.Minute) // the tokens live an hour; the kubelet renews early too
		defer t.Stop()
		for {
			select {
			case <-bctx.Done():
				return
			case <-t.C:
				if err := p.writeTokens(running); err != nil {
					logger.Error("broker tokens", slog.Any("error", err))
				}
			}
		}
	}()
	logger.Info("in-process broker", slog.Int("triggers", len(triggers)), slog.Int("pingSources", len(pings)))
	return nil
}

// writeTokens writes each service's token for the Broker's audience, atomically.
func (p *platformPieces) writeTokens(services []string) error {
	ns := auth.DefaultNamespace
	for _, s := range services {
		tok, err := p.cluster.Mint(devissuer.Subject(ns, s), auth.BrokerAudience(ns, auth.DefaultBroker))
		if err != nil {
			return err
		}
		f := filepath.Join(p.tokens, s)
		if err := os.WriteFile(f+".tmp", []byte(tok), 0o600); err != nil {
			return err
		}
		if err := os.Rename(f+".tmp", f); err != nil {
			return err
		}
	}
	return nil
}
