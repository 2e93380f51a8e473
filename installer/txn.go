package installer

import (
	"context"
	"errors"
	"fmt"

	"github.com/adldapctl/adldapctl/connector"
)

// transact runs a journaled transaction from stage on: stage → stop →
// switch → start → health → commit, or rollback.
func (in *Installer) transact(ctx context.Context, j *Journal, res *Result, rec *connector.InstallRecord, stage func() error, ticket string, noStart bool) error {
	if err := in.enter(j, PhaseStage); err != nil {
		return in.abortBeforeSwitch(j, err)
	}
	if err := stage(); err != nil {
		return in.abortBeforeSwitch(j, err)
	}

	// Record whether the service runs before journaling stop, so recovery
	// knows to start it again.
	var err error
	st, stErr := in.svc.Status(in.p.Service)
	j.ServiceWasUp = stErr == nil && st.Installed && st.Running()
	if err := in.enter(j, PhaseStop); err != nil {
		return in.abortBeforeSwitch(j, err)
	}
	if stErr == nil && st.Installed && st.Active != "inactive" && st.Active != "unknown" {
		in.logf("stopping %s", in.p.Service)
		if err := in.svc.Stop(in.p.Service); err != nil {
			return in.abortBeforeSwitch(j, fmt.Errorf("stop service %s: %w", in.p.Service, err))
		}
	}

	if j.Record, err = rec.Encode(); err != nil {
		return in.abortBeforeSwitch(j, err)
	}
	if err := in.enter(j, PhaseSwitch); err != nil {
		return in.undo(j, err)
	}
	written, err := in.step.Switch(ctx, j, ticket)
	if err != nil {
		return in.undo(j, err)
	}
	res.ConfigWritten = written

	if err := in.enter(j, PhaseStart); err != nil {
		return in.undo(j, err)
	}
	changed, err := in.step.Register(ctx)
	if err != nil {
		return in.undo(j, err)
	}
	res.UnitChanged = changed
	if in.fileOnly {
		noStart = true
	}
	if !noStart {
		in.logf("starting %s", in.p.Service)
		if err := in.svc.Start(in.p.Service); err != nil {
			return in.undo(j, fmt.Errorf("start service %s: %w; see %s", in.p.Service, err, in.p.Paths.LogFile))
		}
		res.Started = true
		in.startAdmin()
	}

	if err := in.enter(j, PhaseHealth); err != nil {
		return in.undo(j, err)
	}
	if !noStart {
		st, err := in.waitHealthy(ctx)
		res.Service = st
		if err != nil {
			return in.undo(j, err)
		}
	} else {
		res.Service, _ = in.svc.Status(in.p.Service)
	}

	if err := in.enter(j, PhaseCommit); err != nil {
		return in.undo(j, err)
	}
	if err := in.step.Commit(j); err != nil {
		return err
	}
	if !written && ticket == "" && !exists(in.p.Paths.ConfigFile) {
		res.Notes = append(res.Notes, "no config.json yet: run `adldapctl install --ticket URL` with the provisioning ticket from the Auth0 dashboard")
	}
	if in.fileOnly {
		res.Notes = append(res.Notes, "--root: the service was written under the root and not started")
	}
	res.Notes = append(res.Notes, in.notes...)
	return nil
}

// startAdmin starts the connector's admin console service (Windows) when
// it is registered and not running; it is not part of the health gate, so
// a failure is a warning.
func (in *Installer) startAdmin() {
	name := in.p.AdminService
	if name == "" || in.fileOnly {
		return
	}
	st, err := in.svc.Status(name)
	if err != nil || !st.Installed || st.Running() {
		return
	}
	if err := in.svc.Start(name); err != nil {
		in.logf("warning: start %s: %v", name, err)
		in.notes = append(in.notes, fmt.Sprintf("%s did not start: %v; start it with the Services console", name, err))
	}
}

// abortBeforeSwitch undoes a transaction that has not switched yet: the
// install dir was never touched; the service is started again if it was
// stopped. Errors on the way are joined to cause, never dropped.
func (in *Installer) abortBeforeSwitch(j *Journal, cause error) error {
	errs := []error{cause}
	if err := in.step.Unstage(j); err != nil {
		errs = append(errs, fmt.Errorf("remove the staged version: %w", err))
	}
	if j.ServiceWasUp && !in.fileOnly {
		if err := in.svc.Start(in.p.Service); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s was stopped for the %s and did not start again: %v; see %s",
				ErrServiceRestart, in.p.Service, j.Op, err, in.p.Paths.LogFile))
		}
		in.startAdmin()
	}
	if err := j.clear(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ErrServiceRestart is wrapped when the service could not be started again
// after a transaction was undone.
var ErrServiceRestart = errors.New("service did not start again")

// undo rolls a transaction back after (or during) the switch.
func (in *Installer) undo(j *Journal, cause error) error {
	if j.Fresh {
		// Nothing to return to. A fresh install whose files are in place
		// stays; the error says what failed.
		in.step.RestorePreInstall(j)
		var errs []error
		if in.step.Live() && j.Phase != PhaseSwitch {
			// Installed, but not healthy: keep it (there is nothing to go
			// back to) and record it, so the admin can fix and repair.
			if err := in.step.Commit(j); err != nil {
				errs = append(errs, fmt.Errorf("record the install: %w", err))
			}
			return errors.Join(append([]error{cause}, errs...)...)
		} else if err := in.step.Unstage(j); err != nil {
			errs = append(errs, err)
		}
		if err := j.clear(); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(append([]error{cause}, errs...)...)
	}
	if err := in.enter(j, PhaseRollback); err != nil {
		return errors.Join(cause, err)
	}
	to := j.FromVersion
	if to == "" {
		to = "the files that were installed before"
	}
	in.logf("rolling back to %s: %v", to, cause)
	if err := in.step.Restore(j); err != nil {
		where := "the previous version is in " + in.old()
		if m := j.MSI; m != nil {
			// The MSI step keeps no old folder: the package and the backup.
			where = fmt.Sprintf("the previous version's MSI is %s, the customer files are backed up in %s", orUnknown(m.OldMSI), orUnknown(m.Backup))
		}
		return fmt.Errorf("%w; rollback also failed: %v (%s; the journal %s is kept so the next adldapctl command tries again)", cause, err, where, j.path)
	}
	rb := &RolledBackError{To: to, Cause: cause}
	if j.ServiceWasUp && !in.fileOnly {
		if err := in.svc.Start(in.p.Service); err != nil {
			rb.Restart = fmt.Errorf("%w: %s did not start after the rollback to %s: %v; see %s", ErrServiceRestart, in.p.Service, to, err, in.p.Paths.LogFile)
		}
		in.startAdmin()
	}
	if err := j.clear(); err != nil {
		rb.Restart = errors.Join(rb.Restart, err)
	}
	return rb
}

// RolledBackError reports a transaction that failed and was rolled back
// (exit 1). Restart, when set, says the service did not come back up
// afterwards.
type RolledBackError struct {
	To      string
	Cause   error
	Restart error
}

func (e *RolledBackError) Error() string {
	msg := fmt.Sprintf("%v; rolled back to %s", e.Cause, e.To)
	if e.Restart != nil {
		msg += "; but " + e.Restart.Error()
	}
	return msg
}

func (e *RolledBackError) Unwrap() []error {
	if e.Restart != nil {
		return []error{e.Cause, e.Restart}
	}
	return []error{e.Cause}
}
