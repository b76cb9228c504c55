package reports

import "time"

// SetClock makes s read the time from now (events without a time attribute).
func SetClock(s *Service, now func() time.Time) { s.now = now }

// Negotiate is negotiate.
var Negotiate = negotiate
