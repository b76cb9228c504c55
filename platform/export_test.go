package platform

// StatusByKind exposes the error→status table to the external tests, so they can check that
// every Kind constant has a row.
var StatusByKind = statusByKind
