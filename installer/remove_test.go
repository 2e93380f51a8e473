package installer

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveTreeFallsBackToAWalk: where os.RemoveAll fails (Wine 8 on a
// non-empty folder), removeTree still removes the whole tree, and a link
// in it is removed without touching what it points to.
func TestRemoveTreeFallsBackToAWalk(t *testing.T) {
	for _, fail := range []bool{false, true} {
		dir := t.TempDir()
		outside := filepath.Join(dir, "outside")
		if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(dir, "tree")
		for _, f := range []string{"a/b/c.txt", "a/d.txt", "e.txt"} {
			p := filepath.Join(root, filepath.FromSlash(f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(outside, filepath.Join(root, "a", "link")); err != nil {
			t.Fatal(err)
		}
		if fail {
			osRemoveAll = func(string) error { return errors.New("unlinkat: Invalid function.") }
		}
		err := removeTree(root)
		osRemoveAll = os.RemoveAll
		if err != nil {
			t.Fatalf("removeTree (RemoveAll failing: %t): %v", fail, err)
		}
		if _, err := os.Lstat(root); !os.IsNotExist(err) {
			t.Errorf("RemoveAll failing %t: %s still there: %v", fail, root, err)
		}
		if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
			t.Errorf("the link's target was touched: %q %v", b, err)
		}
		if err := removeTree(root); err != nil {
			t.Errorf("removeTree of a missing path: %v", err)
		}
	}
}
