//go:build windows

package platform

import "os"

// keepOwner: on Windows a new file inherits the folder's ACL, which is what
// the connector's folder grants; nothing to copy.
func keepOwner(*os.File, os.FileInfo) error { return nil }

// SyncDir is a no-op on Windows: NTFS renames are journaled and folders
// cannot be opened for sync.
func SyncDir(string) error { return nil }
