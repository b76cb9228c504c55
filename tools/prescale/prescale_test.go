package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

func TestParseTargets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		want    []Target
		wantErr bool
	}{
		{args: []string{"locations-api=4", "vehicles-api=10"}, want: []Target{{"locations-api", 4}, {"vehicles-api", 10}}},
		{args: []string{"report-worker=0"}, want: []Target{{"report-worker", 0}}},
		{args: nil, wantErr: true},
		{args: []string{"locations-api"}, wantErr: true},
		{args: []string{"=4"}, wantErr: true},
		{args: []string{"locations-api=-1"}, wantErr: true},
		{args: []string{"locations-api=4x"}, wantErr: true},
		{args: []string{"locations-api=04"}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseTargets(tt.args)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseTargets(%q) error = %v, wantErr %v", tt.args, err, tt.wantErr)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("ParseTargets(%q) = %v, want %v", tt.args, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseTargets(%q)[%d] = %v, want %v", tt.args, i, got[i], tt.want[i])
			}
		}
	}
}

// TestSetMinScale pins the exact request: a GET then a JSON merge patch on
// the Knative Service that touches only the revision template's min-scale.
func TestSetMinScale(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls []string
	var patch map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		if got := r.Header.Get("Authorization"); got != "Bearer tok" {
			t.Errorf("Authorization = %q", got)
		}
		switch r.Method {
		case http.MethodGet:
			io.WriteString(w, `{"spec":{"template":{"metadata":{"annotations":{"autoscaling.knative.dev/min-scale":"2"}}}}}`)
		case http.MethodPatch:
			if ct := r.Header.Get("Content-Type"); ct != "application/merge-patch+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if err := json.NewDecoder(r.Body).Decode(&patch); err != nil {
				t.Errorf("patch body: %v", err)
			}
			io.WriteString(w, `{}`)
		}
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Namespace: "orange", Token: "tok", HTTP: srv.Client()}

	before, err := c.MinScale(context.Background(), "locations-api")
	if err != nil || before != "2" {
		t.Fatalf("MinScale = %q, %v; want \"2\"", before, err)
	}
	if err := c.SetMinScale(context.Background(), "locations-api", 4); err != nil {
		t.Fatal(err)
	}
	wantCalls := []string{
		"GET /apis/serving.knative.dev/v1/namespaces/orange/services/locations-api",
		"PATCH /apis/serving.knative.dev/v1/namespaces/orange/services/locations-api",
	}
	if len(calls) != 2 || calls[0] != wantCalls[0] || calls[1] != wantCalls[1] {
		t.Errorf("calls = %q, want %q", calls, wantCalls)
	}
	got, _ := json.Marshal(patch)
	want := `{"spec":{"template":{"metadata":{"annotations":{"autoscaling.knative.dev/min-scale":"4"}}}}}`
	if string(got) != want {
		t.Errorf("patch = %s, want %s", got, want)
	}
}

func TestSetMinScaleReportsAPIErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `services.serving.knative.dev "x" is forbidden`, http.StatusForbidden)
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Namespace: "orange", Token: "tok", HTTP: srv.Client()}
	if err := c.SetMinScale(context.Background(), "x", 1); err == nil {
		t.Fatal("SetMinScale on 403: want error")
	}
}
