package installer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/adldapctl/adldapctl/platform"
)

// Recover finishes or undoes a transaction that a crash or kill left in the
// journal, so the install is consistent and running before any command
// does its own work. It returns a one-line description of what it did, or
// "" when there was nothing to do.
func (in *Installer) Recover(ctx context.Context) (string, error) {
	j, err := readJournal(in.p)
	if err != nil || j == nil {
		return "", err
	}
	if j.ToVersion == "" {
		j.ToVersion = "a release not yet resolved"
	}
	svc := in.p.Services()
	start := func() {
		if !in.p.Sandboxed() && exists(filepath.Join(in.p.Paths.InstallDir, "server.js")) {
			if _, err := os.Stat(in.p.Paths.UnitFile); err == nil {
				svc.Start(platform.ServiceName)
			}
		}
	}
	switch j.Phase {
	case PhaseResolve, PhaseDownload, PhaseVerify, PhaseStage:
		if j.Op == OpRollback {
			in.unstagePrevious()
		}
		os.RemoveAll(in.staging())
		if err := j.clear(); err != nil {
			return "", err
		}
		return fmt.Sprintf("an interrupted %s to %s (at %s) was cleaned up; nothing had been changed", j.Op, j.ToVersion, j.Phase), nil
	case PhaseStop:
		if j.Op == OpRollback {
			in.unstagePrevious()
		}
		os.RemoveAll(in.staging())
		if j.ServiceWasUp {
			start()
		}
		if err := j.clear(); err != nil {
			return "", err
		}
		return fmt.Sprintf("an interrupted %s to %s (at %s) was undone; service restarted", j.Op, j.ToVersion, j.Phase), nil
	case PhaseCommit:
		if err := in.commit(j); err != nil {
			return "", fmt.Errorf("finish interrupted %s: %w", j.Op, err)
		}
		start()
		return fmt.Sprintf("an interrupted %s to %s was completed", j.Op, j.ToVersion), nil
	default: // switch, start, health, rollback
		if j.Fresh {
			// Nothing to return to: finish the install when the new tree made
			// it into place, otherwise clean up as if it never started.
			in.restorePreInstall()
			if exists(filepath.Join(in.p.Paths.InstallDir, "server.js")) {
				if _, err := in.registerService(); err != nil {
					return "", err
				}
				start()
				if err := in.commit(j); err != nil {
					return "", err
				}
				return fmt.Sprintf("an interrupted install of %s was completed", j.ToVersion), nil
			}
			os.RemoveAll(in.staging())
			if err := j.clear(); err != nil {
				return "", err
			}
			return fmt.Sprintf("an interrupted install of %s was cleaned up; nothing is installed", j.ToVersion), nil
		}
		if err := in.restoreOld(j); err != nil {
			return "", fmt.Errorf("undo interrupted %s: %w", j.Op, err)
		}
		if _, err := in.registerService(); err != nil {
			return "", err
		}
		start() // after a switch the install is always left running
		if err := j.clear(); err != nil {
			return "", err
		}
		return fmt.Sprintf("an interrupted %s to %s (at %s) was rolled back; %s is installed and started", j.Op, j.ToVersion, j.Phase, j.FromVersion), nil
	}
}
