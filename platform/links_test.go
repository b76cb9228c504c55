package platform_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orangecarrental/orange/platform"
)

func TestHasLink(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		"confirm at https://evil.example/pay":                        true,
		"see WWW.evil.example":                                       true,
		"Please confirm your card at evil-orange-rental.com/confirm": true,
		"Confirm it at orange-rental-verify.com/card within 24 h":    true,
		"go to orange-verify.de.":                                    true,
		"orange-verify.de":                                           true,
		"mail ftp://files.example":                                   true,
		"Car damaged, customer called":                               false,
		"Awww... sorry!":                                             false,
		"z.B. morgen, ca. 5 km, e.g. tomorrow":                       false,
		"costs 3.50 € more":                                          false,
		"write to service@orange.example":                            false,
		"Mr.Smith called":                                            false,
		"Fahrzeug defekt. Kunde informiert.":                         false,
		"Nr. 12, St. Pauli":                                          false,
	} {
		assert.Equal(t, want, platform.HasLink(text), text)
	}
}
