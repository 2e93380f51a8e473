package installer

import (
	"context"
	"fmt"
)

// rollback returns to the kept previous version with the customer files as
// they are now. The version rolled back from becomes the kept previous one.
func (in *Installer) rollback(ctx context.Context, plan Plan) (*Result, error) {
	p := in.p
	prev, err := in.PreviousVersion()
	if err != nil {
		return nil, err
	}
	if prev == nil {
		return nil, fmt.Errorf("%w: %s holds none (a version is kept after an update)", ErrNoPrevious, in.previous())
	}
	cur, err := in.Installed()
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, fmt.Errorf("%w: nothing to roll back from", ErrNotInstalled)
	}
	res := &Result{Op: string(OpRollback), Version: prev.Version, PreviousVersion: cur.Version, InstallDir: p.Paths.InstallDir,
		SHA256: prev.SHA256, Verified: prev.Verified, Artifact: prev.Source, Changed: true, DryRun: plan.DryRun}
	if plan.DryRun {
		return res, nil
	}
	j, err := in.begin(OpRollback)
	if err != nil {
		return nil, err
	}
	j.FromVersion, j.ToVersion, j.KeepOld = cur.Version, prev.Version, true
	j.PrevRecord = cur.Marshal()
	rec := *prev
	rec.InstalledAt = in.o.Now().UTC()
	rec.Previous = cur.Version
	rec.LastResult = "rollback from " + cur.Version + " ok"
	stage := func() error {
		in.logf("staging kept version %s", prev.Version)
		return in.step.StagePrevious(j)
	}
	if err := in.transact(ctx, j, res, &rec, stage, plan.Ticket, plan.NoStart); err != nil {
		return res, err
	}
	return res, nil
}
