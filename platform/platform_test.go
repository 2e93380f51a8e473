//go:build linux

package platform

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDetectPerDistro(t *testing.T) {
	cases := []struct {
		osRelease, family, anchors, trustCmd string
	}{
		{"ID=debian\nVERSION_ID=\"12\"\n", "debian", "/usr/local/share/ca-certificates", "update-ca-certificates"},
		{"ID=ubuntu\nID_LIKE=debian\n", "debian", "/usr/local/share/ca-certificates", "update-ca-certificates"},
		{"ID=\"rhel\"\nID_LIKE=\"fedora\"\n", "rhel", "/etc/pki/ca-trust/source/anchors", "update-ca-trust extract"},
		{"ID=rocky\nID_LIKE=\"rhel centos fedora\"\n", "rhel", "/etc/pki/ca-trust/source/anchors", "update-ca-trust extract"},
		{"ID=almalinux\n", "rhel", "/etc/pki/ca-trust/source/anchors", "update-ca-trust extract"},
		{"ID=fedora\n", "rhel", "/etc/pki/ca-trust/source/anchors", "update-ca-trust extract"},
		{"ID=\"sles\"\nID_LIKE=\"suse\"\n", "suse", "/etc/pki/trust/anchors", "update-ca-certificates"},
		{"ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n", "suse", "/etc/pki/trust/anchors", "update-ca-certificates"},
		{"ID=alpine\n", "alpine", "/usr/local/share/ca-certificates", "update-ca-certificates"},
		{"ID=someos\nID_LIKE=\"ubuntu debian\"\n", "debian", "/usr/local/share/ca-certificates", "update-ca-certificates"},
	}
	for _, c := range cases {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/os-release"), []byte(c.osRelease), 0o644)
		p, err := DetectWith(DetectOptions{Root: root, GOOS: "linux", LookPath: func(string) (string, error) { return "/usr/bin/node", nil }})
		if err != nil {
			t.Fatal(err)
		}
		if p.Family != c.family {
			t.Errorf("%q: family %q, want %q", c.osRelease, p.Family, c.family)
		}
		if want := filepath.Join(root, c.anchors); p.Paths.TrustAnchors != want {
			t.Errorf("%q: anchors %s, want %s", c.osRelease, p.Paths.TrustAnchors, want)
		}
		if got := strings.Join(p.TrustUpdateCommand(), " "); got != c.trustCmd {
			t.Errorf("%q: trust command %q, want %q", c.osRelease, got, c.trustCmd)
		}
		if p.Paths.InstallDir != filepath.Join(root, "opt/auth0-adldap") ||
			p.Paths.ConfigFile != filepath.Join(root, "opt/auth0-adldap/config.json") ||
			p.Paths.LogFile != filepath.Join(root, "var/log/auth0-adldap.log") ||
			p.Paths.UnitFile != filepath.Join(root, "etc/systemd/system/auth0-adldap.service") {
			t.Errorf("paths not under root: %+v", p.Paths)
		}
		if p.Init != "none" || !p.Sandboxed() {
			t.Errorf("--root must not drive a host init system: %q", p.Init)
		}
	}
}

func TestDetectWindowsPathsUnderRoot(t *testing.T) {
	root := t.TempDir()
	p, err := DetectWith(DetectOptions{Root: root, GOOS: "windows"})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, "Program Files (x86)", "Auth0", "AD LDAP Connector")
	if p.Paths.InstallDir != want || p.Paths.LogFile != filepath.Join(want, "logs.log") {
		t.Errorf("windows paths: %+v", p.Paths)
	}
}

func TestParseOSReleaseQuoting(t *testing.T) {
	m := ParseOSRelease([]byte("# comment\nNAME=\"Debian GNU/Linux\"\nPRETTY_NAME='x y'\nID=debian\n\nBAD\n"))
	if m["NAME"] != "Debian GNU/Linux" || m["PRETTY_NAME"] != "x y" || m["ID"] != "debian" {
		t.Errorf("%v", m)
	}
}

func TestWriteFileAtomicKeepsMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.json")
	os.WriteFile(p, []byte("old"), 0o640)
	if err := WriteFileAtomic(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	b, _ := os.ReadFile(p)
	if string(b) != "new" || fi.Mode().Perm() != 0o640 {
		t.Errorf("content %q mode %v, want new 0640", b, fi.Mode().Perm())
	}
	if err := WriteFileAtomicMode(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	m, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(m) > 0 {
		t.Errorf("temp files left: %v", m)
	}
}

func TestLockNamesHolderPid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	// Hold the lock from another process (flock is per open file).
	cmd := exec.Command("flock", "--exclusive", path, "sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Skip("flock(1) not available")
	}
	stop := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }
	defer stop()
	var err error
	for i := 0; i < 100; i++ { // wait until flock(1) holds it
		var l *FileLock
		if l, err = Lock(path); err == nil {
			l.Unlock()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		break
	}
	os.WriteFile(path, []byte("4242\n"), 0o644)
	_, err = Lock(path)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid 4242") {
		t.Fatalf("second lock: %v", err)
	}
	stop()
	var l *FileLock
	for i := 0; i < 100; i++ { // the killed sleep(1) may take a moment to close its fd
		if l, err = Lock(path); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("lock after holder exit: %v", err)
	}
	b, _ := os.ReadFile(path)
	if strings.TrimSpace(string(b)) != itoa(os.Getpid()) {
		t.Errorf("lock file says %q", b)
	}
	l.Unlock()
}

func itoa(i int) string { return strconv.Itoa(i) }
