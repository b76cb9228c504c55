//go:build !unix

package platform

import "net"

// stopListening is listen_unix.go's, where the platform has no shutdown(2) for a listener:
// the listener's close is all there is.
func stopListening(net.Listener) {}
