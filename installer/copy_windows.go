//go:build windows

package installer

import "os"

// copyOwner: files inherit the install folder's ACL on Windows.
func copyOwner(string, os.FileInfo) error { return nil }
