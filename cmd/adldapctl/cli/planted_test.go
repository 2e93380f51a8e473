package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// TestPlantedLinksAreNotFollowed plants symbolic links where adldapctl
// writes in its own folders (the lock, a download's .partial, the cached
// artifact, npm.log): the command fails naming the link, and the file the
// link points to stays byte for byte.
func TestPlantedLinksAreNotFollowed(t *testing.T) {
	requireNode(t)
	tarball, err := testfeed.SourceTarball("6.4.1", testfeed.SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(t.TempDir(), "ad-ldap-connector-v6.4.1.tar.gz")
	os.WriteFile(art, tarball, 0o644)
	for _, rel := range []string{
		"var/lib/adldapctl/lock",
		"var/cache/adldapctl/ad-ldap-connector-v6.4.1.tar.gz.partial",
		"var/cache/adldapctl/ad-ldap-connector-v6.4.1.tar.gz",
		"var/lib/adldapctl/npm.log",
	} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			root := t.TempDir()
			victim := filepath.Join(t.TempDir(), "shadow")
			const secret = "root:$6$not-a-real-hash:19000:0:99999:7:::\n"
			if err := os.WriteFile(victim, []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(root, rel)
			os.MkdirAll(filepath.Dir(link), 0o755)
			if err := os.Symlink(victim, link); err != nil {
				t.Fatal(err)
			}
			r := run(t, "--root", root, "install", "--from", art)
			if r.code == 0 || !strings.Contains(r.stderr, link) {
				t.Errorf("install with a link planted at %s: exit %d, want a failure naming the link\n%s", rel, r.code, r.stderr)
			}
			if got, _ := os.ReadFile(victim); string(got) != secret {
				t.Errorf("the link's target was changed: %q", got)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the planted link was replaced or removed (%v)", err)
			}
			if strings.Contains(r.stdout+r.stderr, "not-a-real-hash") {
				t.Error("the target's content was printed")
			}
		})
	}
}
