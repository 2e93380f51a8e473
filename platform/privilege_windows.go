//go:build windows

package platform

import "golang.org/x/sys/windows"

func isElevated() bool { return windows.GetCurrentProcessToken().IsElevated() }

// OwnByAdmin is a no-op on Windows: the install folder's ACL (SYSTEM and
// Administrators) is inherited.
func OwnByAdmin(string) error { return nil }
