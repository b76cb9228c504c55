package platform_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

func newFn(service string, prefixes ...string) platform.Function {
	return platform.Function{
		Service:  service,
		Prefixes: prefixes,
		New: func(context.Context, platform.Deps) (platform.API, error) {
			return platform.RouteTable{}, nil
		},
	}
}

func TestNewRegistryRejects(t *testing.T) {
	t.Parallel()
	noNew := newFn("fleet-api", "/api/fleet")
	noNew.New = nil
	tests := []struct {
		name    string
		fns     []platform.Function
		wantErr string
	}{
		{name: "missing constructor", fns: []platform.Function{noNew}, wantErr: "constructor"},
		{name: "missing service name", fns: []platform.Function{newFn("", "/api/x")}, wantErr: "service name"},
		{name: "duplicate service", fns: []platform.Function{newFn("fleet-api", "/api/fleet"), newFn("fleet-api", "/api/cars")}, wantErr: `"fleet-api" registered twice`},
		{name: "duplicate prefix", fns: []platform.Function{newFn("fleet-api", "/api/fleet"), newFn("cars-api", "/api/cars", "/api/fleet")}, wantErr: `both claim prefix "/api/fleet"`},
		{name: "duplicate prefix within one function", fns: []platform.Function{newFn("fleet-api", "/api/fleet", "/api/fleet")}, wantErr: "/api/fleet"},
		{name: "prefix without leading slash", fns: []platform.Function{newFn("fleet-api", "api/fleet")}, wantErr: `prefix "api/fleet"`},
		{name: "prefix with trailing slash", fns: []platform.Function{newFn("fleet-api", "/api/fleet/")}, wantErr: `prefix "/api/fleet/"`},
		{name: "root prefix of a cluster-local function", fns: []platform.Function{newFn("fleet-api", "/")}, wantErr: `prefix "/"`},
		{name: "two functions claim the root", fns: []platform.Function{public(newFn("public-portal", "/")), public(newFn("other-portal", "/"))}, wantErr: `both claim prefix "/"`},
		{name: "empty prefix", fns: []platform.Function{newFn("fleet-api", "")}, wantErr: `prefix ""`},
		{name: "one schema, two sets of migrations", fns: []platform.Function{withSchema(newFn("mail-worker"), &database.Migrations{Schema: "mail"}),
			withSchema(newFn("mail-api", "/api/mail"), &database.Migrations{Schema: "mail"})}, wantErr: `both claim schema "mail"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg, err := platform.NewRegistry(tc.fns...)
			require.Error(t, err)
			assert.Nil(t, reg)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func public(fn platform.Function) platform.Function {
	fn.Public = true
	return fn
}

// TestRegistryRoot: one public function may serve the root beside the others' prefixes.
func TestRegistryRoot(t *testing.T) {
	t.Parallel()
	reg, err := platform.NewRegistry(public(newFn("public-portal", "/")), public(newFn("api-gateway", "/api")),
		public(newFn("call-center-portal", "/call-center")))
	require.NoError(t, err)
	assert.Len(t, reg.Functions(), 3)
}

func withSchema(fn platform.Function, m *database.Migrations) platform.Function {
	fn.Migrations = m
	return fn
}

// TestRegistrySharedSchema: two process types of one package share a schema by sharing one
// set of migrations; the registry lists the set once and names one owner of the schema.
func TestRegistrySharedSchema(t *testing.T) {
	t.Parallel()
	mail := &database.Migrations{Schema: "mail", FS: fstest.MapFS{"0001_init.sql": {Data: []byte("SELECT 1")}}}
	other := &database.Migrations{Schema: "other", FS: fstest.MapFS{"0001_init.sql": {Data: []byte("SELECT 1")}}}
	worker, api, gw := withSchema(newFn("mail-worker"), mail), withSchema(newFn("mail-api", "/api/mail"), mail), newFn("gateway")
	solo := withSchema(newFn("other-api", "/api/other"), other)
	reg, err := platform.NewRegistry(worker, api, gw, solo)
	require.NoError(t, err)
	migs := reg.Migrations()
	require.Len(t, migs, 2, "one set per schema")
	assert.Equal(t, "mail", migs[0].Schema)
	assert.Equal(t, "other", migs[1].Schema)
	assert.True(t, reg.SchemaOwner(api), "mail-api comes first by name")
	assert.False(t, reg.SchemaOwner(worker))
	assert.True(t, reg.SchemaOwner(solo))
	assert.True(t, reg.SchemaOwner(gw), "no schema: nothing to share")
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	fleet := database.Migrations{Schema: "fleet", FS: fstest.MapFS{"0001_init.sql": {Data: []byte("SELECT 1")}}}
	booking := database.Migrations{Schema: "booking", FS: fstest.MapFS{"0001_init.sql": {Data: []byte("SELECT 1")}}}

	withMigrations := func(fn platform.Function, m database.Migrations) platform.Function {
		fn.Migrations = &m
		return fn
	}
	reg, err := platform.NewRegistry(
		withMigrations(newFn("zeta-api", "/api/zeta"), fleet),
		newFn("gateway"),
		withMigrations(newFn("alpha-api", "/api/alpha", "/api/alpha-admin"), booking),
		newFn("mid-api", "/api/mid"),
	)
	require.NoError(t, err)

	var names []string
	for _, fn := range reg.Functions() {
		names = append(names, fn.Service)
	}
	assert.Equal(t, []string{"alpha-api", "gateway", "mid-api", "zeta-api"}, names, "ordered by service name")

	migs := reg.Migrations()
	require.Len(t, migs, 2, "only functions with migrations contribute")
	assert.Equal(t, "booking", migs[0].Schema, "ordered by service name: alpha-api first")
	assert.Equal(t, "fleet", migs[1].Schema)

	fn, ok := reg.Lookup("alpha-api")
	require.True(t, ok)
	assert.Equal(t, []string{"/api/alpha", "/api/alpha-admin"}, fn.Prefixes)
	_, ok = reg.Lookup("nope")
	assert.False(t, ok)

	empty, err := platform.NewRegistry()
	require.NoError(t, err)
	assert.Empty(t, empty.Functions())
	assert.Empty(t, empty.Migrations())
}

// constructCfg is a function's configuration for TestConstruct.
type constructCfg struct {
	Limit int `env:"CONSTRUCT_LIMIT, default=3"`
}

func (c *constructCfg) Validate() error {
	if c.Limit < 1 {
		return errors.New("CONSTRUCT_LIMIT must be positive")
	}
	return nil
}

// TestConstruct: a constructor of the one shape, New(ctx, cfg, deps), becomes Function.New
// with its configuration loaded from deps.Env and validated; its error comes back as is, and
// a failed constructor yields no API (not a typed nil in an interface).
func TestConstruct(t *testing.T) {
	t.Parallel()
	var got constructCfg
	var gotDeps platform.Deps
	boom := errors.New("boom")
	newAPI := platform.Construct(func(_ context.Context, cfg constructCfg, deps platform.Deps) (*platform.RouteTable, error) {
		got, gotDeps = cfg, deps
		if cfg.Limit == 7 {
			return nil, boom
		}
		return &platform.RouteTable{}, nil
	})

	api, err := newAPI(context.Background(), platform.Deps{Env: envconfig.MapLookuper(map[string]string{})})
	require.NoError(t, err)
	assert.NotNil(t, api)
	assert.Equal(t, 3, got.Limit, "the default")
	assert.NotNil(t, gotDeps.Env, "deps reach the constructor")

	_, err = newAPI(context.Background(), platform.Deps{Env: envconfig.MapLookuper(map[string]string{"CONSTRUCT_LIMIT": "0"})})
	require.ErrorContains(t, err, "CONSTRUCT_LIMIT must be positive")

	api, err = newAPI(context.Background(), platform.Deps{Env: envconfig.MapLookuper(map[string]string{"CONSTRUCT_LIMIT": "7"})})
	require.ErrorIs(t, err, boom)
	assert.Nil(t, api)
}
