//go:build windows

package platform

import "golang.org/x/sys/windows"

// isElevated reports whether the process token is elevated (an
// administrator past UAC). A variable so tests can play a standard user.
var isElevated = func() bool { return windows.GetCurrentProcessToken().IsElevated() }

// OwnByAdmin is a no-op on Windows: the install folder's ACL (SYSTEM and
// Administrators) is inherited.
func OwnByAdmin(string) error { return nil }
