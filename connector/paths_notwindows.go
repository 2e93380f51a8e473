//go:build !windows

package connector

// hostWindows selects the Windows path rules for Layout.OS "".
const hostWindows = false
