package customers_test

import "testing"

// A database clone per test is the slowest part of this package's tests, so tests that
// cannot disturb one another share one. Each group says why its members cannot.

// TestWithoutWriting runs the tests that change nothing: reads, refused requests (whose
// table proves by snapshot that nothing changed) and statements the schema rejects.
func TestWithoutWriting(t *testing.T) {
	t.Parallel()
	runShared(t, map[string]func(*testing.T, *api){
		"SeedCustomers":                      testSeedCustomers,
		"CustomersSeeOnlyTheirOwnRecord":     testCustomersSeeOnlyTheirOwnRecord,
		"SchemaRefusesWhatValidationRefuses": testSchemaRefusesWhatValidationRefuses,
		"RejectedRequestsWriteNothing":       testRejectedRequestsWriteNothing,
		"OpenAPICoversEveryRoute":            testOpenAPICoversEveryRoute,
	})
}

// TestDisjointWrites runs tests that write, each to records no other member reads: new
// customers with their own addresses, Paul's erasure, Alice's and Mia's licences.
func TestDisjointWrites(t *testing.T) {
	t.Parallel()
	runShared(t, map[string]func(*testing.T, *api){
		"EligibilityRules":                 testEligibilityRules,
		"RegisterThenGet":                  testRegisterThenGet,
		"ErasureKeepsWhatBookkeepingNeeds": testErasureKeepsWhatBookkeepingNeeds,
		"UpdateLicence":                    testUpdateLicence,
	})
}

func runShared(t *testing.T, tests map[string]func(*testing.T, *api)) {
	shared := newAPI(t)
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, shared.as(t))
		})
	}
}
