package broker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/robfig/cron/v3"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// PingSource is a Knative PingSource (sources.knative.dev/v1) as `orange dev` fires it.
type PingSource struct {
	Name      string
	Namespace string
	File      string
	// Schedule is the cron expression (5 fields, or 6 with seconds first; descriptors
	// such as @hourly); "* * * * *" when the manifest has none.
	Schedule string
	// Timezone is an IANA zone; empty means UTC, the zone of Knative's ping adapter pod.
	Timezone    string
	ContentType string
	// Data is the event body; DataBase64 the body base64-encoded (at most one is set).
	Data       string
	DataBase64 string
	// Extensions are spec.ceOverrides.extensions.
	Extensions map[string]string
	// Sink is a Knative Service or a Broker.
	Sink Destination
}

// String names the PingSource as namespace/name.
func (p *PingSource) String() string { return p.Namespace + "/" + p.Name }

// pingParser accepts what Knative's ping adapter accepts (pkg/adapter/mtping/adapter.go).
var pingParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronSchedule parses the schedule in its zone, as Knative prefixes CRON_TZ=.
func (p *PingSource) cronSchedule() (cron.Schedule, error) {
	if strings.Contains(p.Schedule, "@every") {
		return nil, errors.New("schedule: @every is not supported by Knative")
	}
	tz := p.Timezone
	if tz == "" {
		tz = "UTC"
	}
	s, err := pingParser.Parse("CRON_TZ=" + tz + " " + p.Schedule)
	if err != nil {
		if strings.HasPrefix(err.Error(), "provided bad location") {
			return nil, fmt.Errorf("timezone %q: %w", p.Timezone, err)
		}
		return nil, fmt.Errorf("schedule %q: %w", p.Schedule, err)
	}
	return s, nil
}

// Next is the first fire time after t.
func (p *PingSource) Next(t time.Time) (time.Time, error) {
	s, err := p.cronSchedule()
	if err != nil {
		return time.Time{}, err
	}
	return s.Next(t), nil
}

// Event is the CloudEvent one fire sends, as Knative's ping adapter builds it: type
// dev.knative.sources.ping, source /apis/v1/namespaces/<ns>/pingsources/<name>, a fresh
// UUID, the time of the fire, the ceOverrides extensions, and data as the manifest says.
func (p *PingSource) Event(id string, at time.Time) (cloudevents.Event, error) {
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetType(events.Ping)
	e.SetSource(fmt.Sprintf("/apis/v1/namespaces/%s/pingsources/%s", p.Namespace, p.Name))
	e.SetTime(at)
	for k, v := range p.Extensions {
		e.SetExtension(k, v)
	}
	var data []byte
	switch {
	case p.DataBase64 != "":
		b, err := base64.StdEncoding.DecodeString(p.DataBase64)
		if err != nil {
			return e, fmt.Errorf("dataBase64: %w", err)
		}
		data = b
	case p.Data != "":
		data = []byte(p.Data)
	}
	if data != nil {
		if err := e.SetData(p.ContentType, data); err != nil {
			return e, err
		}
	}
	return e, e.Validate()
}

type rawPing struct {
	Schedule    string         `yaml:"schedule"`
	Timezone    string         `yaml:"timezone"`
	ContentType string         `yaml:"contentType"`
	Data        string         `yaml:"data"`
	DataBase64  string         `yaml:"dataBase64"`
	Sink        rawDestination `yaml:"sink"`
	CEOverrides *struct {
		Extensions map[string]string `yaml:"extensions"`
	} `yaml:"ceOverrides"`
}

var extensionName = regexp.MustCompile(`^[a-z0-9]+$`)

// LoadPingSources reads the PingSources (sources.knative.dev/v1) of every *.yaml file
// directly in dir, checked as Knative's webhook checks them (schedule and time zone, one
// of data and dataBase64, JSON data when contentType is application/json). The sink must
// be a Knative Service or a Broker. Errors name the file and the PingSource.
func LoadPingSources(fsys fs.FS, dir string) ([]PingSource, error) {
	objs, err := readObjects(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []PingSource
	for _, o := range objs {
		ok, err := o.is(sourcesV1, "PingSource")
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		p, err := pingSource(o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.where(), err)
		}
		out = append(out, p)
	}
	return out, nil
}

func pingSource(o *object) (PingSource, error) {
	p := PingSource{Name: o.Metadata.Name, Namespace: o.namespace(), File: o.file}
	if p.Name == "" {
		return p, errors.New("metadata.name is not set")
	}
	var rp rawPing
	if err := o.Spec.Decode(&rp); err != nil {
		return p, fmt.Errorf("spec: %w", err)
	}
	p.Schedule, p.Timezone, p.ContentType, p.Data, p.DataBase64 = rp.Schedule, rp.Timezone, rp.ContentType, rp.Data, rp.DataBase64
	if p.Schedule == "" {
		p.Schedule = "* * * * *"
	}
	if _, err := p.cronSchedule(); err != nil {
		return p, fmt.Errorf("spec.%w", err)
	}
	if rp.CEOverrides != nil {
		for k := range rp.CEOverrides.Extensions {
			if !extensionName.MatchString(k) {
				return p, fmt.Errorf("spec.ceOverrides.extensions.%s: an extension name must match %s", k, extensionName)
			}
		}
		p.Extensions = rp.CEOverrides.Extensions
	}
	data := p.Data
	switch {
	case p.Data != "" && p.DataBase64 != "":
		return p, errors.New("spec: set data or dataBase64, not both")
	case p.DataBase64 != "":
		b, err := base64.StdEncoding.DecodeString(p.DataBase64)
		if err != nil {
			return p, fmt.Errorf("spec.dataBase64: %w", err)
		}
		data = string(b)
	}
	if data != "" && p.ContentType == cloudevents.ApplicationJSON {
		var obj map[string]any
		if err := json.Unmarshal([]byte(data), &obj); err != nil {
			return p, fmt.Errorf("spec.data: contentType is %s but the data is not a JSON object: %w", cloudevents.ApplicationJSON, err)
		}
	}
	sink, err := destination(&rp.Sink, p.Namespace, "spec.sink", true)
	if err != nil {
		return p, err
	}
	p.Sink = sink
	return p, nil
}

// pingRetries is how Knative's ping adapter sends (cloudevents.ContextWithRetriesExponentialBackoff
// with 50 ms and 5 retries): the wait before retry n is 50 ms·2^n.
const (
	pingRetries = 5
	pingPeriod  = 50 * time.Millisecond
)

// RunPingSources fires every source on its schedule until ctx ends, sending its event to
// its sink through send (see Sender) with a context naming the PingSource as the sender
// (SenderFrom), and returns once the sends in flight ended. now is
// the clock (time.Now when nil). Like Knative's adapter it runs each fire on its own and
// retries a failed send 5 times with exponential backoff from 50 ms (sdk-go's retriable
// statuses: 404, 413, 425, 429, 502, 503, 504, and no response). What differs from a
// cluster: no random 0–500 ms delay before a send, and — as in a cluster, whose adapter
// keeps its cron in memory — fires missed while the process was down are not caught up.
func RunPingSources(ctx context.Context, sources []PingSource, send func(ctx context.Context, to Destination, e cloudevents.Event) error, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	schedules := make([]cron.Schedule, len(sources))
	for i := range sources {
		s, err := sources[i].cronSchedule()
		if err != nil {
			return fmt.Errorf("PingSource %s: %w", sources[i].String(), err)
		}
		schedules[i] = s
	}
	var wg sync.WaitGroup
	for i := range sources {
		wg.Go(func() { runPing(ctx, &sources[i], schedules[i], send, now, &wg) })
	}
	wg.Wait()
	return nil
}

func runPing(ctx context.Context, p *PingSource, s cron.Schedule, send func(context.Context, Destination, cloudevents.Event) error, now func() time.Time, fires *sync.WaitGroup) {
	var last time.Time
	for {
		from := now()
		if from.Before(last) {
			from = last // never fire one scheduled time twice
		}
		next := s.Next(from)
		if next.IsZero() {
			return // a schedule that never fires again
		}
		timer := time.NewTimer(next.Sub(now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		last = next
		e, err := p.Event(uuid.NewString(), now())
		if err != nil {
			slog.ErrorContext(ctx, "ping: cannot build event", slog.String("pingsource", p.String()), slog.String("error", err.Error()))
			continue
		}
		fires.Go(func() { sendPing(ctx, p, e, send) })
	}
}

func sendPing(ctx context.Context, p *PingSource, e cloudevents.Event, send func(context.Context, Destination, cloudevents.Event) error) {
	// The adapter sends with the PingSource's own OIDC identity.
	ctx = WithSender(ctx, platform.PingSource(p.Name), p.Namespace)
	for n := 0; ; n++ {
		err := send(ctx, p.Sink, e)
		if err == nil {
			return
		}
		var re *ResponseError
		var refused *PolicyError
		// A Broker's refusal is the ingress's 403: not retried either.
		retry := !errors.As(err, &refused) && (!errors.As(err, &re) || pingRetriable(re.Status))
		if !retry || n >= pingRetries || ctx.Err() != nil {
			slog.ErrorContext(ctx, "ping: event not delivered", slog.String("pingsource", p.String()),
				slog.String("sink", p.Sink.String()), slog.String("event", e.ID()), slog.String("error", err.Error()))
			return
		}
		t := time.NewTimer(pingPeriod << (n + 1))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// pingRetriable is sdk-go's default retriable statuses (protocol/http defaultRetriableErrors).
func pingRetriable(status int) bool {
	switch status {
	case 404, 413, 425, 429, 502, 503, 504:
		return true
	}
	return false
}
