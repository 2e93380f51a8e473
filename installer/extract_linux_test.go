package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/adldapctl/adldapctl/updater"
)

func init() {
	fileID = func(fi os.FileInfo) ([2]uint64, uint64, bool) {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return [2]uint64{}, 0, false
		}
		return [2]uint64{uint64(st.Dev), st.Ino}, uint64(st.Nlink), true
	}
}

// smallTmpfs mounts a tmpfs with opts on a fresh directory for the test.
// Where mounting is impossible (not root, no CAP_SYS_ADMIN) the test is
// skipped, except in CI, where it fails.
func smallTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs (%s): %v", opts, err)
		}
		t.Skipf("mount tmpfs (%s): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestExtractFreeSpaceOnSmallDisk: the real free-space check refuses an
// archive larger than the file system before anything is written.
func TestExtractFreeSpaceOnSmallDisk(t *testing.T) {
	fs := smallTmpfs(t, "size=1m")
	archive := writeArchive(t, buildTarGz(t, true, dir(top), file(top+"big.bin", strings.Repeat("x", 2<<20))))
	dest := filepath.Join(fs, "staging")
	err := ExtractTarGz(archive, dest, 1)
	if !errors.Is(err, updater.ErrNoSpace) || errors.Is(err, ErrUnsafeArchive) {
		t.Fatalf("err = %v, want ErrNoSpace, not ErrUnsafeArchive", err)
	}
	if !strings.Contains(err.Error(), "not enough space in "+fs) {
		t.Errorf("err = %q, want it to name %s", err, fs)
	}
	t.Log(err)
	assertEmptyDir(t, fs)
}

// TestExtractDiskFillsDuringStaging: when the disk fills anyway (the
// check passed, someone else took the space), the error is a full disk,
// not an unsafe archive, and the staging folder is gone.
func TestExtractDiskFillsDuringStaging(t *testing.T) {
	big := file(top+"node_modules/big.bin", strings.Repeat("0123456789abcdef", 128<<10)) // 2 MiB
	var many []tarEntry
	for i := range 200 {
		many = append(many, file(fmt.Sprintf("%snode_modules/m%03d.js", top, i), "x"))
	}
	tests := []struct {
		name    string
		opts    string
		entries []tarEntry
	}{
		{"bytes", "size=1m", []tarEntry{dir(top), file(top+"package.json", "{}"), big}},
		{"inodes", "size=16m,nr_inodes=64", append([]tarEntry{dir(top)}, many...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := smallTmpfs(t, tt.opts)
			archive := writeArchive(t, buildTarGz(t, true, tt.entries...))
			for _, existing := range []bool{false, true} {
				dest := filepath.Join(fs, "staging")
				if existing {
					if err := os.Mkdir(dest, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				err := extractTarGz(archive, dest, 1, DefaultArchiveLimits, noCheck)
				if !errors.Is(err, updater.ErrNoSpace) || errors.Is(err, ErrUnsafeArchive) || !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("existing=%v: err = %v, want ErrNoSpace (ENOSPC), not ErrUnsafeArchive", existing, err)
				}
				if !strings.Contains(err.Error(), dest) || !strings.Contains(err.Error(), "free some space") {
					t.Errorf("err = %q, want it to name %s and the fix", err, dest)
				}
				if existing {
					assertEmptyDir(t, dest)
					os.Remove(dest)
				}
				assertEmptyDir(t, fs)
				if testing.Verbose() {
					t.Log(err)
				}
			}
		})
	}
}
