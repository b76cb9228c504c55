package platform

import "net"

// StatusByKind exposes the error→status table to the external tests, so they can check that
// every Kind constant has a row.
var StatusByKind = statusByKind

// ListenerOf is s's listener, for tests that hold its descriptor the way a not yet woken
// Accept does.
func ListenerOf(s *Server) net.Listener { return s.listener }
