package reservations

import "time"

// SetClock makes s read the time from now (activation day, no-show, late fees, validation).
func SetClock(s *Service, now func() time.Time) { s.now = now }
