package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// emit sends one CloudEvent in binary mode to a broker or any CloudEvents receiver: by
// default the in-process broker of a running `orange dev`. Every receiver and the Broker
// check who sends (design.md §9), so the event goes out with a token: the one in -token-file
// (on a cluster: `kubectl create token <service account> --audience <audience>`), or one
// that `orange dev`'s cluster issuer makes for the identity named by -as.
func emit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("emit", flag.ContinueOnError)
	fs.SetOutput(stdout)
	to := fs.String("to", "http://localhost:8080"+host.BrokerIngressPath, "where to send: a Broker URL (K_SINK) or a receiver")
	typ := fs.String("type", "", "event type, e.g. "+events.CustomerRegistered+" (required)")
	source := fs.String("source", "", "event source (default: the -as service account, else orange-cli)")
	subject := fs.String("subject", "", "event subject: the aggregate id")
	data := fs.String("data", "{}", "JSON data, or @file to read it from a file")
	as := fs.String("as", "", "send as this identity of `orange dev`: a function's service account (payments-api: the Broker lets it send payment.* only), or trigger/<name> or pingsource/<name> for a delivery straight to a receiver (-to http://localhost:8080"+host.DevServicesPath+"<service>/cloudevents in `orange dev`), or partner/<client> for a partner's event to sync-worker's /api/events (partner/"+devissuer.DevPartner+"; -to defaults to http://localhost:8080/api/events)")
	namespace := fs.String("namespace", auth.DefaultNamespace, "namespace of the -as identity")
	audience := fs.String("audience", "", "audience of the token (default: the Broker's for a Broker path, else serving.knative.dev/service/<namespace>/<host's first label>)")
	tokenFile := fs.String("token-file", "", "send the token in this file instead of asking `orange dev` for one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *typ == "" {
		fs.Usage()
		return errors.New("emit: -type is required")
	}
	if *as == "" && *tokenFile == "" {
		fs.Usage()
		return errors.New("emit: say who sends: -as <identity> (orange dev) or -token-file <file>")
	}
	if _, known := events.Types[*typ]; !known {
		fmt.Fprintf(stdout, "note: %s is not in the catalogue; sending it anyway\n", *typ)
	}
	raw := []byte(*data)
	if strings.HasPrefix(*data, "@") {
		var err error
		if raw, err = os.ReadFile(strings.TrimPrefix(*data, "@")); err != nil {
			return err
		}
	}
	if !json.Valid(raw) {
		return errors.New("emit: -data must be JSON")
	}
	target, err := url.Parse(*to)
	if err != nil || target.Host == "" {
		return fmt.Errorf("emit: -to %q is not an absolute URL", *to)
	}
	var token string
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return err
		}
		token = strings.TrimSpace(string(b))
	} else if client, ok := strings.CutPrefix(*as, "partner/"); ok {
		// A partner signs in with client credentials at the realm, as on the cluster.
		if client == "" {
			return errors.New("emit: -as partner/<client>: the client is missing")
		}
		if !toSet(fs) {
			target.Path = "/api/events"
			*to = target.String()
		}
		if token, err = partnerToken(ctx, target, client); err != nil {
			return err
		}
	} else {
		account, err := serviceAccount(*as)
		if err != nil {
			return err
		}
		aud := *audience
		if aud == "" {
			aud = defaultAudience(target, *namespace)
		}
		if token, err = devToken(ctx, target, *namespace, account, aud); err != nil {
			return err
		}
		if *source == "" && !strings.Contains(*as, "/") {
			*source = *as
		}
	}
	if *source == "" {
		*source = "orange-cli"
	}
	e, err := events.New(*source, *typ, *subject, json.RawMessage(raw))
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: bearer{token: token, next: http.DefaultTransport}}
	pub, err := events.NewHTTPPublisher(*to, client)
	if err != nil {
		return err
	}
	if err := pub.Publish(ctx, e); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sent %s (%s) to %s\n", e.ID(), e.Type(), *to)
	return nil
}

// serviceAccount turns -as into a service account name: a function's own, or the OIDC
// identity Knative Eventing gives a Trigger or PingSource.
func serviceAccount(as string) (string, error) {
	kind, name, found := strings.Cut(as, "/")
	switch {
	case !found:
		return as, nil
	case strings.EqualFold(kind, "trigger") && name != "":
		return platform.Trigger(name).ServiceAccount(), nil
	case strings.EqualFold(kind, "pingsource") && name != "":
		return platform.PingSource(name).ServiceAccount(), nil
	}
	return "", fmt.Errorf("emit: -as %q: want <service account>, trigger/<name> or pingsource/<name>", as)
}

// defaultAudience is the Broker's audience for a Broker ingress path (/<namespace>/<broker>
// at its end), the function's for `orange dev`'s /dev/services/<service>/…, else the
// audience of the Knative Service the host names.
func defaultAudience(target *url.URL, namespace string) string {
	// `orange dev`'s way to a cluster-local function: /dev/services/<service>/<path>.
	if rest, ok := strings.CutPrefix(target.Path, host.DevServicesPath); ok {
		return auth.ServiceAudience(namespace, strings.SplitN(rest, "/", 2)[0])
	}
	parts := strings.Split(strings.Trim(target.Path, "/"), "/")
	if n := len(parts); n >= 2 && (strings.HasSuffix(target.Path, host.BrokerIngressPath) || strings.HasPrefix(target.Hostname(), "broker-ingress")) {
		return auth.BrokerAudience(parts[n-2], parts[n-1])
	}
	return auth.ServiceAudience(namespace, strings.SplitN(target.Hostname(), ".", 2)[0])
}

// devToken asks the cluster issuer of the `orange dev` at target's host for a token, as
// `kubectl create token` would on a cluster.
func devToken(ctx context.Context, target *url.URL, namespace, account, audience string) (string, error) {
	endpoint := target.Scheme + "://" + target.Host + devissuer.ClusterPath + "/token"
	form := url.Values{"namespace": {namespace}, "serviceAccount": {account}, "audience": {audience}}
	tok, err := postForToken(ctx, endpoint, form, "token")
	if err != nil {
		return "", fmt.Errorf("emit: get a token from orange dev (is this an orange dev?): %w", err)
	}
	return tok, nil
}

// postForToken posts form to endpoint and returns the string at key of its JSON answer: the
// shape of both the cluster issuer's token endpoint and an OAuth token endpoint.
func postForToken(ctx context.Context, endpoint string, form url.Values, key string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out map[string]any
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&out) != nil {
		return "", fmt.Errorf("%s answered %d: no token", endpoint, resp.StatusCode)
	}
	tok, _ := out[key].(string)
	if tok == "" {
		return "", fmt.Errorf("%s answered without %s", endpoint, key)
	}
	return tok, nil
}

// bearer adds a fixed token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(out)
}

// toSet reports whether -to was given.
func toSet(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "to" })
	return set
}

// partnerToken gets a partner's token from the realm of the `orange dev` at target's host by
// the client-credentials grant, with the development secret of client.
func partnerToken(ctx context.Context, target *url.URL, client string) (string, error) {
	endpoint := target.Scheme + "://" + target.Host + devissuer.RealmPath + "/protocol/openid-connect/token"
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {devissuer.ClientSecret(client)}}
	tok, err := postForToken(ctx, endpoint, form, "access_token")
	if err != nil {
		return "", fmt.Errorf("emit: get a token for partner %s from orange dev: %w", client, err)
	}
	return tok, nil
}
