//go:build !linux

package updater

import "os"

// startWriteback does nothing where there is no cheap way to start
// write-back without waiting for it; the Sync before the rename does it all.
func startWriteback(*os.File) {}
