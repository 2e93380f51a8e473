//go:build !windows

package installer

import (
	"os"
	"syscall"
)

func copyOwner(dst string, fi os.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		return os.Lchown(dst, int(st.Uid), int(st.Gid))
	}
	return nil
}
