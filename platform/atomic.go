package platform

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data: a temp file in the same folder is
// written, synced, given the old file's mode and owner (perm for a new file),
// renamed over path, and the folder is synced. A reader sees the old or the
// new content, never a mix; a crash leaves at most a stray temp file.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mode := perm
	old, statErr := os.Stat(path)
	if statErr == nil {
		mode = old.Mode().Perm()
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			_ = os.Remove(tmp) // best effort: the error being returned says more
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if statErr == nil {
		if err = keepOwner(f, old); err != nil {
			return fmt.Errorf("keep owner of %s: %w", path, err)
		}
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// WriteFileAtomicMode is WriteFileAtomic that also forces perm on an
// existing file (config.json must stay 0600 whatever it was).
func WriteFileAtomicMode(path string, data []byte, perm os.FileMode) error {
	if err := WriteFileAtomic(path, data, perm); err != nil {
		return err
	}
	return os.Chmod(path, perm)
}
