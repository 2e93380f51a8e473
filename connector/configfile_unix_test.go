//go:build unix

package connector

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestEditConfigKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the file another owner")
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(`{"A":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := EditConfig(path, func(c *Config) error { _, err := c.Set("B", 2); return err }); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("owner not kept: %+v", fi.Sys())
	}
}
