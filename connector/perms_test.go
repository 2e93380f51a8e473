package connector

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

func TestIsConfigCopy(t *testing.T) {
	for name, want := range map[string]bool{
		"config.json": true, "Config.JSON": true, "config.json.bak": true, "config.json~": true,
		"config.json.1732900000": true, "configjson": false, "my-config.json": false, "package.json": false,
	} {
		if IsConfigCopy(name) != want {
			t.Errorf("%s: want %v", name, want)
		}
	}
}

func TestRestrictConfigCopies(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("modes are ACLs on Windows")
	}
	root := t.TempDir()
	write := func(rel string, mode os.FileMode) string {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("{}"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	a := write(".auth0-adldap.previous/config.json", 0o644)
	b := write("backups/config.json.bak", 0o666)
	ok := write("config.json", 0o600)
	pkg := write(".auth0-adldap.previous/node_modules/x/config.json", 0o644)
	other := write("package.json", 0o644)
	outside := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(outside, []byte("{}"), 0o644)
	if err := os.Symlink(outside, filepath.Join(root, "link", "config.json")); err != nil {
		os.MkdirAll(filepath.Join(root, "link"), 0o755)
		if err := os.Symlink(outside, filepath.Join(root, "link", "config.json")); err != nil {
			t.Fatal(err)
		}
	}
	changed, err := RestrictConfigCopies(root)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(changed)
	if want := []string{a, b}; !slices.Equal(changed, slices.Sorted(slices.Values(want))) {
		t.Errorf("changed %q, want %q", changed, want)
	}
	for p, want := range map[string]os.FileMode{a: 0o600, b: 0o600, ok: 0o600, pkg: 0o644, other: 0o644, outside: 0o644} {
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != want {
			t.Errorf("%s: %o, want %o", p, fi.Mode().Perm(), want)
		}
	}
	if _, err := RestrictConfigCopies(filepath.Join(root, "missing")); err != nil {
		t.Errorf("missing root: %v", err)
	}
}
