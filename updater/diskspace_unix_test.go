//go:build linux || darwin || freebsd

package updater

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestIsNoSpace(t *testing.T) {
	full := &os.PathError{Op: "write", Path: "/var/cache/adldapctl/x.partial", Err: unix.ENOSPC}
	if !isNoSpace(writeError{full}) || !isNoSpace(&os.PathError{Op: "write", Err: unix.EDQUOT}) {
		t.Error("ENOSPC and EDQUOT are a full disk")
	}
	if isNoSpace(&os.PathError{Op: "write", Err: unix.EIO}) {
		t.Error("EIO is not a full disk")
	}
	if err := noSpaceError("/var/cache/adldapctl", full); !errors.Is(err, ErrNoSpace) {
		t.Errorf("noSpaceError = %v, want ErrNoSpace", err)
	}
}
