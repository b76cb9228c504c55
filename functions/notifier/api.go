package notifier

import (
	"context"
	_ "embed"
	"errors"
	"net/http"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
)

// notifications-api is the web process type of this package (design.md §1): the log of
// every notification for the people it concerns, and the requests people make — a resend,
// a message to a customer, their channels. It records each request as a pending row of the
// same table the worker's sender works through (queue), so it never talks SMTP or SMS, and
// the two Services scale on their own. It calls no other function and consumes no events:
// everything it needs (recipients, preferences, templates) is in the shared schema or the
// binary. docs/notifications.md says who sees what and what each status means.

// APIServiceName is the Knative Service of the web process type.
const APIServiceName = "notifications-api"

// APIPrefix is where notifications-api serves its routes.
const APIPrefix = "/api/notifications"

//go:embed api_openapi.json
var apiOpenAPIDocument []byte

// APIConfig is notifications-api's configuration: no mail server, no SMS provider — those
// are the worker's (Config) — only whether the environment sends SMS at all.
type APIConfig struct {
	// SMSMode is the worker's SMS_MODE, set alike on both Services: off refuses every SMS
	// request (a send by SMS, choosing SMS) at once rather than queueing what must fail.
	SMSMode string `env:"SMS_MODE, default=folder"`
}

// Validate checks the settings.
func (c APIConfig) Validate() error {
	return checkSMSMode(c.SMSMode)
}

// APIService serves notifications-api.
type APIService struct {
	cfg       APIConfig
	db        *database.DB
	keys      *idempotency.Keys
	templates templateSet
}

// APIFunction describes notifications-api to hosts: the same schema (the same Migrations)
// as notification-worker's Function.
func APIFunction() platform.Function {
	return platform.Function{
		Service:    APIServiceName,
		Prefixes:   []string{APIPrefix},
		Migrations: &Migrations,
		New:        platform.Construct(NewAPI),
	}
}

// NewAPI returns notifications-api over deps.DB.
func NewAPI(_ context.Context, cfg APIConfig, deps platform.Deps) (*APIService, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.DB == nil {
		return nil, errors.New("notifications-api: a database is required")
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	return &APIService{cfg: cfg, db: deps.DB, keys: idempotency.New(deps.DB, Migrations.Schema), templates: tmpl}, nil
}

// Routes is notifications-api's route table. Customers read their own history and set their
// own channels; agents and admins read everyone's, send, resend and preview. Sends and
// resends take an Idempotency-Key. The fixed paths come before /{id}, which they would
// otherwise match.
func (a *APIService) Routes() []platform.Route {
	readers := platform.Allow(platform.RoleCustomer, platform.RoleAgent)
	agents := platform.Allow(platform.RoleAgent)
	doc := platform.Document(apiOpenAPIDocument)
	return []platform.Route{
		{Name: "getOpenAPI", Method: http.MethodGet, Path: "/openapi.json", Access: platform.Public, Handler: doc},
		{Name: "getNotificationsOpenAPI", Method: http.MethodGet, Path: APIPrefix + "/openapi.json", Access: platform.Public, Handler: doc},
		{Name: "listNotifications", Method: http.MethodGet, Path: APIPrefix, Access: readers, Handler: a.handleList},
		{Name: "sendNotification", Method: http.MethodPost, Path: APIPrefix, Access: agents, Handler: a.keys.Wrap(a.handleSend)},
		{Name: "listTemplates", Method: http.MethodGet, Path: APIPrefix + "/templates", Access: agents, Handler: a.handleListTemplates},
		{Name: "previewTemplate", Method: http.MethodGet, Path: APIPrefix + "/templates/{key}/preview", Access: agents, Handler: a.handlePreview},
		{Name: "getPreferences", Method: http.MethodGet, Path: APIPrefix + "/preferences", Access: readers, Handler: a.handleGetPreferences},
		{Name: "putPreferences", Method: http.MethodPut, Path: APIPrefix + "/preferences", Access: readers, Handler: a.handlePutPreferences},
		{Name: "getNotification", Method: http.MethodGet, Path: APIPrefix + "/{id}", Access: readers, Handler: a.handleGet},
		{Name: "resendNotification", Method: http.MethodPost, Path: APIPrefix + "/{id}/resend", Access: agents, Handler: a.keys.Wrap(a.handleResend)},
	}
}
