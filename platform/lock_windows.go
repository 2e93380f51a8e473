//go:build windows

package platform

import (
	"os"

	"golang.org/x/sys/windows"
)

func tryLock(f *os.File) error {
	ol := new(windows.Overlapped)
	// Lock a byte far past the pid text so the holder can still rewrite it.
	ol.Offset = 0xFFFFFFF0
	return windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
}

func unlock(f *os.File) error {
	ol := new(windows.Overlapped)
	ol.Offset = 0xFFFFFFF0
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, ol)
}
