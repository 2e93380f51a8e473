package updater

import (
	"fmt"
	"io"
	"os"

	"github.com/adldapctl/adldapctl/platform"
)

// refuseNonRegular fails, wrapping platform.ErrPlantedLink, when path
// exists and is not a regular file: a symbolic link (or anything else)
// planted where adldapctl keeps one of its own files. A missing path is
// fine.
func refuseNonRegular(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().IsRegular() {
		return nil
	}
	kind := "special file"
	switch m := fi.Mode(); {
	case m&os.ModeSymlink != 0:
		kind = "symbolic link"
	case m.IsDir():
		kind = "folder"
	}
	return fmt.Errorf("%w: %s is a %s; remove it and run again", platform.ErrPlantedLink, path, kind)
}

// writeOwnFile atomically replaces one of adldapctl's own small files
// (a download's sidecar, the mirror counters) with data, mode 0600. A
// link planted at path is refused, not replaced.
func writeOwnFile(path string, data []byte) error {
	if err := refuseNonRegular(path); err != nil {
		return err
	}
	return platform.WriteFileAtomicMode(path, data, 0o600)
}

// readOwnFile reads one of adldapctl's own small files, at most max
// bytes, without following a link planted at path.
func readOwnFile(path string, max int64) ([]byte, error) {
	f, err := platform.OpenOwnFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %s: %w", path, formatBytes(max), errMirrorTooLarge)
	}
	return data, nil
}
