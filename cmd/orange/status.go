package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// status prints what an operator looks at first (docs/observability.md): readiness, each
// function's requests and events, every outbox's backlog, the in-process broker's queues
// and the latest dead letters — read from /readyz, the Prometheus series and, with an
// admin's token, /api/dead-letters. Against `orange dev` everything comes from its one
// port; on a cluster -url is the gateway (readiness, dead letters) and -metrics a
// Prometheus federation URL (the functions' series: their metrics port is not routed).
// It fails when the system is not ready or its series cannot be read.
func status(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stdout)
	base := fs.String("url", "http://localhost:8080", "the system: `orange dev`'s port or the cluster's gateway")
	metricsURL := fs.String("metrics", "", "where the Prometheus series are (default: -url + /metrics, as `orange dev` serves them; on a cluster: https://<prometheus>/federate?match[]={__name__=~\"orange_.*|up\"})")
	token := fs.String("token", os.Getenv("ORANGE_TOKEN"), "an admin's bearer token, for the dead letters (default $ORANGE_TOKEN)")
	user := fs.String("user", "", "`orange dev` only: get a token for this demo user (ada is the admin) from its development issuer")
	letters := fs.Int("dead-letters", 10, "how many of the latest dead letters to list")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on each request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root := strings.TrimSuffix(*base, "/")
	if *metricsURL == "" {
		*metricsURL = root + "/metrics"
	}
	client := &http.Client{Timeout: *timeout}
	if *user != "" {
		tok, err := userToken(ctx, client, root, *user)
		if err != nil {
			return fmt.Errorf("status: token for %s: %w", *user, err)
		}
		*token = tok
	}

	ready, readyErr := readiness(ctx, client, root)
	fmt.Fprintf(stdout, "%s: %s\n", root, ready)
	families, err := scrape(ctx, client, *metricsURL)
	if err != nil {
		return fmt.Errorf("status: series from %s: %w", *metricsURL, err)
	}
	s := summarize(families)
	w := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "\nFUNCTION\tREADY\tREQUESTS\t5XX\tIN FLIGHT\tEVENTS OK\tDUPLICATE\tREFUSED\tFAILED")
	for _, f := range s.functions() {
		r := s.fn[f]
		up := ready
		if r.targets > 0 { // federated: readiness per function from Prometheus' up
			up = fmt.Sprintf("%d/%d pods", r.up, r.targets)
		}
		fmt.Fprintf(w, "%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\n", f, up, r.requests, r.errors, r.inFlight,
			r.events["processed"], r.events["duplicate"], r.events["refused"], r.events["failed"])
	}
	fmt.Fprintln(w, "\nOUTBOX\tBACKLOG\tOLDEST\tRETRYING")
	for _, o := range sortedKeys(s.outbox) {
		b := s.outbox[o]
		fmt.Fprintf(w, "%s\t%.0f\t%s\t%.0f\n", o, b.backlog, (time.Duration(b.oldest * float64(time.Second))).Round(time.Millisecond), b.retrying)
	}
	if len(s.triggers) > 0 {
		fmt.Fprintln(w, "\nTRIGGER (in-process broker)\tQUEUED\tIN FLIGHT\tDELIVERED\tRETRIES\tDEAD-LETTERED\tDROPPED")
		var idle int
		for _, name := range sortedKeys(s.triggers) {
			t := s.triggers[name]
			if t.queued == 0 && t.inFlight == 0 && t.retries == 0 && t.deadLettered == 0 && t.dropped == 0 && t.delivered == 0 {
				idle++
				continue
			}
			fmt.Fprintf(w, "%s\t%.0f/%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\n", name, t.queued, t.capacity, t.inFlight, t.delivered, t.retries, t.deadLettered, t.dropped)
		}
		if idle > 0 {
			fmt.Fprintf(w, "(%d more, nothing delivered yet)\n", idle)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nDEAD LETTERS (latest)")
	if err := deadLetters(ctx, client, root, *token, *letters, stdout); err != nil {
		fmt.Fprintf(stdout, "  %v\n", err)
	}
	if readyErr != nil {
		return fmt.Errorf("status: %w", readyErr)
	}
	return nil
}

// readiness asks /readyz and says what it answered.
func readiness(ctx context.Context, c *http.Client, root string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, root+"/readyz", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "unreachable", fmt.Errorf("not reachable: %w", err)
	}
	defer resp.Body.Close()
	var body struct{ Status, Detail string }
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	if resp.StatusCode != http.StatusOK {
		return "not ready", fmt.Errorf("not ready: /readyz answered %d %s", resp.StatusCode, body.Detail)
	}
	return "ready", nil
}

// scrape reads the text exposition at u (a process's /metrics, or Prometheus' /federate).
func scrape(ctx context.Context, c *http.Client, u string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

type fnSummary struct {
	requests, errors, inFlight float64
	events                     map[string]float64
	up, targets                int
}

type outboxSummary struct{ backlog, oldest, retrying float64 }

type triggerSummary struct{ queued, capacity, inFlight, delivered, retries, deadLettered, dropped float64 }

type summary struct {
	fn       map[string]*fnSummary
	outbox   map[string]*outboxSummary
	triggers map[string]*triggerSummary
}

func (s *summary) function(name string) *fnSummary {
	f, ok := s.fn[name]
	if !ok {
		f = &fnSummary{events: map[string]float64{}}
		s.fn[name] = f
	}
	return f
}

func (s *summary) functions() []string { return sortedKeys(s.fn) }

// summarize adds up the series by function, schema and Trigger — over every pod when the
// series are federated from a cluster.
func summarize(families map[string]*dto.MetricFamily) *summary {
	s := &summary{fn: map[string]*fnSummary{}, outbox: map[string]*outboxSummary{}, triggers: map[string]*triggerSummary{}}
	each := func(name string, fn func(labels map[string]string, v float64)) {
		mf := families[name]
		if mf == nil {
			return
		}
		for _, m := range mf.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			var v float64
			switch {
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			case m.Untyped != nil:
				v = m.Untyped.GetValue()
			}
			fn(labels, v)
		}
	}
	each("orange_http_requests_in_flight", func(l map[string]string, v float64) { s.function(l["function"]).inFlight += v })
	each("orange_http_requests_total", func(l map[string]string, v float64) {
		f := s.function(l["function"])
		f.requests += v
		if strings.HasPrefix(l["code"], "5") {
			f.errors += v
		}
	})
	each("orange_events_received_total", func(l map[string]string, v float64) { s.function(l["function"]).events[l["outcome"]] += v })
	each("up", func(l map[string]string, v float64) {
		// The PodMonitor scrapes each pod twice (ours, the queue-proxy's): count ours.
		if e := l["endpoint"]; e != "" && e != "user-port" {
			return
		}
		if _, ours := s.fn[l["function"]]; ours {
			f := s.fn[l["function"]]
			f.targets++
			if v == 1 {
				f.up++
			}
		}
	})
	outbox := func(l map[string]string) *outboxSummary {
		o, ok := s.outbox[l["schema"]]
		if !ok {
			o = &outboxSummary{}
			s.outbox[l["schema"]] = o
		}
		return o
	}
	// Every replica of a function reads the same outbox: the largest reading, not the sum.
	each("orange_outbox_backlog_events", func(l map[string]string, v float64) { o := outbox(l); o.backlog = max(o.backlog, v) })
	each("orange_outbox_oldest_unpublished_age_seconds", func(l map[string]string, v float64) { o := outbox(l); o.oldest = max(o.oldest, v) })
	each("orange_outbox_retrying_events", func(l map[string]string, v float64) { o := outbox(l); o.retrying = max(o.retrying, v) })
	trigger := func(l map[string]string) *triggerSummary {
		t, ok := s.triggers[l["trigger"]]
		if !ok {
			t = &triggerSummary{}
			s.triggers[l["trigger"]] = t
		}
		return t
	}
	for name, set := range map[string]func(*triggerSummary, float64){
		"orange_broker_queue_depth":         func(t *triggerSummary, v float64) { t.queued += v },
		"orange_broker_queue_capacity":      func(t *triggerSummary, v float64) { t.capacity += v },
		"orange_broker_in_flight":           func(t *triggerSummary, v float64) { t.inFlight += v },
		"orange_broker_delivered_total":     func(t *triggerSummary, v float64) { t.delivered += v },
		"orange_broker_retries_total":       func(t *triggerSummary, v float64) { t.retries += v },
		"orange_broker_dead_lettered_total": func(t *triggerSummary, v float64) { t.deadLettered += v },
		"orange_broker_dropped_total":       func(t *triggerSummary, v float64) { t.dropped += v },
	} {
		each(name, func(l map[string]string, v float64) { set(trigger(l), v) })
	}
	delete(s.fn, "") // a series without a function label (a foreign exporter's)
	return s
}

// deadLetters prints the latest n dead letters, newest first, as an admin sees them.
func deadLetters(ctx context.Context, c *http.Client, root, token string, n int, out io.Writer) error {
	if token == "" {
		return errors.New("(listing them takes an admin: -token, $ORANGE_TOKEN, or -user ada with `orange dev`)")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, root+"/api/dead-letters?pageSize="+fmt.Sprint(n), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("(/api/dead-letters answered %d: an admin's token is needed)", resp.StatusCode)
	}
	var page struct {
		Total int
		Items []struct {
			ID, Trigger, Status string
			ReceivedAt          time.Time
			Event               struct{ Type string }
			Error               struct{ Code *int }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return err
	}
	if page.Total == 0 {
		fmt.Fprintln(out, "  none")
		return nil
	}
	w := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "  RECEIVED\tTYPE\tTRIGGER\tSTATUS\tANSWER\tID")
	for _, l := range page.Items {
		code := "-"
		if l.Error.Code != nil {
			code = fmt.Sprint(*l.Error.Code)
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", l.ReceivedAt.UTC().Format(time.RFC3339), l.Event.Type, l.Trigger, l.Status, code, l.ID)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %d in all (GET /api/dead-letters; replay or discard: docs/dead-letters.md)\n", page.Total)
	return nil
}

// userToken asks `orange dev`'s development issuer for user's token (each demo user's
// password is its name).
func userToken(ctx context.Context, c *http.Client, root, user string) (string, error) {
	form := url.Values{"grant_type": {"password"}, "client_id": {"public-portal"}, "username": {user}, "password": {user}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, root+devissuer.RealmPath+"/protocol/openid-connect/token",
		strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the issuer answered %d (is %s an `orange dev`?)", resp.StatusCode, root)
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, cmp.Compare)
	return out
}
