package postinstall

import (
	"errors"
	"syscall"

	"golang.org/x/sys/windows"
)

// isConnRefused reports a TCP connection the peer refused: Winsock's
// WSAECONNREFUSED, which syscall.ECONNREFUSED does not match on Windows.
func isConnRefused(err error) bool {
	return errors.Is(err, windows.WSAECONNREFUSED) || errors.Is(err, syscall.ECONNREFUSED)
}
