package platform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestTrustLayoutPerFamily(t *testing.T) {
	for _, tc := range []struct{ osRelease, dir, update, bundle string }{
		{"ID=debian\n", "/usr/local/share/ca-certificates", "update-ca-certificates", "/etc/ssl/certs/ca-certificates.crt"},
		{"ID=ubuntu\nID_LIKE=debian\n", "/usr/local/share/ca-certificates", "update-ca-certificates", "/etc/ssl/certs/ca-certificates.crt"},
		{"ID=\"rhel\"\n", "/etc/pki/ca-trust/source/anchors", "update-ca-trust extract", "/etc/pki/tls/certs/ca-bundle.crt"},
		{"ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\n", "/etc/pki/ca-trust/source/anchors", "update-ca-trust extract", "/etc/pki/tls/certs/ca-bundle.crt"},
		{"ID=\"sles\"\nID_LIKE=\"suse\"\n", "/etc/pki/trust/anchors", "update-ca-certificates", "/var/lib/ca-certificates/ca-bundle.pem"},
		{"ID=weird\n", "/usr/local/share/ca-certificates", "update-ca-certificates", "/etc/ssl/certs/ca-certificates.crt"},
	} {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc/os-release"), []byte(tc.osRelease), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := DetectWith(DetectOptions{Root: root, GOOS: "linux"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := p.TrustStore()
		if err != nil {
			t.Fatal(err)
		}
		if s.Dir() != filepath.Join(root, tc.dir) || p.Paths.TrustAnchors != s.Dir() {
			t.Errorf("%q: dir %s (paths %s), want %s", tc.osRelease, s.Dir(), p.Paths.TrustAnchors, tc.dir)
		}
		if got := strings.Join(s.Update, " "); got != tc.update || strings.Join(p.TrustUpdateCommand(), " ") != got {
			t.Errorf("%q: update %q, want %q", tc.osRelease, got, tc.update)
		}
		if s.Bundles[0] != tc.bundle || s.Ext != ".crt" {
			t.Errorf("%q: bundle %s ext %s", tc.osRelease, s.Bundles[0], s.Ext)
		}
		// Under --root nothing runs.
		if ran, err := s.RunUpdate(context.Background()); ran || err != nil {
			t.Errorf("--root ran the update: %v %v", ran, err)
		}
	}
	if _, err := (&Platform{OS: "windows"}).TrustStore(); !errors.Is(err, ErrNotSupported) {
		t.Errorf("windows: %v", err)
	}
}

func TestPutFileIdempotentNoFollow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "anchors")
	changed, err := PutFile(dir, "a.crt", []byte("one"))
	if err != nil || !changed {
		t.Fatalf("first: %v %v", changed, err)
	}
	if changed, err = PutFile(dir, "a.crt", []byte("one")); err != nil || changed {
		t.Fatalf("second: %v %v", changed, err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "a.crt"))
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "b.crt")); err != nil {
		t.Fatal(err)
	}
	if _, err := PutFile(dir, "b.crt", []byte("x")); !errors.Is(err, ErrPlantedLink) {
		t.Fatalf("link: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatal("followed the link")
	}
	if removed, err := RemoveFile(dir, "b.crt"); err != nil || !removed {
		t.Fatalf("remove link: %v %v", removed, err)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatal("removed the link's target")
	}
	if removed, err := RemoveFile(dir, "missing.crt"); err != nil || removed {
		t.Fatalf("remove missing: %v %v", removed, err)
	}
}

func TestRunUpdateReportsFailure(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the trust store update command is Linux's")
	}
	s := &TrustStore{TrustLayout: TrustLayout{Update: []string{"sh", "-c", "echo 'cannot rebuild bundle' >&2; exit 3"}}, p: &Platform{OS: "linux"}}
	ran, err := s.RunUpdate(context.Background())
	if !ran || !errors.Is(err, ErrTrustUpdate) || !strings.Contains(err.Error(), "cannot rebuild bundle") {
		t.Fatalf("ran %v err %v", ran, err)
	}
	s.Update = []string{"adldapctl-no-such-update-command"}
	if _, err := s.RunUpdate(context.Background()); !errors.Is(err, ErrTrustUpdate) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing command: %v", err)
	}
	s.Update = []string{"true"}
	if ran, err := s.RunUpdate(context.Background()); !ran || err != nil {
		t.Fatalf("true: %v %v", ran, err)
	}
}
