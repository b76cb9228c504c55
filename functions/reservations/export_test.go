package reservations

import "time"

// SetClock makes s read the time from now (activation day, no-show, late fees, validation).
func SetClock(s *Service, now func() time.Time) { s.now = now }

// ExpireBranches makes s read every branch from locations-api again (as once
// RESERVATION_BRANCH_TTL has passed).
func ExpireBranches(s *Service) { s.branches.Forget() }

// SetLinkKey gives s the key that signs guest links.
func SetLinkKey(s *Service, key string) { s.linkKey = linkKey(key) }

// SignLink signs a guest link of reservation id valid until expires, as GuestLink does.
func SignLink(key, id string, expires time.Time) string { return signLink(linkKey(key), id, expires) }
