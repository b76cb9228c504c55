// Package platform is the runtime every function of Orange Car Rental stands on: configuration
// from the environment, the HTTP server with graceful drain, health endpoints, structured
// request logging, problem+json errors from one error→status table, strict JSON decoding, the
// function registry and the HTTP transport between functions (in-process or over the network).
//
// Function packages import platform; platform imports no function. Database access lives in
// the database subpackage, the private PostgreSQL cluster in pgcluster and the test harness in
// pgtest.
package platform
