//go:build unix

package platform

import (
	"net"
	"syscall"
)

// stopListening makes the kernel refuse new connections to l at once. Closing a Go listener
// is not enough: the descriptor is closed only once the goroutine blocked in Accept has run
// again, and on a busy machine that takes milliseconds — during which http.Server.Shutdown
// already answers in-flight requests with "Connection: close", their clients dial again, the
// kernel completes those handshakes into the accept queue, and the late close resets them
// (a fresh connection's reset is not retried by a client: a lost request). shutdown(2) on a
// listening socket stops it synchronously on Linux; elsewhere it may fail, and the close
// that follows is all there is.
func stopListening(l net.Listener) {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_RD) })
}
