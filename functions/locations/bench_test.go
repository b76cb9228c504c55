package locations_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/orangecarrental/orange/functions/locations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
)

// BenchmarkGetByCode compares a GET by id through the whole function stack (request log,
// token check, router, access check, store, JSON) with a bare net/http handler doing the one
// SELECT by primary key, both over loopback HTTP against the same database in the same run.
// design.md §8's target: the full stack reaches at least half the bare rate, i.e. its ns/op
// is at most twice the bare one.
func BenchmarkGetByCode(b *testing.B) {
	db := pg.NewDB(b, locations.Migrations)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var name, city string
		if err := db.Pool.QueryRow(r.Context(), `SELECT name, city FROM locations.locations WHERE code = $1`, "BER-HBF").Scan(&name, &city); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"code": "BER-HBF", "name": name, "city": city})
	})
	id := authtest.New(b)
	svc, err := locations.New(context.Background(), locations.Config{}, platform.Deps{DB: db})
	if err != nil {
		b.Fatal(err)
	}
	full := platform.Observe(platform.NewLogger(io.Discard, "info", locations.ServiceName),
		platform.Handler(svc, id.Verifier))

	for _, tc := range []struct {
		name    string
		handler http.Handler
		path    string
	}{
		{"bare-select", bare, "/"},
		{"locations-api", full, "/api/locations/BER-HBF"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(srv.URL + tc.path)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
