//go:build !windows

package platform

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenOwnFileRefusesPlantedLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "lock")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	_, err := OpenOwnFile(link, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if !errors.Is(err, ErrPlantedLink) {
		t.Fatalf("OpenOwnFile(link) = %v, want ErrPlantedLink", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Fatalf("victim changed: %q", b)
	}
	// A dangling link too: O_CREAT must not create its target.
	dangling := filepath.Join(dir, "partial")
	target := filepath.Join(dir, "created-through-link")
	os.Symlink(target, dangling)
	if _, err := OpenOwnFile(dangling, os.O_RDWR|os.O_CREATE, 0o600); !errors.Is(err, ErrPlantedLink) {
		t.Fatalf("OpenOwnFile(dangling link) = %v, want ErrPlantedLink", err)
	}
	if _, err := os.Lstat(target); err == nil {
		t.Fatal("a file was created through the dangling link")
	}
	f, err := OpenOwnFile(filepath.Join(dir, "plain"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestEnsureOwnDir(t *testing.T) {
	base := t.TempDir()
	d := filepath.Join(base, "state")
	if err := EnsureOwnDir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v, want 0700", fi.Mode().Perm())
	}
	os.Chmod(d, 0o777)
	if err := EnsureOwnDir(d, 0o700); !errors.Is(err, ErrUnsafeDir) {
		t.Errorf("world-writable dir: %v, want ErrUnsafeDir", err)
	}
	l := filepath.Join(base, "cache")
	os.Symlink(t.TempDir(), l)
	if err := EnsureOwnDir(l, 0o700); !errors.Is(err, ErrPlantedLink) {
		t.Errorf("symlinked dir: %v, want ErrPlantedLink", err)
	}
}
