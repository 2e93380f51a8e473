package updater

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"aead.dev/minisign"
)

const (
	suOld = "old adldapctl 0.3.0 binary"
	suNew = "new adldapctl 0.4.0 binary!"
)

// suMirror builds a mirror holding adldapctl 0.4.0 for linux-amd64.
func suMirror(t *testing.T, priv minisign.PrivateKey) string {
	t.Helper()
	dir := t.TempDir()
	mtWrite(t, filepath.Join(dir, "adldapctl-linux-amd64"), suNew)
	mtWrite(t, filepath.Join(dir, "adldapctl-linux-amd64.version"), "0.4.0")
	mtWrite(t, filepath.Join(dir, "adldap-v6.4.1.msi"), "msi")
	if _, err := BuildMirror(dir, priv, BuildOptions{Now: mtClock}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// suTarget writes the "running" binary into a fresh folder.
func suTarget(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "adldapctl")
	if err := os.WriteFile(p, []byte(suOld), 0o750); err != nil {
		t.Fatal(err)
	}
	return p
}

// suCheckTarget fails unless target holds want and its folder holds
// nothing else (no .new or .old left behind).
func suCheckTarget(t *testing.T, target, want string) {
	t.Helper()
	b, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("target holds %q, want %q", b, want)
	}
	ents, _ := os.ReadDir(filepath.Dir(target))
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("target folder holds %v, want only the binary", names)
	}
}

func TestSelfUpdate(t *testing.T) {
	pub, priv := mtKeys(t)
	dir := suMirror(t, priv)
	srv, _ := mtServe(t, dir)
	for _, remote := range []bool{false, true} {
		t.Run(map[bool]string{false: "local", true: "http"}[remote], func(t *testing.T) {
			f := &MirrorFeed{Base: dir, PublicKey: pub, Now: mtClock}
			if remote {
				f.Base, f.Client = srv.URL, srv.Client()
			}
			target := suTarget(t)
			var logged []string
			res, err := SelfUpdate(context.Background(), SelfUpdateOptions{
				Feed: f, Current: "0.3.0", Platform: "linux-amd64", TargetPath: target,
				Logf: func(format string, a ...any) { logged = append(logged, format) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Updated || res.From != "0.3.0" || res.To != "0.4.0" || res.Path != target || res.SHA256 != mtSum(suNew) {
				t.Errorf("result = %+v", res)
			}
			suCheckTarget(t, target, suNew)
			if st, _ := os.Stat(target); runtime.GOOS != "windows" && st.Mode().Perm() != 0o750 {
				t.Errorf("mode = %v, want the old binary's 0750", st.Mode().Perm())
			}
			if len(logged) == 0 {
				t.Error("nothing logged")
			}
		})
	}
}

func TestSelfUpdateVersions(t *testing.T) {
	pub, priv := mtKeys(t)
	f := &MirrorFeed{Base: suMirror(t, priv), PublicKey: pub, Now: mtClock}
	for _, tc := range []struct {
		current string
		force   bool
		updated bool
		err     string
	}{
		{current: "0.4.0"},  // already current
		{current: "v0.4.0"}, // same version, other spelling
		{current: "0.5.0"},  // never a silent downgrade
		{current: "0.5.0", force: true, updated: true},    // asked for
		{current: "0.4.0", force: true, updated: true},    // reinstall
		{current: "dev", err: "not a release version"},    // unknown: only with force
		{current: "dev", force: true, updated: true},      //
		{current: "0.4.0-rc.1", updated: true},            // prerelease of it
		{current: "", err: "not a release version"},       //
		{current: "0.3.9", force: false, updated: true},   //
		{current: "0.10.0", force: false, updated: false}, // 0.10 > 0.4, not a string compare
	} {
		target := suTarget(t)
		res, err := SelfUpdate(context.Background(), SelfUpdateOptions{
			Feed: f, Current: tc.current, Platform: "linux-amd64", TargetPath: target, Force: tc.force,
		})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: %v, want %q", tc, err, tc.err)
			}
			suCheckTarget(t, target, suOld)
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tc, err)
			continue
		}
		want := suOld
		if tc.updated {
			want = suNew
		}
		if res.Updated != tc.updated {
			t.Errorf("%+v: Updated = %v", tc, res.Updated)
		}
		if !tc.updated && (res.To != tc.current || res.From != tc.current) {
			t.Errorf("%+v: not updated but result says %+v", tc, res)
		}
		suCheckTarget(t, target, want)
	}
}

func TestSelfUpdateRefusesUnverified(t *testing.T) {
	pub, priv := mtKeys(t)
	_, otherPriv := mtKeys(t)
	const bin = "adldapctl-linux-amd64"
	for _, tc := range []struct {
		name   string
		mutate func(t *testing.T, dir string)
		want   string
	}{
		{"signed by another key", func(t *testing.T, dir string) {
			mtWrite(t, filepath.Join(dir, bin+".minisig"), string(minisign.Sign(otherPriv, []byte(suNew))))
		}, "not by the trusted key"},
		{"signature of other bytes", func(t *testing.T, dir string) {
			mtWrite(t, filepath.Join(dir, bin+".minisig"), string(minisign.Sign(priv, []byte("something else"))))
		}, "does not match its signature"},
		{"no signature", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, bin+".minisig"))
		}, "has no signature"},
		{"malformed signature", func(t *testing.T, dir string) {
			mtWrite(t, filepath.Join(dir, bin+".minisig"), "untrusted comment: x\nnope\n")
		}, "malformed"},
		{"checksum mismatch, valid signature", func(t *testing.T, dir string) {
			// Same size, signed by the trusted key, but not what the
			// signed metadata lists.
			evil := strings.Repeat("e", len(suNew))
			mtWrite(t, filepath.Join(dir, bin), evil)
			mtWrite(t, filepath.Join(dir, bin+".minisig"), string(minisign.Sign(priv, []byte(evil))))
		}, "sha256 mismatch"},
		{"larger than announced", func(t *testing.T, dir string) {
			mtWrite(t, filepath.Join(dir, bin), suNew+"trailing payload")
		}, "larger than"},
		{"shorter than announced", func(t *testing.T, dir string) {
			mtWrite(t, filepath.Join(dir, bin), suNew[:5])
		}, "metadata announces"},
	} {
		for _, remote := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "/local", true: "/http"}[remote], func(t *testing.T) {
				dir := suMirror(t, priv)
				tc.mutate(t, dir)
				f := &MirrorFeed{Base: dir, PublicKey: pub, Now: mtClock}
				if remote {
					srv, _ := mtServe(t, dir)
					f.Base, f.Client = srv.URL, srv.Client()
				}
				target := suTarget(t)
				_, err := SelfUpdate(context.Background(), SelfUpdateOptions{Feed: f, Current: "0.3.0", Platform: "linux-amd64", TargetPath: target})
				if !errors.Is(err, ErrVerification) {
					t.Fatalf("SelfUpdate = %v, want ErrVerification", err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q does not say %q", err, tc.want)
				}
				suCheckTarget(t, target, suOld)
			})
		}
	}
}

func TestSelfUpdateErrors(t *testing.T) {
	pub, priv := mtKeys(t)
	f := &MirrorFeed{Base: suMirror(t, priv), PublicKey: pub, Now: mtClock}
	ctx := context.Background()
	target := suTarget(t)
	for _, tc := range []struct {
		name string
		o    SelfUpdateOptions
		want string
	}{
		{"no target", SelfUpdateOptions{Feed: f, Current: "0.3.0", Platform: "linux-amd64"}, "no target path"},
		{"proc", SelfUpdateOptions{Feed: f, Current: "0.3.0", Platform: "linux-amd64", TargetPath: "/proc/self/exe"}, "/proc"},
		{"no feed", SelfUpdateOptions{Current: "0.3.0", Platform: "linux-amd64", TargetPath: target}, "signed mirror"},
		{"no platform", SelfUpdateOptions{Feed: f, Current: "0.3.0", TargetPath: target}, "no platform"},
		{"missing target", SelfUpdateOptions{Feed: f, Current: "0.3.0", Platform: "linux-amd64", TargetPath: target + ".missing"}, "adldapctl.missing"},
		{"no build", SelfUpdateOptions{Feed: f, Current: "0.3.0", Platform: "windows-arm64", TargetPath: target}, "no adldapctl build for windows-arm64"},
	} {
		_, err := SelfUpdate(ctx, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	_, err := SelfUpdate(ctx, SelfUpdateOptions{Feed: f, Current: "0.3.0", Platform: "windows-arm64", TargetPath: target})
	if !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("no build: %v, want ErrReleaseNotFound", err)
	}
	suCheckTarget(t, target, suOld)

	// The feed's own verification comes first.
	bad := &MirrorFeed{Base: f.Base, PublicKey: mustOtherKey(t), Now: mtClock}
	if _, err := SelfUpdate(ctx, SelfUpdateOptions{Feed: bad, Current: "0.3.0", Platform: "linux-amd64", TargetPath: target}); !errors.Is(err, ErrVerification) {
		t.Errorf("wrong feed key: %v", err)
	}
	suCheckTarget(t, target, suOld)
}

func mustOtherKey(t *testing.T) minisign.PublicKey {
	pub, _ := mtKeys(t)
	return pub
}

func TestSelfUpdateFollowsSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	pub, priv := mtKeys(t)
	f := &MirrorFeed{Base: suMirror(t, priv), PublicKey: pub, Now: mtClock}
	real := suTarget(t)
	link := filepath.Join(t.TempDir(), "adldapctl")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	res, err := SelfUpdate(context.Background(), SelfUpdateOptions{Feed: f, Current: "0.3.0", Platform: "linux-amd64", TargetPath: link})
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != real {
		t.Errorf("Path = %s, want %s", res.Path, real)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi, err)
	}
	suCheckTarget(t, real, suNew)
}

func TestPickTool(t *testing.T) {
	tools := []MirrorTool{
		{Version: "0.4.0", Platform: "linux-amd64", File: "a"},
		{Version: "0.10.0", Platform: "linux-amd64", File: "b"},
		{Version: "0.11.0-rc.1", Platform: "linux-amd64", File: "c"},
		{Version: "9.0.0", Platform: "windows-amd64", File: "d"},
	}
	if tool, v, err := pickTool(tools, "linux-amd64", ChannelStable); err != nil || tool.File != "b" || v.String() != "0.10.0" {
		t.Errorf("stable = %+v %v %v, want 0.10.0", tool, v, err)
	}
	if tool, _, err := pickTool(tools, "linux-amd64", ChannelPrerelease); err != nil || tool.File != "c" {
		t.Errorf("prerelease = %+v %v, want 0.11.0-rc.1", tool, err)
	}
	if _, _, err := pickTool(tools, "linux-arm64", ChannelStable); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("linux-arm64 = %v", err)
	}
}

// The verifier handed to minio/selfupdate uses the feed's key.
func TestSelfUpdateVerifierUsesFeedKey(t *testing.T) {
	pub, priv := mtKeys(t)
	otherPub, _ := mtKeys(t)
	sig := minisign.Sign(priv, []byte(suNew))
	v, err := selfupdateVerifier(&MirrorFeed{PublicKey: pub}, sig)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify([]byte(suNew)); err != nil {
		t.Errorf("Verify(signed bytes) = %v", err)
	}
	if err := v.Verify([]byte(suOld)); err == nil {
		t.Error("Verify(other bytes) succeeded")
	}
	v, err = selfupdateVerifier(&MirrorFeed{PublicKey: otherPub}, sig)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify([]byte(suNew)); err == nil {
		t.Error("Verify with another key succeeded")
	}
}

func TestSelfUpdateNeedsWritableFolder(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs a non-root Unix user")
	}
	pub, priv := mtKeys(t)
	f := &MirrorFeed{Base: suMirror(t, priv), PublicKey: pub, Now: mtClock}
	target := suTarget(t)
	dir := filepath.Dir(target)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	_, err := SelfUpdate(context.Background(), SelfUpdateOptions{Feed: f, Current: "0.3.0", Platform: "linux-amd64", TargetPath: target})
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "run as root") {
		t.Errorf("read-only folder: %v", err)
	}
	suCheckTarget(t, target, suOld)
}
