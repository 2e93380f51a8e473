package release

import (
	"archive/zip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"aead.dev/minisign"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/updater"
)

// testRelease is one release built for the host's Linux arch and
// windows/amd64 with a throwaway key, shared by the tests below.
type testRelease struct {
	dir  string
	pub  minisign.PublicKey
	res  *Result
	cert testCert // the throwaway Authenticode CA and signer
	err  error
}

var (
	relOnce sync.Once
	rel     testRelease
)

const testVersion = "9.8.7"

func buildTestRelease(t *testing.T) testRelease {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the release is built on Linux")
	}
	for _, tool := range []string{"wixl", "msibuild", "osslsigncode"} {
		if _, err := exec.LookPath(tool); err != nil {
			testbed.Missing(t, tool+" (scripts/deps.sh installs wixl, msitools and osslsigncode)")
		}
	}
	relOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "release-test-")
		if err != nil {
			rel.err = err
			return
		}
		rel.dir = filepath.Join(tmp, "release")
		pub, err := updater.GenerateKeyPair(filepath.Join(tmp, "k.pub"), filepath.Join(tmp, "k.key"), "")
		if err != nil {
			rel.err = err
			return
		}
		key, err := updater.LoadPrivateKey(filepath.Join(tmp, "k.key"), "")
		if err != nil {
			rel.err = err
			return
		}
		rel.pub = pub
		if rel.cert, rel.err = newTestCert(filepath.Join(tmp, "authenticode")); rel.err != nil {
			return
		}
		repo, _ := filepath.Abs(filepath.Join("..", "..", ".."))
		rel.res, rel.err = Build(context.Background(), Options{Version: testVersion, Commit: "relcommit",
			Date: time.Now().UTC().Truncate(time.Second), Repo: repo, Out: rel.dir, Key: key,
			Targets:        []string{"linux/" + runtime.GOARCH, "windows/amd64"},
			Sign:           &Authenticode{CertFile: rel.cert.Cert, KeyFile: rel.cert.Key},
			RequireSigning: true})
	})
	if rel.err != nil {
		t.Fatalf("release build: %v", rel.err)
	}
	return rel
}

func TestMain(m *testing.M) {
	code := m.Run()
	if rel.dir != "" {
		os.RemoveAll(filepath.Dir(rel.dir))
	}
	os.Exit(code)
}

func TestReleaseArtifacts(t *testing.T) {
	r := buildTestRelease(t)
	arch := runtime.GOARCH
	want := []string{
		"adldapctl-linux-" + arch, "adldapctl-windows-amd64.exe",
		"adldapctl-" + testVersion + "-linux-" + arch + ".tar.gz", "adldapctl-" + testVersion + "-windows-amd64.zip",
		"adldapctl_" + testVersion + "_" + arch + ".deb",
		"adldapctl-" + testVersion + "-windows-amd64.msi",
		"SHA256SUMS", "SHA256SUMS.minisig",
		"mirror/releases.json", "mirror/releases.json.minisig",
		"mirror/adldapctl-linux-" + arch, "mirror/adldapctl-linux-" + arch + ".version", "mirror/adldapctl-linux-" + arch + ".minisig",
		"mirror/adldapctl-windows-amd64.exe", "mirror/adldapctl-windows-amd64.version",
	}
	for _, w := range want {
		if fi, err := os.Stat(filepath.Join(r.dir, w)); err != nil || fi.Size() == 0 {
			t.Errorf("missing %s: %v", w, err)
		}
	}
	rpms, _ := filepath.Glob(filepath.Join(r.dir, "adldapctl-"+testVersion+"-1.*.rpm"))
	if len(rpms) != 1 {
		t.Errorf("rpm: %v", rpms)
	}
	out, err := exec.Command(filepath.Join(r.dir, "adldapctl-linux-"+arch), "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), testVersion+" (commit relcommit") {
		t.Errorf("version not stamped: %s %v", out, err)
	}
	if tgz, err := exec.Command("tar", "-tzf", filepath.Join(r.dir, "adldapctl-"+testVersion+"-linux-"+arch+".tar.gz")).Output(); err != nil {
		t.Error(err)
	} else {
		top := "adldapctl-" + testVersion + "-linux-" + arch + "/"
		for _, f := range []string{"adldapctl", "README.md", "LICENSE", "completions/adldapctl.bash", "completions/_adldapctl", "completions/adldapctl.fish", "man/adldapctl.1", "man/adldapctl-install.1"} {
			if !strings.Contains(string(tgz), top+f+"\n") {
				t.Errorf("tar.gz lacks %s:\n%s", top+f, tgz)
			}
		}
	}
	zr, err := zip.OpenReader(filepath.Join(r.dir, "adldapctl-"+testVersion+"-windows-amd64.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
	}
	top := "adldapctl-" + testVersion + "-windows-amd64/"
	for _, f := range []string{"adldapctl.exe", "README.md", "LICENSE", "completions/adldapctl.bash", "man/adldapctl.1"} {
		if !names[top+f] {
			t.Errorf("zip lacks %s: %v", top+f, names)
		}
	}
}

// Acceptance 4: SHA256SUMS checks with sha256sum -c, its signature with
// the public key; a changed SHA256SUMS is refused.
func TestReleaseSHA256SUMSSigned(t *testing.T) {
	r := buildTestRelease(t)
	cmd := exec.Command("sha256sum", "-c", "--strict", "SHA256SUMS")
	cmd.Dir = r.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	} else if n := strings.Count(string(out), ": OK"); n != len(r.res.Artifacts) || n < 6 {
		t.Errorf("sha256sum checked %d files, want %d:\n%s", n, len(r.res.Artifacts), out)
	}
	sums, err := os.ReadFile(filepath.Join(r.dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile(filepath.Join(r.dir, "SHA256SUMS.minisig"))
	if err != nil {
		t.Fatal(err)
	}
	if !minisign.Verify(r.pub, sums, sig) {
		t.Fatal("SHA256SUMS.minisig does not verify with the release public key")
	}
	tampered := append([]byte("0000000000000000000000000000000000000000000000000000000000000000  evil\n"), sums...)
	if minisign.Verify(r.pub, tampered, sig) {
		t.Fatal("a changed SHA256SUMS verified")
	}
}

// Acceptance 4: self-update from the produced mirror installs the entry;
// a tampered build in the mirror is refused and the target left alone.
func TestReleaseMirrorSelfUpdate(t *testing.T) {
	r := buildTestRelease(t)
	plat := "linux-" + runtime.GOARCH
	target := filepath.Join(t.TempDir(), "adldapctl")
	old := []byte("#!/bin/sh\necho old\n")
	if err := os.WriteFile(target, old, 0o755); err != nil {
		t.Fatal(err)
	}
	feed := &updater.MirrorFeed{Base: r.res.Mirror, PublicKey: r.pub}
	res, err := updater.SelfUpdate(context.Background(), updater.SelfUpdateOptions{Feed: feed, Current: "0.0.1", Platform: plat, TargetPath: target})
	if err != nil {
		t.Fatalf("self-update from the release mirror: %v", err)
	}
	if !res.Updated || res.To != testVersion {
		t.Fatalf("self-update: %+v", res)
	}
	out, err := exec.Command(target, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), testVersion) {
		t.Fatalf("updated binary: %s %v", out, err)
	}

	// Tamper with a copy of the mirror: one byte of the build changes.
	bad := t.TempDir()
	cp := exec.Command("cp", "-a", r.res.Mirror+"/.", bad)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	bin := filepath.Join(bad, "adldapctl-"+plat)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, old, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = updater.SelfUpdate(context.Background(), updater.SelfUpdateOptions{Feed: &updater.MirrorFeed{Base: bad, PublicKey: r.pub},
		Current: "0.0.1", Platform: plat, TargetPath: target})
	if !errors.Is(err, updater.ErrVerification) {
		t.Fatalf("tampered mirror entry: err %v, want ErrVerification", err)
	}
	if got, _ := os.ReadFile(target); string(got) != string(old) {
		t.Fatal("a refused self-update changed the target")
	}
}

// Acceptance 2: rpm -qpi / -qpl with the right metadata, file list and
// modes (rpm from Debian's packages; CI=true fails without it).
func TestReleaseRPMQuery(t *testing.T) {
	if _, err := exec.LookPath("rpm"); err != nil {
		testbed.Missing(t, "rpm (apt-get install rpm)")
	}
	r := buildTestRelease(t)
	rpms, _ := filepath.Glob(filepath.Join(r.dir, "adldapctl-"+testVersion+"-1.*.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("rpm: %v", rpms)
	}
	rpm := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("rpm", append(args, rpms[0])...).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	info := rpm("-qpi")
	for _, w := range []string{"adldapctl", testVersion, "https://github.com/adldapctl/adldapctl", "adldapctl maintainers", "License     : Apache-2.0"} {
		if !strings.Contains(info, w) {
			t.Errorf("rpm -qpi lacks %q:\n%s", w, info)
		}
	}
	list := rpm("-qpl")
	for _, f := range PackageFiles("adldapctl", ManPageNames()) {
		if in := strings.Contains(list, f.Dst+"\n"); in != (f.Packager == "") {
			t.Errorf("rpm -qpl: %s listed %v, want %v:\n%s", f.Dst, in, f.Packager == "", list)
		}
	}
	modes := rpm("-qp", "--qf", "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILENAMES}\n]")
	for _, f := range PackageFiles("adldapctl", ManPageNames()) {
		if f.Packager != "" {
			continue
		}
		perm := "-rw-r--r--"
		if f.Mode == 0o755 {
			perm = "-rwxr-xr-x"
		}
		if !strings.Contains(modes, perm+" root "+f.Dst+"\n") {
			t.Errorf("rpm: %s not %s root:\n%s", f.Dst, perm, modes)
		}
	}
	if s := rpm("-qp", "--scripts"); strings.TrimSpace(s) != "" {
		t.Errorf("rpm has scripts (it must start nothing):\n%s", s)
	}
}

// The .deb's contents and modes, and no maintainer scripts.
func TestReleaseDebContents(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		testbed.Missing(t, "dpkg-deb")
	}
	r := buildTestRelease(t)
	deb := filepath.Join(r.dir, "adldapctl_"+testVersion+"_"+runtime.GOARCH+".deb")
	out, err := exec.Command("dpkg-deb", "-c", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v\n%s", err, out)
	}
	for _, f := range PackageFiles("adldapctl", ManPageNames()) {
		perm := "-rw-r--r--"
		if f.Mode == 0o755 {
			perm = "-rwxr-xr-x"
		}
		found := false
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, perm+" root/root") && strings.HasSuffix(l, " ."+f.Dst) {
				found = true
			}
		}
		if !found {
			t.Errorf(".deb: %s not %s root/root:\n%s", f.Dst, perm, out)
		}
	}
	ctl := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-e", deb, ctl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
	}
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if _, err := os.Stat(filepath.Join(ctl, s)); err == nil {
			t.Errorf(".deb has a %s script; the package must start nothing", s)
		}
	}
	// Debian's copyright file names the license and carries its text.
	cp, err := exec.Command("dpkg-deb", "--fsys-tarfile", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	x := exec.Command("tar", "-xOf", "-", "./usr/share/doc/adldapctl/copyright")
	x.Stdin = strings.NewReader(string(cp))
	copyright, err := x.Output()
	if err != nil {
		t.Fatalf("copyright: %v", err)
	}
	for _, w := range []string{"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
		"\nFiles: *\n", "\nLicense: Apache-2.0\n", "Apache License\n", "\n .\n", "END OF TERMS AND CONDITIONS"} {
		if !strings.Contains(string(copyright), w) {
			t.Errorf("copyright lacks %q", w)
		}
	}
}
