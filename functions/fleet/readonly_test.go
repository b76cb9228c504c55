package fleet_test

import (
	"testing"

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/platform/database"
)

// TestAgainstTheDemoFleet runs the tests that only read the demo fleet over one shared
// database (each with its own service and pricing fake): cloning a database costs more than
// most of these tests. A test that writes gets a database of its own.
func TestAgainstTheDemoFleet(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t, fleet.Migrations)
	tests := []struct {
		name string
		run  func(*testing.T, *database.DB)
	}{
		{"DemoFleet", testDemoFleet},
		{"Get", testGet},
		{"Inventory", testInventory},
		{"SearchOffersFreeCarsWithPrices", testSearchOffersFreeCarsWithPrices},
		{"SearchFiltersSortsAndPages", testSearchFiltersSortsAndPages},
		{"SearchCarriesPricingsDiscount", testSearchCarriesPricingsDiscount},
		{"SearchRejectsBadQueries", testSearchRejectsBadQueries},
		{"SearchWhenPricingFails", testSearchWhenPricingFails},
		{"SearchPricesAtMostMaxCandidates", testSearchPricesAtMostMaxCandidates},
		{"OpenAPICoversEveryRoute", testOpenAPICoversEveryRoute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, db)
		})
	}
}
