package installer

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/adldapctl/adldapctl/platform"
)

// Pending reports whether an interrupted transaction is left for Recover.
func Pending(p *platform.Platform) bool {
	_, err := os.Lstat(journalPath(p))
	return err == nil
}

// Recover finishes or undoes a transaction that a crash or kill left in the
// journal, so the install is consistent and running before any command
// does its own work. It returns a one-line description of what it did, or
// "" when there was nothing to do. A journal adldapctl did not write is
// refused (ErrForeignJournal) and nothing is changed.
func (in *Installer) Recover(ctx context.Context) (string, error) {
	cur, err := in.Installed()
	if err != nil {
		return "", err
	}
	j, err := readJournal(in.p, cur)
	if err != nil || j == nil {
		return "", err
	}
	to := j.ToVersion
	if to == "" {
		to = "a release not yet resolved"
	}
	var errs []error
	start := func() {
		if in.fileOnly || !in.step.Live() {
			return
		}
		if err := in.svc.Start(in.p.Service); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %v; see %s", ErrServiceRestart, in.p.Service, err, in.p.Paths.LogFile))
		}
		in.startAdmin()
	}
	done := func(msg string) (string, error) {
		if err := j.clear(); err != nil {
			errs = append(errs, err)
		}
		return msg, errors.Join(errs...)
	}
	switch j.Phase {
	case PhaseResolve, PhaseDownload, PhaseVerify, PhaseStage:
		if err := in.step.Unstage(j); err != nil {
			return "", err
		}
		return done(fmt.Sprintf("an interrupted %s to %s (at %s) was cleaned up; nothing had been changed", j.Op, to, j.Phase))
	case PhaseStop:
		if err := in.step.Unstage(j); err != nil {
			return "", err
		}
		if j.ServiceWasUp {
			start()
		}
		return done(fmt.Sprintf("an interrupted %s to %s (at %s) was undone; service restarted", j.Op, to, j.Phase))
	case PhaseCommit:
		if err := in.step.Commit(j); err != nil {
			return "", fmt.Errorf("finish interrupted %s: %w", j.Op, err)
		}
		start()
		return fmt.Sprintf("an interrupted %s to %s was completed", j.Op, to), errors.Join(errs...)
	}
	// switch, start, health, rollback
	if j.Fresh {
		// Nothing to return to: finish the install when the new tree made
		// it into place, otherwise clean up as if it never started.
		in.step.RestorePreInstall(j)
		if in.step.Live() {
			if _, err := in.step.Register(ctx); err != nil {
				return "", err
			}
			start()
			if err := in.step.Commit(j); err != nil {
				return "", err
			}
			return fmt.Sprintf("an interrupted install of %s was completed", to), errors.Join(errs...)
		}
		if err := os.RemoveAll(in.staging()); err != nil {
			return "", err
		}
		return done(fmt.Sprintf("an interrupted install of %s was cleaned up; nothing is installed", to))
	}
	if err := in.step.Restore(j); err != nil {
		return "", fmt.Errorf("undo interrupted %s: %w", j.Op, err)
	}
	if _, err := in.step.Register(ctx); err != nil {
		return "", err
	}
	start() // after a switch the install is always left running
	from := j.FromVersion
	if from == "" {
		from = "the previous tree"
	}
	return done(fmt.Sprintf("an interrupted %s to %s (at %s) was rolled back; %s is installed and started", j.Op, to, j.Phase, from))
}
