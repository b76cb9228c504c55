// Package rental holds the rental vocabulary every function checks input against: the vehicle
// categories and the shape of a branch code. It imports nothing of the project, so any
// function (and any contract package) may use it without a cycle.
package rental

import (
	"regexp"
	"slices"
	"strings"
)

// categories are the vehicle categories of the original system, smallest first
// (design.md §4).
var categories = []string{"KLEIN", "KOMPAKT", "MITTEL", "OBER", "SUV", "KOMBI", "TRANS", "LUXUS"}

// Categories returns the vehicle categories, smallest first; the slice is the caller's own.
func Categories() []string { return slices.Clone(categories) }

// ValidCategory reports whether c is a vehicle category (in canonical upper case).
func ValidCategory[S ~string](c S) bool { return slices.Contains(categories, string(c)) }

// CategoryList is the categories as a message names them: "KLEIN, KOMPAKT, …".
func CategoryList() string { return strings.Join(categories, ", ") }

// branchCode is a branch code such as BER-HBF: three letters, a dash, two to four letters or
// digits.
var branchCode = regexp.MustCompile(`^[A-Z]{3}-[A-Z0-9]{2,4}$`)

// ValidBranchCode reports whether code has the shape of a branch code such as BER-HBF (in
// canonical upper case). Whether the branch exists is the locations function's business.
func ValidBranchCode(code string) bool { return branchCode.MatchString(code) }
