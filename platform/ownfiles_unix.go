//go:build !windows

package platform

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOFOLLOW, perm)
}

func isLoopErr(err error) bool { return errors.Is(err, syscall.ELOOP) }

func checkOwnDir(dir string, fi os.FileInfo) error {
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; run chmod go-w %s (and check who made it so)", ErrUnsafeDir, dir, fi.Mode().Perm(), dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && st.Uid != 0 {
		return fmt.Errorf("%w: %s belongs to uid %d, not root; run chown root: %s (and check who made it so)", ErrUnsafeDir, dir, st.Uid, dir)
	}
	return nil
}
