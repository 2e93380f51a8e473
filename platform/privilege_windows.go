//go:build windows

package platform

import "golang.org/x/sys/windows"

func isElevated() bool { return windows.GetCurrentProcessToken().IsElevated() }
