package notifier_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/notifier"
	"github.com/orangecarrental/orange/knative"
	"github.com/orangecarrental/orange/platform"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c notifier.Config)
	}{
		{name: "defaults: the local folder", env: nil, check: func(t *testing.T, c notifier.Config) {
			assert.Equal(t, notifier.ModeFolder, c.Mode)
			assert.Equal(t, ".data/mail", c.Dir)
			assert.Equal(t, "noreply@orangecarrental.com", c.SMTP.From)
		}},
		{name: "smtp", env: map[string]string{"MAIL_MODE": "smtp", "SMTP_HOST": "mail.example.com", "SMTP_PORT": "25",
			"SMTP_USERNAME": "u", "SMTP_PASSWORD": "p", "MAIL_FROM": "noreply@example.com"}, check: func(t *testing.T, c notifier.Config) {
			assert.Equal(t, 25, c.SMTP.Port)
			assert.Equal(t, "noreply@example.com", c.SMTP.From)
		}},
		{name: "smtp needs a host", env: map[string]string{"MAIL_MODE": "smtp"}, wantErr: "SMTP_HOST"},
		{name: "unknown mode", env: map[string]string{"MAIL_MODE": "pigeon"}, wantErr: "MAIL_MODE"},
		{name: "bad sender", env: map[string]string{"MAIL_FROM": "not an address"}, wantErr: "MAIL_FROM"},
		{name: "bad port", env: map[string]string{"MAIL_MODE": "smtp", "SMTP_HOST": "h", "SMTP_PORT": "70000"}, wantErr: "SMTP_PORT"},
		{name: "password without user", env: map[string]string{"MAIL_MODE": "smtp", "SMTP_HOST": "h", "SMTP_PASSWORD": "p"}, wantErr: "SMTP_USERNAME"},
		{name: "no attempts", env: map[string]string{"MAIL_MAX_ATTEMPTS": "0"}, wantErr: "MAIL_MAX_ATTEMPTS"},
		{name: "retry bounds", env: map[string]string{"MAIL_RETRY_BASE": "1m", "MAIL_RETRY_MAX": "1s"}, wantErr: "MAIL_RETRY_BASE"},
		{name: "links point to the local site by default", env: nil, check: func(t *testing.T, c notifier.Config) {
			assert.Equal(t, "http://localhost:8080", c.LinkBase)
		}},
		{name: "links are web links", env: map[string]string{"MAIL_LINK_BASE": "javascript:alert(1)"}, wantErr: "MAIL_LINK_BASE"},
		{name: "SMS: a folder beside the mail folder by default", env: nil, check: func(t *testing.T, c notifier.Config) {
			assert.Equal(t, notifier.ModeFolder, c.SMS.Mode)
			assert.Equal(t, ".data/sms", c.SMS.Dir)
		}},
		{name: "SMS folder follows MAIL_DIR", env: map[string]string{"MAIL_DIR": "/var/orange/mail/"}, check: func(t *testing.T, c notifier.Config) {
			assert.Equal(t, "/var/orange/sms", c.SMS.Dir)
		}},
		{name: "SMS folder of its own", env: map[string]string{"SMS_DIR": "/tmp/texts"}, check: func(t *testing.T, c notifier.Config) {
			assert.Equal(t, "/tmp/texts", c.SMS.Dir)
		}},
		{name: "SMS off", env: map[string]string{"SMS_MODE": "off"}, check: func(t *testing.T, c notifier.Config) {
			assert.Equal(t, notifier.ModeOff, c.SMS.Mode)
		}},
		{name: "unknown SMS mode", env: map[string]string{"SMS_MODE": "pager"}, wantErr: "SMS_MODE"},
		{name: "reminder sweep must be positive", env: map[string]string{"REMINDER_SWEEP_INTERVAL": "0s"}, wantErr: "REMINDER_SWEEP_INTERVAL"},
		{name: "links carry no query", env: map[string]string{"MAIL_LINK_BASE": "https://www.example.com/?x=1"}, wantErr: "MAIL_LINK_BASE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c notifier.Config
			err := platform.LoadConfig(context.Background(), envconfig.MapLookuper(tt.env), &c)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestThePasswordNeverPrints(t *testing.T) {
	t.Parallel()
	var c notifier.Config
	require.NoError(t, platform.LoadConfig(context.Background(), envconfig.MapLookuper(map[string]string{
		"MAIL_MODE": "smtp", "SMTP_HOST": "h", "SMTP_USERNAME": "u", "SMTP_PASSWORD": "hunter2"}), &c))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", slog.Any("mail", c), slog.Any("smtp", c.SMTP))
	for _, printed := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s %q", c.SMTP.Password, c.SMTP.Password), logs.String()} {
		assert.NotContains(t, printed, "hunter2")
	}
}

// TestTriggersDeliverWhatTheWorkerConsumes holds knative/base/notification-worker.yaml to
// Consumes: one Trigger per consumed type, named after it, to this Service's receive path.
func TestTriggersDeliverWhatTheWorkerConsumes(t *testing.T) {
	t.Parallel()
	raw, err := knative.Manifests.ReadFile("base/notification-worker.yaml")
	require.NoError(t, err)
	type object struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Broker string `json:"broker"`
			Filter struct {
				Attributes map[string]string `json:"attributes"`
			} `json:"filter"`
			Subscriber struct {
				Ref struct{ Kind, Name string } `json:"ref"`
				URI string                      `json:"uri"`
			} `json:"subscriber"`
		} `json:"spec"`
	}
	var triggered []string
	services := 0
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var o object
		require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
		assert.Equal(t, "orange", o.Metadata.Namespace, o.Metadata.Name)
		switch o.Kind {
		case "Service":
			services++
			assert.Equal(t, notifier.ServiceName, o.Metadata.Name)
		case "Trigger":
			typ := o.Spec.Filter.Attributes["type"]
			triggered = append(triggered, typ)
			// Kubernetes names have no "_": reservation.no_show → reservation-no-show.
			short := strings.NewReplacer(".", "-", "_", "-").Replace(strings.TrimSuffix(strings.TrimPrefix(typ, "com.orangecarrental."), ".v1"))
			assert.Equal(t, "notification-worker-"+short, o.Metadata.Name)
			assert.Equal(t, "default", o.Spec.Broker)
			assert.Equal(t, notifier.ServiceName, o.Spec.Subscriber.Ref.Name)
			assert.Equal(t, events.ReceivePath, o.Spec.Subscriber.URI)
		default:
			t.Errorf("unexpected %s %s", o.Kind, o.Metadata.Name)
		}
	}
	assert.Equal(t, 1, services)
	want := slices.Clone(notifier.Consumes)
	slices.Sort(want)
	slices.Sort(triggered)
	assert.Equal(t, want, triggered)
}

// TestBothProcessTypesReadSMSModeAlike: notifications-api takes exactly the SMS_MODE values
// the worker takes, so the two Services, set alike, agree on whether SMS goes at all.
func TestBothProcessTypesReadSMSModeAlike(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{notifier.ModeFolder, notifier.ModeOff, "OFF", "smtp", "pager"} {
		env := envconfig.MapLookuper(map[string]string{"SMS_MODE": mode})
		var worker notifier.Config
		workerErr := platform.LoadConfig(context.Background(), env, &worker)
		var api notifier.APIConfig
		apiErr := platform.LoadConfig(context.Background(), env, &api)
		if apiErr == nil {
			apiErr = api.Validate()
		}
		assert.Equal(t, workerErr == nil, apiErr == nil, "SMS_MODE=%s: worker %v, API %v", mode, workerErr, apiErr)
	}
}
