package installer

import (
	"errors"
	"os"
	"path/filepath"
)

// osRemoveAll is os.RemoveAll (a variable so tests can make it fail).
var osRemoveAll = os.RemoveAll

// removeTree removes path and everything under it, like os.RemoveAll.
// When os.RemoveAll fails it removes entry by entry, by path, children
// first: Go's Windows RemoveAll deletes through handles relative to the
// folder, which Wine 8 refuses on a non-empty folder ("Invalid function",
// seen), while DeleteFile and RemoveDirectory by path work there and on
// Windows. Links are removed, never followed.
func removeTree(path string) error {
	err := osRemoveAll(path)
	if err == nil {
		return nil
	}
	if werr := removeWalk(path); werr != nil {
		return errors.Join(err, werr)
	}
	return nil
}

func removeWalk(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := removeWalk(filepath.Join(path, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
