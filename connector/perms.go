package connector

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/adldapctl/adldapctl/platform"
)

// ConfigMode is the mode of config.json and of every copy adldapctl keeps:
// it holds the connector's secrets.
const ConfigMode os.FileMode = 0o600

// IsConfigCopy reports whether a file name is config.json or a copy of it
// (config.json.bak, config.json.tmp, config.json~ …): the names the
// connector's own .gitignore treats as config.
func IsConfigCopy(name string) bool {
	n := strings.ToLower(name)
	return n == ConfigFile || strings.HasPrefix(n, ConfigFile+".") || strings.HasPrefix(n, ConfigFile+"~")
}

// RestrictConfigCopies sets ConfigMode on every regular file under root
// (root included) for which IsConfigCopy holds, outside node_modules, and
// returns the paths it changed. It follows no symbolic link, so a link planted in a kept tree
// cannot redirect the change. A missing root is not an error. On Windows
// the mode only clears the read-only attribute; the ACL is the platform's
// job.
func RestrictConfigCopies(root string) ([]string, error) {
	var changed []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && os.IsNotExist(err) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() && p != root && d.Name() == "node_modules" {
			return fs.SkipDir // packages' own config.json files are not ours
		}
		if !d.Type().IsRegular() || !IsConfigCopy(d.Name()) {
			return nil
		}
		f, err := platform.OpenOwnFile(p, os.O_RDONLY, 0)
		if err != nil {
			return fmt.Errorf("restrict %s: %w", p, err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("restrict %s: %w", p, err)
		}
		if fi.Mode().Perm() == ConfigMode {
			return nil
		}
		if err := f.Chmod(ConfigMode); err != nil {
			return fmt.Errorf("restrict %s: %w", p, err)
		}
		changed = append(changed, p)
		return nil
	})
	return changed, err
}
