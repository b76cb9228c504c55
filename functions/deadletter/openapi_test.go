package deadletter_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/deadletter"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/openapitest"
)

// TestOpenAPICoversEveryRoute holds the document and the route table to each other, and
// validates real responses, errors included, against it.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	r := s.do(http.MethodGet, deadletter.Prefix+"/openapi.json", "")
	require.Equal(t, http.StatusOK, r.status)
	doc := openapitest.Load(t, r.body)
	svc, err := deadletter.New(context.Background(), deadletter.Config{ReplayMax: 1}, platform.Deps{DB: s.db})
	require.NoError(t, err)
	openapitest.CheckRoutes(t, doc, svc.Routes())
	assert.Equal(t, r.body, s.do(http.MethodGet, "/openapi.json", "").body)

	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, failed(customerUpdated(t, newCustomer(), "a@example.com"), 400, "x")).status)
	id := s.letters("").Items[0].ID
	v := openapitest.NewValidator(t, doc)
	for _, c := range []struct{ method, path, auth string }{
		{http.MethodGet, deadletter.Prefix, s.admin},
		{http.MethodGet, deadletter.Prefix + "?status=nope", s.admin},
		{http.MethodGet, deadletter.Prefix, ""},
		{http.MethodGet, deadletter.Prefix + "/" + id, s.admin},
		{http.MethodGet, deadletter.Prefix + "/" + newCustomer(), s.admin},
		{http.MethodPost, deadletter.Prefix + "/" + id + "/replay", s.admin},
		{http.MethodPost, deadletter.Prefix + "/replay", s.admin},
		{http.MethodPost, deadletter.Prefix + "/" + id + "/discard", s.admin},
		{http.MethodPost, deadletter.Prefix + "/" + id + "/replay", s.admin},
	} {
		header := http.Header{}
		if c.auth != "" {
			header.Set("Authorization", c.auth)
		}
		resp := s.do(c.method, c.path, c.auth)
		v.Check(t, c.method, c.path, header, resp.status, resp.header, resp.body)
	}
}
