package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/adldapctl/adldapctl/platform"
)

// Transaction kinds.
const (
	OpInstall  = "install"
	OpUpdate   = "update"
	OpRollback = "rollback"
)

// ErrNoPrevious is returned by Rollback when no previous version is kept.
var ErrNoPrevious = errors.New("no previous version to roll back to")

// unstagePrevious moves a staged previous tree back to where it is kept.
func (in *Installer) unstagePrevious() {
	if exists(in.staging()) && !exists(in.previous()) {
		os.Rename(in.staging(), in.previous())
	}
}

// Rollback returns to the kept previous version with the customer files as
// they are now. The version rolled back from becomes the kept previous one.
func (in *Installer) Rollback(ctx context.Context) (*Result, error) {
	p := in.p
	if p.OS == "windows" {
		return nil, fmt.Errorf("rollback on Windows: %w", platform.ErrNotSupported)
	}
	prev, err := in.PreviousVersion()
	if err != nil {
		return nil, err
	}
	if prev == nil {
		return nil, fmt.Errorf("%w: %s holds none (a version is kept after an update)", ErrNoPrevious, in.previous())
	}
	cur, err := in.Installed()
	if err != nil || cur == nil {
		return nil, fmt.Errorf("nothing installed to roll back from")
	}
	txn, err := in.Begin(OpRollback)
	if err != nil {
		return nil, err
	}
	j := txn.j
	j.FromVersion, j.ToVersion, j.KeepOld = cur.Version, prev.Version, true
	j.PrevRecord = cur.Marshal()
	rec := *prev
	rec.InstalledAt = in.o.Now().UTC()
	rec.Previous = cur.Version
	rec.LastResult = "rollback from " + cur.Version + " ok"
	res := &Result{Op: OpRollback, Version: prev.Version, PreviousVersion: cur.Version, InstallDir: p.Paths.InstallDir,
		SHA256: prev.SHA256, Verified: prev.Verified}
	stage := func() error {
		os.RemoveAll(in.staging())
		in.logf("staging kept version %s", prev.Version)
		if err := os.Rename(in.previous(), in.staging()); err != nil {
			return err
		}
		return platform.SyncDir(filepath.Dir(in.staging()))
	}
	if err := in.run(ctx, j, res, &rec, stage, "", false); err != nil {
		return res, err
	}
	return res, nil
}
