package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/adldapctl/adldapctl/updater"
)

// checkStagingSpace makes sure the install dir's file system has room for
// the staged tree beside the live one: the extracted artifact (up to five
// times its compressed size) plus its node_modules.
func (in *Installer) checkStagingSpace(artifact string) error {
	fi, err := os.Stat(artifact)
	if err != nil {
		return err
	}
	parent := filepath.Dir(in.p.Paths.InstallDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	need := 5*fi.Size() + 200<<20
	if err := updater.CheckFreeSpace(parent, need); err != nil && errors.Is(err, updater.ErrNoSpace) {
		return fmt.Errorf("before staging the new version: %w", err)
	}
	return nil
}
