package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrPlantedLink is wrapped when adldapctl would write through a symbolic
// link (or other non-regular file) planted in one of its own folders.
var ErrPlantedLink = errors.New("refusing to follow a link planted in adldapctl's own folder")

// ErrUnsafeDir is wrapped when one of adldapctl's own folders can be
// written by other users (or is not a plain folder).
var ErrUnsafeDir = errors.New("folder is writable by other users")

// OpenOwnFile opens a file adldapctl creates or rewrites in one of its own
// folders (state, cache, staging): it never follows a symbolic link at
// path, and refuses anything but a regular file there. A new file gets
// perm; an existing one keeps its mode unless the caller changes it.
func OpenOwnFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is a %s; remove it and run again", ErrPlantedLink, path, kindOf(fi.Mode()))
	}
	f, err := openNoFollow(path, flag, perm)
	if err != nil {
		if isLoopErr(err) {
			return nil, fmt.Errorf("%w: %s is a symbolic link; remove it and run again", ErrPlantedLink, path)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is a %s; remove it and run again", ErrPlantedLink, path, kindOf(fi.Mode()))
	}
	return f, nil
}

// EnsureOwnDir creates dir (and its parents) with perm when missing, and
// refuses a dir that is a symbolic link, not a folder, or writable by
// group or others. Under elevation on Unix it must belong to root.
func EnsureOwnDir(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is a %s, not a folder; remove it and run again", ErrPlantedLink, dir, kindOf(fi.Mode()))
	}
	return checkOwnDir(dir, fi)
}

func kindOf(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "folder"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeDevice != 0:
		return "device"
	case m&os.ModeSocket != 0:
		return "socket"
	case m.IsRegular():
		return "file"
	}
	return "special file"
}
