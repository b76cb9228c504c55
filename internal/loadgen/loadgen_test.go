package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestParseMix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    string // the mix as read, or
		wantErr string // the message's telling part
	}{
		{in: DefaultMix, want: DefaultMix},
		{in: " search = 1 , book=0", want: "search=1,book=0"},
		{in: "quote=3", want: "quote=3"},
		{in: "", wantErr: "-mix is empty"},
		{in: "search", wantErr: `"search" is not name=weight`},
		{in: "search=70,browse=30", wantErr: `unknown journey "browse" (known: search, quote, book, cancel)`},
		{in: "search=70,search=30", wantErr: `journey "search" given twice`},
		{in: "search=-1", wantErr: `the weight of "search" must be a whole number ≥ 0, is "-1"`},
		{in: "search=7.5", wantErr: `must be a whole number`},
		{in: "search=0,quote=0", wantErr: "every weight is 0"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			m, err := ParseMix(tc.in, Journeys)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, m.String())
		})
	}
}

// The default mix hands out exactly its percentages in every 100 hits.
func TestMixFollowsItsWeights(t *testing.T) {
	t.Parallel()
	m, err := ParseMix(DefaultMix, Journeys)
	require.NoError(t, err)
	for round := 0; round < 3; round++ {
		got := map[string]int{}
		for i := 0; i < 100; i++ {
			got[m.Next()]++
		}
		assert.Equal(t, map[string]int{"search": 70, "quote": 15, "book": 10, "cancel": 5}, got)
	}
	assert.Equal(t, []string{"search", "quote", "book", "cancel"}, m.Names())
	assert.InDelta(t, 0.1, m.Share("book"), 1e-9)
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	mustP := func(p *Profile, err error) *Profile { require.NoError(t, err); return p }
	for _, tc := range []struct {
		name      string
		p         *Profile
		duration  time.Duration
		total     uint64
		rateAt    map[time.Duration]float64
		peak      float64
		monotonic bool
	}{
		{name: "constant", p: mustP(Constant(50, 10*time.Second)), duration: 10 * time.Second, total: 500,
			rateAt: map[time.Duration]float64{0: 50, 5 * time.Second: 50}, peak: 50},
		{name: "ramp", p: mustP(Ramp(0, 100, 10*time.Second)), duration: 10 * time.Second, total: 500,
			rateAt: map[time.Duration]float64{0: 0, 5 * time.Second: 50, 10 * time.Second: 100}, peak: 100},
		// 14 h ÷ 240 = 210 s; 12:00 is 3 h in (45 s), 18:00 9 h (135 s).
		{name: "the seed's day", p: mustP(Day(240, 0)), duration: 210 * time.Second,
			rateAt: map[time.Duration]float64{0: 100.0 / 60, 45 * time.Second: 500.0 / 60, 135 * time.Second: 1000.0 / 60}, peak: 1000.0 / 60},
		{name: "day with a peak", p: mustP(Day(240, 100)), duration: 210 * time.Second,
			rateAt: map[time.Duration]float64{135 * time.Second: 100, 0: 10}, peak: 100},
		{name: "Black Friday", p: mustP(BlackFriday(0, 60*time.Second)), duration: 60 * time.Second,
			rateAt: map[time.Duration]float64{time.Second: 100.0 / 60, 30 * time.Second: 2000, 59 * time.Second: 100.0 / 60}, peak: 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.duration, tc.p.Duration())
			if tc.total > 0 {
				assert.Equal(t, tc.total, tc.p.Total())
			}
			for at, want := range tc.rateAt {
				assert.InDelta(t, want, tc.p.Rate(at), 1e-6, "rate at %s", at)
			}
			assert.InDelta(t, tc.peak, tc.p.Peak(), 1e-9)
			// Due is the inverse of Hits, in order, and ends with the profile.
			var last time.Duration
			for n := uint64(0); n < tc.p.Total(); n++ {
				d, ok := tc.p.Due(n)
				require.True(t, ok, "hit %d", n)
				require.GreaterOrEqual(t, d, last, "hit %d", n)
				require.LessOrEqual(t, d, tc.p.Duration())
				require.InDelta(t, float64(n+1), tc.p.Hits(d), 1e-3, "hit %d at %s", n, d)
				last = d
			}
			_, ok := tc.p.Due(tc.p.Total())
			assert.False(t, ok, "no hit after the last")
		})
	}
	for _, bad := range []func() (*Profile, error){
		func() (*Profile, error) { return Constant(10, 0) },
		func() (*Profile, error) { return Constant(-1, time.Second) },
		func() (*Profile, error) { return Constant(0.5, time.Second) }, // not one journey
		func() (*Profile, error) { return Day(0.5, 0) },
	} {
		_, err := bad()
		assert.Error(t, err)
	}
}

// Percentiles are vegeta's t-digest over what was recorded: 1…100 ms.
func TestPercentiles(t *testing.T) {
	t.Parallel()
	var m vegeta.Metrics
	for i := 1; i <= 100; i++ {
		m.Add(&vegeta.Result{Code: 200, Timestamp: time.Unix(0, 0), Latency: time.Duration(i) * time.Millisecond})
	}
	m.Add(&vegeta.Result{Code: 503, Timestamp: time.Unix(0, 0), Latency: time.Millisecond})
	s := statsOf("search", "", &m)
	assert.EqualValues(t, 101, s.Count)
	assert.EqualValues(t, 100, s.OK)
	assert.InDelta(t, 50, s.Latency.P50, 1.5)
	assert.InDelta(t, 90, s.Latency.P90, 1.5)
	assert.InDelta(t, 99, s.Latency.P99, 1.5)
	assert.Equal(t, 100.0, s.Latency.Max)
	assert.Equal(t, map[string]int{"200": 100, "503": 1}, s.Statuses)
}

// ping is a one-request journey against the test server's path.
func ping(path string) journeyFunc {
	return func(ctx context.Context, s *session) (int, string, error) {
		st, err := s.call(ctx, "ping", "GET "+path, http.MethodGet, path, "", nil, nil)
		return st, "GET " + path, err
	}
}

func mix(t *testing.T, s string, known ...string) *Mix {
	t.Helper()
	m, err := ParseMix(s, known)
	require.NoError(t, err)
	return m
}

// An open loop sends what the profile schedules, when it schedules it, however the target
// answers.
func TestPacing(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // slower than the interval: the loop must not wait for it
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	p, err := Constant(200, time.Second)
	require.NoError(t, err)
	rep, err := Run(context.Background(), Config{URL: srv.URL, Profile: p, Mix: mix(t, "ping=1", "ping"),
		journeys: map[string]journeyFunc{"ping": ping("/")}})
	require.NoError(t, err)
	assert.EqualValues(t, 200, rep.Offered.Count)
	assert.EqualValues(t, 200, rep.Sent.Count, "every scheduled journey is sent")
	assert.EqualValues(t, 200, rep.Achieved.Count)
	// Lower bounds only: the box is shared, a late send is possible, an early one is not.
	assert.GreaterOrEqual(t, rep.ElapsedSeconds, 0.99)
	assert.GreaterOrEqual(t, rep.SendLag.P50, 0.0)
	require.Len(t, rep.Journeys, 2)
	assert.GreaterOrEqual(t, rep.Journeys[0].Latency.P50, 20.0)
	// Every bucket of the timeline sends about its share (the first and last absorb jitter).
	var sent float64
	for _, b := range rep.Timeline {
		sent += b.SentPerSecond * 0.1
		assert.InDelta(t, 200, b.OfferedPerSecond, 1e-6)
	}
	assert.InDelta(t, 200, sent, 1)
}

// With one worker and answers slower than the schedule, journeys wait for the worker:
// their latency runs from the intended send time (coordinated omission), not vegeta's
// actual one, and the wait shows as send lag.
func TestLatencyFromIntendedSendTime(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(40 * time.Millisecond)
	}))
	t.Cleanup(srv.Close)
	p, err := Constant(50, 400*time.Millisecond) // 20 journeys due within 0.4 s; one worker needs 0.8 s
	require.NoError(t, err)
	rep, err := Run(context.Background(), Config{URL: srv.URL, Profile: p, Mix: mix(t, "ping=1", "ping"), Workers: 1,
		journeys: map[string]journeyFunc{"ping": ping("/")}})
	require.NoError(t, err)
	require.EqualValues(t, 20, rep.Sent.Count)
	all := rep.Journeys[len(rep.Journeys)-1]
	// One worker runs the 20 one after another, ≥ 40 ms each: the last starts ≥ 760 ms after
	// the start and is due at 400 ms. Lower bounds only, whatever the box's load.
	assert.GreaterOrEqual(t, rep.SendLag.Max, 350.0, "the wait for the worker is the send lag")
	assert.GreaterOrEqual(t, all.Latency.Max, 390.0, "the wait for the worker is in the latency")
	assert.GreaterOrEqual(t, all.Latency.Max-rep.Requests[0].Latency.Max, 300.0, "more than any request itself took")
}

// Every outcome is counted as what it is, at the step it happened.
func TestErrorMix(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/conflict":
			w.WriteHeader(http.StatusConflict)
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/slow": // until the journey's timeout hangs up
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		case "/hangup": // mid-answer: a connection closed before the request was written would be retried by net/http
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
				_ = buf.Flush()
				conn.Close()
			}
		}
	}))
	t.Cleanup(srv.Close)
	p, err := Constant(100, time.Second)
	require.NoError(t, err)
	js := map[string]journeyFunc{}
	for _, n := range []string{"ok", "conflict", "busy", "slow", "hangup"} {
		js[n] = ping("/" + n)
	}
	rep, err := Run(context.Background(), Config{URL: srv.URL, Profile: p, Timeout: time.Second, // the others answer well within it, even on a busy box
		Mix: mix(t, "ok=60,conflict=10,busy=10,slow=10,hangup=10", "ok", "conflict", "busy", "slow", "hangup"), journeys: js})
	require.NoError(t, err)
	got := map[string]int{}
	for _, o := range rep.Outcomes {
		got[fmt.Sprintf("%s %s %d %s", o.Journey, o.Step, o.Status, o.Kind)] += o.Count
	}
	assert.Equal(t, map[string]int{
		"conflict GET /conflict 409 conflict": 10,
		"busy GET /busy 503 unavailable":      10,
		"slow GET /slow 0 timeout":            10,
		"hangup GET /hangup 0 reset":          10,
	}, got)
	assert.EqualValues(t, 60, rep.Achieved.Count)
	for _, s := range rep.Journeys {
		if s.Journey == "conflict" {
			assert.Equal(t, map[string]int{"409": 10}, s.Statuses)
		}
	}
}

// The JSON has its stable names; the SVG is well-formed XML with a title and a description
// and no script.
func TestReportFiles(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	p, err := Ramp(10, 100, 500*time.Millisecond)
	require.NoError(t, err)
	rep, err := Run(context.Background(), Config{URL: srv.URL, Profile: p, Mix: mix(t, "ping=1", "ping"),
		journeys: map[string]journeyFunc{"ping": ping("/<&>")}})
	require.NoError(t, err)

	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	for _, k := range []string{"target", "profile", "mix", "startedAt", "durationSeconds", "elapsedSeconds", "peakPerSecond",
		"offered", "sent", "achieved", "sendLagMs", "journeys", "requests", "outcomes", "timeline"} {
		assert.Contains(t, doc, k)
	}
	j := doc["journeys"].([]any)[0].(map[string]any)
	for _, k := range []string{"journey", "count", "ok", "successRatio", "latencyMs", "statuses"} {
		assert.Contains(t, j, k)
	}
	assert.Contains(t, j["latencyMs"], "p99")

	var svg bytes.Buffer
	require.NoError(t, rep.WriteSVG(&svg))
	dec := xml.NewDecoder(bytes.NewReader(svg.Bytes()))
	var elems []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "the SVG is not well-formed")
		if se, ok := tok.(xml.StartElement); ok {
			elems = append(elems, se.Name.Local)
		}
	}
	assert.Equal(t, "svg", elems[0])
	assert.Contains(t, elems, "title")
	assert.Contains(t, elems, "desc")
	assert.Contains(t, elems, "polyline")
	assert.NotContains(t, elems, "script")
	assert.Contains(t, svg.String(), `role="img"`)

	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	assert.Contains(t, text.String(), "every journey ended ok")
	assert.Contains(t, text.String(), "p99")
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	p, err := Constant(1, time.Second)
	require.NoError(t, err)
	_, err = Run(context.Background(), Config{URL: "http://" + addr, Profile: p, Mix: mix(t, DefaultMix, Journeys...)})
	require.ErrorIs(t, err, ErrUnreachable)
	assert.True(t, strings.Contains(err.Error(), addr))
}

// A stopped context ends the run early with what was sent.
func TestCancel(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	p, err := Constant(50, time.Minute)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rep, err := Run(ctx, Config{URL: srv.URL, Profile: p, Mix: mix(t, "ping=1", "ping"), journeys: map[string]journeyFunc{"ping": ping("/")}})
	require.NoError(t, err)
	assert.Less(t, rep.ElapsedSeconds, 5.0)
	assert.Less(t, rep.Sent.Count, uint64(100))
	assert.False(t, math.IsNaN(rep.Achieved.PerSecond))
}
