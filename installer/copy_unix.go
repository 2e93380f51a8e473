//go:build !windows

package installer

import (
	"os"
	"syscall"
)

func copyOwner(dst string, fi os.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		os.Lchown(dst, int(st.Uid), int(st.Gid))
	}
}
