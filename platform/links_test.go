package platform_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orangecarrental/orange/platform"
)

func TestHasLink(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		"confirm at https://evil.example/pay":                         true,
		"see WWW.evil.example":                                        true,
		"Please confirm your card at evil-orange-rental.com/confirm":  true,
		"Confirm it at orange-rental-verify.com/card within 24 h":     true,
		"Confirm it at ORANGE-RENTAL-VERIFY.COM/card within 24 hours": true,
		"Confirm it at Orange-Rental-Verify.com/card":                 true,
		"Confirm it at -orange-rental-verify.com/card":                true,
		"Confirm at...orange-rental-verify.com/card":                  true,
		"Confirm your card at orange-rental-verify.com...":            true,
		"go to orange-verify.de.":                                     true,
		"orange-verify.de":                                            true,
		"visit _evil.com/x":                                           true,
		"pay at 192.168.1.1/pay":                                      true,
		"mail ftp://files.example":                                    true,
		"Car damaged, customer called":                                false,
		"Awww... sorry!":                                              false,
		"z.B. morgen, ca. 5 km, e.g. tomorrow":                        false,
		"costs 3.50 € more":                                           false,
		"write to service@orange.example":                             false,
		"Bitte schreiben Sie an info@autohaus-müller.de":              false,
		"Bitte Unterlagen usw. etc.pp. mitbringen":                    false,
		"Please see attached invoice.pdf":                             false,
		"Termin geändert.neuer Termin folgt":                          false,
		"Plans changed.sorry":                                         false,
		"Kunde krank.ist im Krankenhaus":                              false,
		"d.h.nie wieder":                                              false,
		"Mr.Smith called":                                             false,
		"Fahrzeug defekt. Kunde informiert.":                          false,
		"Nr. 12, St. Pauli":                                           false,
		"version 1.2.3.4 of the app":                                  false,
	} {
		assert.Equal(t, want, platform.HasLink(text), text)
	}
}
