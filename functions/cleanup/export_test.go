package cleanup

import "time"

// SetClock makes s read the time from now (the retentions' cutoffs).
func SetClock(s *Service, now func() time.Time) { s.now = now }
