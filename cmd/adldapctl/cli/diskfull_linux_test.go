//go:build linux

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// TestInstallOnAFullDiskChangesNothing installs into a --root on a small
// tmpfs: adldapctl must stop before staging with a clear error.
func TestInstallOnAFullDiskChangesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to mount a small tmpfs")
		}
		t.Skip("needs root to mount a small tmpfs")
	}
	root := filepath.Join(t.TempDir(), "small")
	os.MkdirAll(root, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", root).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", root).Run() })
	feed := startFeed(t, testfeed.ReleaseSpec{Version: "6.4.1"})
	r := run(t, "--root", root, "--feed", feed.URL, "install", "--ticket", ticket)
	if r.code != 1 || !strings.Contains(r.stderr, "not enough space") {
		t.Fatalf("exit %d, want 1 with a disk space error\n%s", r.code, r.stderr)
	}
	assertNothingInstalled(t, root)
}
