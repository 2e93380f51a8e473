//go:build windows

package platform

import (
	"fmt"
	"os"
)

// openNoFollow: Windows has no O_NOFOLLOW; OpenOwnFile's Lstat check
// refuses a reparse point (symbolic link, junction) before opening.
func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&(os.ModeSymlink|os.ModeIrregular) != 0 {
		return nil, fmt.Errorf("%w: %s is a link; remove it and run again", ErrPlantedLink, path)
	}
	return os.OpenFile(path, flag, perm)
}

func isLoopErr(error) bool { return false }

// checkOwnDir: folders under %ProgramData%\adldapctl inherit its ACL.
func checkOwnDir(string, os.FileInfo) error { return nil }
