package updater

import (
	"errors"
	"fmt"
)

// ErrNoSpace is wrapped by the error CheckFreeSpace (and so Fetch) returns
// when a directory's file system has too little room, and by a download
// that hit a full disk.
var ErrNoSpace = errors.New("not enough disk space")

// CheckFreeSpace reports whether the file system holding dir (which must
// exist) has at least need bytes available to this user. When it has not,
// the error wraps ErrNoSpace and says how much is needed and free; when the
// free space cannot be determined, the error does not wrap ErrNoSpace
// (callers may go on and let the write fail).
func CheckFreeSpace(dir string, need int64) error {
	if need <= 0 {
		return nil
	}
	have, err := freeBytes(dir)
	if err != nil {
		return fmt.Errorf("free space in %s: %w", dir, err)
	}
	if have < need {
		return fmt.Errorf("%w: not enough space in %s: need %s, have %s; free some space there or use a directory on a larger file system",
			ErrNoSpace, dir, formatBytes(need), formatBytes(have))
	}
	return nil
}

// noSpaceError explains a write that failed because the disk is full.
func noSpaceError(dir string, err error) error {
	return fmt.Errorf("%w: writing to %s: %v; free some space there and try again", ErrNoSpace, dir, err)
}
