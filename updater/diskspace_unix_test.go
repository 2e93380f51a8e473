//go:build linux || darwin || freebsd

package updater

import (
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
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

// A full disk leaves nothing behind, not even a resumable partial.
func TestFetchFullDiskKeepsNothing(t *testing.T) {
	srv, _ := endlessServer(t, 300_000)
	dir := t.TempDir()
	var written atomic.Int64
	full := func(w io.Writer) io.Writer {
		return writerFunc(func(p []byte) (int, error) {
			if room := 100_000 - written.Load(); int64(len(p)) > room {
				n, _ := w.Write(p[:room])
				written.Add(int64(n))
				return n, writeError{&os.PathError{Op: "write", Path: "x.msi.partial", Err: unix.ENOSPC}}
			}
			n, err := w.Write(p)
			written.Add(int64(n))
			return n, err
		})
	}
	_, err := (&Downloader{wrapWriter: full, Retry: noWait(nil)}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: srv.URL + "/x"}, dir, VerifyOptions{})
	if !errors.Is(err, ErrNoSpace) || errors.Is(err, ErrVerification) {
		t.Fatalf("err = %v, want ErrNoSpace", err)
	}
	assertEmpty(t, dir)
}
