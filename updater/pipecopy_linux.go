package updater

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback starts writing f's dirty pages to disk without waiting
// for them (sync_file_range SYNC_FILE_RANGE_WRITE, whole file: pages
// already on their way are skipped). It is a hint: errors are ignored and
// the Sync before the rename is what makes the bytes durable.
func startWriteback(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WRITE) // a hint
		})
	}
}
