package syncworker

// Backoff exposes the retry wait to the tests.
var Backoff = backoff
