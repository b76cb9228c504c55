package publicportal

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestMessagesInBothLanguages holds German and English to the same keys.
func TestMessagesInBothLanguages(t *testing.T) {
	assert.Empty(t, messages.Missing())
}

// TestMoney prints amounts as German and English readers write them.
func TestMoney(t *testing.T) {
	for _, tc := range []struct {
		lang  string
		cents int64
		want  string
	}{
		{"de", 123456, "1.234,56\u00a0€"}, {"en", 123456, "€1,234.56"}, {"de", 5, "0,05\u00a0€"}, {"en", -1999, "-€19.99"}, {"en", 100000000, "€1,000,000.00"},
	} {
		assert.Equal(t, tc.want, money(tc.lang, tc.cents), "%s %d", tc.lang, tc.cents)
	}
}

// TestParseEuros reads what people type as a price.
func TestParseEuros(t *testing.T) {
	for in, want := range map[string]int64{"45": 4500, "45,5": 4550, "45.50": 4550, "60 €": 6000, "0,99": 99} {
		got, ok := parseEuros(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "abc", "1.234,5", "4.555", "-5", "12345678", ","} {
		_, ok := parseEuros(in)
		assert.False(t, ok, in)
	}
}
