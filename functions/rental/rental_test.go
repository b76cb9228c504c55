package rental_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orangecarrental/orange/functions/rental"
)

// TestCategoriesAreTheDesigns holds the list to design.md §4 ("category (KLEIN, KOMPAKT,
// MITTEL, OBER, SUV, KOMBI, TRANS, LUXUS)"), in that order: pricing's catalogue shows it.
func TestCategoriesAreTheDesigns(t *testing.T) {
	t.Parallel()
	want := []string{"KLEIN", "KOMPAKT", "MITTEL", "OBER", "SUV", "KOMBI", "TRANS", "LUXUS"}
	assert.Equal(t, want, rental.Categories())
	assert.Equal(t, "KLEIN, KOMPAKT, MITTEL, OBER, SUV, KOMBI, TRANS, LUXUS", rental.CategoryList())
	for _, c := range want {
		assert.True(t, rental.ValidCategory(c), c)
	}
	for _, c := range []string{"", "klein", "Kompakt", " SUV", "VAN", "LUXUS "} {
		assert.False(t, rental.ValidCategory(c), "%q", c)
	}

	got := rental.Categories()
	got[0] = "CHANGED"
	assert.Equal(t, "KLEIN", rental.Categories()[0], "Categories hands out a copy")
}

func TestValidBranchCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"BER-HBF", true},
		{"MUC-FLG", true},
		{"HAM-AB", true},
		{"FRA-T1T2", true},
		{"LEJ-2", false},
		{"LEJ-HBF12", false},
		{"ber-hbf", false},
		{"BERHBF", false},
		{"BE-HBF", false},
		{" BER-HBF", false},
		{"BER-HBF\n", false},
		{"", false},
	} {
		assert.Equal(t, tc.want, rental.ValidBranchCode(tc.code), "%q", tc.code)
	}
}
