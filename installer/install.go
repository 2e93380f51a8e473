package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/packaging"
	"github.com/adldapctl/adldapctl/platform"
)

// Options configure an Installer. Side effects come in through here.
type Options struct {
	Platform     *platform.Platform
	Logf         func(format string, args ...any) // progress, to stderr
	Proxy        string                           // passed to npm (and later the service)
	CAFiles      []string
	StartTimeout time.Duration // how long the service may take to come up (default 60s)
	Stable       time.Duration // how long it must stay up without restarting (default 3s; --health-grace)
	// Probe, when set, must succeed (within StartTimeout) after the service
	// is up: e.g. the connector answering on its port.
	Probe func(ctx context.Context) error
	Now   func() time.Time
}

// Installer applies artifacts to the platform.
type Installer struct {
	o Options
	p *platform.Platform
}

// New returns an Installer.
func New(o Options) *Installer {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Stable == 0 {
		o.Stable = 3 * time.Second
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = o.Stable + 60*time.Second
	}
	return &Installer{o: o, p: o.Platform}
}

func (in *Installer) logf(format string, args ...any) { in.o.Logf(format, args...) }

// Artifact is a downloaded, verified release file.
type Artifact struct {
	Path     string
	Version  string // e.g. "6.4.1"
	Tag      string // e.g. "v6.4.1"
	Source   string // where it came from, without credentials
	SHA256   string
	Verified string // digest | user-sha256 | signature | none
}

// Request is one install or update.
type Request struct {
	Op       string // "install" (default) or "update"
	Artifact Artifact
	Ticket   string // PROVISIONING_TICKET; never printed
	NoStart  bool
	// Txn, when set, is a transaction the caller began (and journaled
	// through resolve/download/verify); Apply continues it.
	Txn *Txn
}

// Result says what a transaction did.
type Result struct {
	Op              string                `json:"op"`
	Version         string                `json:"version"`
	PreviousVersion string                `json:"previous_version,omitempty"`
	Repair          bool                  `json:"repair"`
	InstallDir      string                `json:"install_dir"`
	ConfigWritten   bool                  `json:"config_written"`
	UnitChanged     bool                  `json:"unit_changed"`
	Started         bool                  `json:"started"`
	Service         platform.ServiceState `json:"service"`
	SHA256          string                `json:"sha256,omitempty"`
	Verified        string                `json:"verified,omitempty"`
	Notes           []string              `json:"notes,omitempty"`
}

// Sibling folders of the install dir used by the transaction. They share
// its filesystem so switching is a rename.
func (in *Installer) staging() string  { return in.sibling("staging") }
func (in *Installer) old() string      { return in.sibling("old") }
func (in *Installer) previous() string { return in.sibling("previous") }
func (in *Installer) failed() string   { return in.sibling("failed") }
func (in *Installer) sibling(kind string) string {
	d := in.p.Paths.InstallDir
	return filepath.Join(filepath.Dir(d), "."+filepath.Base(d)+"."+kind)
}

func (in *Installer) recordPath() string {
	return filepath.Join(in.p.Paths.StateDir, connector.RecordFile)
}
func (in *Installer) previousRecordPath() string {
	return filepath.Join(in.p.Paths.StateDir, "previous.json")
}

// Installed returns the install record, or nil when nothing is installed.
func (in *Installer) Installed() (*connector.InstallRecord, error) {
	r, err := connector.ReadRecord(in.recordPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return r, err
}

// PreviousVersion returns the kept previous version's record, or nil.
func (in *Installer) PreviousVersion() (*connector.InstallRecord, error) {
	if _, err := os.Stat(in.previous()); err != nil {
		return nil, nil
	}
	r, err := connector.ReadRecord(in.previousRecordPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return r, err
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// Txn is a transaction begun by the caller so that resolving and
// downloading are journaled too.
type Txn struct{ j *Journal }

// Enter journals phase (resolve, download or verify) before it starts.
func (t *Txn) Enter(phase string) error { return t.j.enter(phase) }

// Abort ends a transaction that failed before anything was changed.
func (t *Txn) Abort() { t.j.clear() }

// Begin starts an op ("install", "update") journal at the resolve phase.
func (in *Installer) Begin(op string) (*Txn, error) {
	if err := os.MkdirAll(in.p.Paths.StateDir, 0o755); err != nil {
		return nil, err
	}
	j := &Journal{ID: strconv.FormatInt(in.o.Now().UnixNano(), 36), Op: op, StartedAt: in.o.Now(), path: journalPath(in.p)}
	if err := j.enter(PhaseResolve); err != nil {
		j.clear()
		return nil, err
	}
	return &Txn{j: j}, nil
}

// Apply runs the install/update transaction for req.
func (in *Installer) Apply(ctx context.Context, req Request) (*Result, error) {
	p := in.p
	if req.Op == "" {
		req.Op = "install"
	}
	if p.OS == "windows" {
		return nil, fmt.Errorf("%s on Windows: %w", req.Op, platform.ErrNotSupported)
	}
	txn := req.Txn
	if txn == nil {
		var err error
		if txn, err = in.Begin(req.Op); err != nil {
			return nil, err
		}
	}
	j := txn.j
	cur, err := in.Installed()
	if err != nil {
		j.clear()
		return nil, fmt.Errorf("read install record: %w", err)
	}
	fresh := !exists(filepath.Join(p.Paths.InstallDir, "server.js"))
	res := &Result{Op: req.Op, Version: req.Artifact.Version, InstallDir: p.Paths.InstallDir,
		SHA256: req.Artifact.SHA256, Verified: req.Artifact.Verified}
	j.ToVersion, j.Fresh = req.Artifact.Version, fresh
	if cur != nil {
		j.FromVersion = cur.Version
		res.PreviousVersion = cur.Version
		res.Repair = cur.Version == req.Artifact.Version
		j.PrevRecord = cur.Marshal()
	}
	j.KeepOld = !fresh && !res.Repair
	rec := &connector.InstallRecord{
		Version: req.Artifact.Version, Tag: req.Artifact.Tag, Source: redact.URL(req.Artifact.Source),
		SHA256: req.Artifact.SHA256, Verified: req.Artifact.Verified, InstalledAt: in.o.Now().UTC(),
		LastResult: req.Op + " ok",
	}
	if cur != nil && !res.Repair {
		rec.Previous = cur.Version
	} else if cur != nil {
		rec.Previous = cur.Previous
	}
	stage := func() error {
		nodeVer, err := in.stage(ctx, req.Artifact)
		rec.Node = nodeVer
		return err
	}
	return res, in.run(ctx, j, res, rec, stage, req.Ticket, req.NoStart)
}

// run is the transaction from stage on: stage → stop → switch → start →
// health → commit, or rollback.
func (in *Installer) run(ctx context.Context, j *Journal, res *Result, rec *connector.InstallRecord, stage func() error, ticket string, noStart bool) error {
	p := in.p
	if err := j.enter(PhaseStage); err != nil {
		return in.abortBeforeSwitch(j, err)
	}
	if err := stage(); err != nil {
		return in.abortBeforeSwitch(j, err)
	}

	// Record whether the service runs before journaling stop, so recovery
	// knows to start it again.
	svc := p.Services()
	st, stErr := svc.Status(platform.ServiceName)
	j.ServiceWasUp = stErr == nil && st.Installed && st.Running()
	if err := j.enter(PhaseStop); err != nil {
		return in.abortBeforeSwitch(j, err)
	}
	if stErr == nil && st.Installed {
		if st.Active != "inactive" && st.Active != "unknown" {
			in.logf("stopping %s", platform.ServiceName)
			if err := svc.Stop(platform.ServiceName); err != nil {
				return in.abortBeforeSwitch(j, fmt.Errorf("stop service: %w", err))
			}
		}
	}

	j.Record = rec.Marshal()
	if err := j.enter(PhaseSwitch); err != nil {
		return in.undo(ctx, j, err)
	}
	written, err := in.carryCustomerFiles(ticket)
	if err != nil {
		return in.undo(ctx, j, err)
	}
	res.ConfigWritten = written
	if err := in.switchTrees(); err != nil {
		return in.undo(ctx, j, err)
	}

	if err := j.enter(PhaseStart); err != nil {
		return in.undo(ctx, j, err)
	}
	changed, err := in.registerService()
	if err != nil {
		return in.undo(ctx, j, err)
	}
	res.UnitChanged = changed
	if p.Sandboxed() {
		noStart = true
	}
	if !noStart {
		in.logf("starting %s", platform.ServiceName)
		if err := svc.Start(platform.ServiceName); err != nil {
			return in.undo(ctx, j, fmt.Errorf("start service: %w", err))
		}
		res.Started = true
	}

	if err := j.enter(PhaseHealth); err != nil {
		return in.undo(ctx, j, err)
	}
	if !noStart {
		st, err := in.waitHealthy(ctx)
		res.Service = st
		if err != nil {
			return in.undo(ctx, j, err)
		}
	} else {
		res.Service, _ = svc.Status(platform.ServiceName)
	}

	if err := j.enter(PhaseCommit); err != nil {
		return in.undo(ctx, j, err)
	}
	if err := in.commit(j); err != nil {
		return err
	}
	if !written && ticket == "" && !exists(p.Paths.ConfigFile) {
		res.Notes = append(res.Notes, "no config.json yet: run `adldapctl install --ticket URL` with the provisioning ticket from the Auth0 dashboard")
	}
	if p.Sandboxed() {
		res.Notes = append(res.Notes, "--root: the service was written under the root and not started")
	}
	return nil
}

// stage extracts the artifact to the staging folder and installs its
// dependencies. Nothing in the install dir is touched.
func (in *Installer) stage(ctx context.Context, a Artifact) (nodeVer string, err error) {
	st := in.staging()
	if err := os.RemoveAll(st); err != nil {
		return "", err
	}
	in.logf("extracting %s", filepath.Base(a.Path))
	if err := ExtractTarGz(a.Path, st, 1); err != nil {
		os.RemoveAll(st)
		return "", err
	}
	for _, f := range []string{"server.js", "package.json"} {
		if !exists(filepath.Join(st, f)) {
			return "", fmt.Errorf("%w: release has no %s at its top level: this is not an AD/LDAP Connector release", ErrUnsafeArchive, f)
		}
	}
	pj, err := readPackageJSON(st)
	if err != nil {
		return "", err
	}
	engines, err := ReadEnginesNode(filepath.Join(st, "package.json"))
	if err != nil {
		return "", err
	}
	nodeVer, err = nodeVersion(ctx, in.p.NodePath)
	if err != nil {
		return "", err
	}
	if err := CheckNodeEngine(nodeVer, engines); err != nil {
		return "", err
	}
	in.logf("node %s satisfies engines.node %q", nodeVer, engines)
	if err := in.npmInstall(ctx, st, pj, filepath.Join(in.p.Paths.StateDir, "npm.log")); err != nil {
		return "", err
	}
	return nodeVer, nil
}

// carryCustomerFiles copies the customer's files from the install dir into
// the staged tree and writes the ticket into the staged config.json.
func (in *Installer) carryCustomerFiles(ticket string) (configWritten bool, err error) {
	dir, st := in.p.Paths.InstallDir, in.staging()
	cfg, cerr := connector.ReadConfig(filepath.Join(dir, connector.ConfigFile))
	if cerr != nil && !errors.Is(cerr, os.ErrNotExist) {
		if ticket != "" {
			return false, fmt.Errorf("%s: %w; fix it or move it aside before setting a ticket", in.p.Paths.ConfigFile, cerr)
		}
		cfg = nil // still carried byte for byte below
	}
	for _, rel := range connector.CustomerPaths(dir, cfg) {
		src := filepath.Join(dir, filepath.FromSlash(rel))
		if !exists(src) {
			continue
		}
		if err := copyTree(src, filepath.Join(st, filepath.FromSlash(rel))); err != nil {
			return false, fmt.Errorf("keep customer file %s: %w", rel, err)
		}
	}
	if ticket == "" {
		return false, nil
	}
	staged := filepath.Join(st, connector.ConfigFile)
	scfg, err := connector.ReadConfig(staged)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	changed, err := scfg.Set("PROVISIONING_TICKET", ticket)
	if err != nil {
		return false, err
	}
	if !changed && exists(staged) {
		return false, os.Chmod(staged, 0o600)
	}
	in.logf("writing config.json (provisioning ticket set)")
	return true, platform.WriteFileAtomicMode(staged, scfg.Marshal(), 0o600)
}

// switchTrees moves the live tree aside and the staged one into place.
func (in *Installer) switchTrees() error {
	dir := in.p.Paths.InstallDir
	if err := os.RemoveAll(in.old()); err != nil {
		return err
	}
	if exists(dir) {
		if err := os.Rename(dir, in.old()); err != nil {
			return fmt.Errorf("move %s aside: %w", dir, err)
		}
		if err := testHook("switch-mid"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Rename(in.staging(), dir); err != nil {
		return fmt.Errorf("move new version into %s: %w", dir, err)
	}
	if cfg := filepath.Join(dir, connector.ConfigFile); exists(cfg) {
		if err := os.Chmod(cfg, 0o600); err != nil {
			return err
		}
		if !in.p.Sandboxed() {
			if err := platform.OwnByAdmin(cfg); err != nil {
				return fmt.Errorf("config.json must belong to root: %w", err)
			}
		}
	}
	return platform.SyncDir(filepath.Dir(dir))
}

// registerService writes the unit and logrotate files and registers the
// service (daemon-reload, enable).
func (in *Installer) registerService() (bool, error) {
	p := in.p
	node := p.NodePath
	if node == "" {
		node = "/usr/bin/node"
	}
	unit, err := packaging.RenderSystemdUnit(packaging.UnitConfig{
		Description: "Auth0 AD/LDAP Connector",
		Exec:        node,
		Args:        []string{"server.js"},
		WorkingDir:  unrooted(p, p.Paths.InstallDir),
		LogFile:     unrooted(p, p.Paths.LogFile),
		RestartSec:  5 * time.Second,
		Env:         map[string]string{"NODE_ENV": "production"},
	})
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(p.Paths.LogFile), 0o755); err != nil {
		return false, err
	}
	if f, err := os.OpenFile(p.Paths.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640); err == nil {
		f.Close()
	}
	changed, err := p.Services().Install(platform.ServiceSpec{
		Name: platform.ServiceName, DisplayName: "Auth0 ADLDAP", Description: "Auth0 AD/LDAP Connector",
		Exec: node, Args: []string{"server.js"}, WorkingDir: p.Paths.InstallDir, LogFile: p.Paths.LogFile,
		Env:  map[string]string{"NODE_ENV": "production"},
		Unit: unit, Logrotate: packaging.RenderLogrotate(unrooted(p, p.Paths.LogFile)),
	})
	if err != nil {
		return false, fmt.Errorf("register service: %w", err)
	}
	return changed, nil
}

// unrooted returns path as seen from inside the --root (what the unit file
// must say).
func unrooted(p *platform.Platform, path string) string {
	if p.Root == "" {
		return path
	}
	rel, err := filepath.Rel(p.Root, path)
	if err != nil {
		return path
	}
	return "/" + filepath.ToSlash(rel)
}

// waitHealthy waits for the service to be running and to stay up.
func (in *Installer) waitHealthy(ctx context.Context) (platform.ServiceState, error) {
	ctx, cancel := context.WithTimeout(ctx, in.o.StartTimeout)
	defer cancel()
	in.logf("health gate: %s must stay up for %s", platform.ServiceName, in.o.Stable)
	st, err := in.p.Services().WaitRunning(ctx, platform.ServiceName, in.o.Stable)
	if err != nil {
		return st, fmt.Errorf("%w; see %s", err, in.p.Paths.LogFile)
	}
	if in.o.Probe != nil {
		var perr error
		for {
			if perr = in.o.Probe(ctx); perr == nil {
				break
			}
			select {
			case <-ctx.Done():
				return st, fmt.Errorf("%w: the connector does not answer: %v; see %s", platform.ErrServiceUnhealthy, perr, in.p.Paths.LogFile)
			case <-time.After(250 * time.Millisecond):
			}
		}
		// Still running after answering (not crashing right after).
		if st2, err := in.p.Services().Status(platform.ServiceName); err == nil && (!st2.Running() || st2.Restarts != st.Restarts) {
			return st2, fmt.Errorf("%w: %s stopped after answering (state %s/%s); see %s", platform.ErrServiceUnhealthy, platform.ServiceName, st2.Active, st2.Sub, in.p.Paths.LogFile)
		}
	}
	return st, nil
}

// commit makes the new version the installed one.
func (in *Installer) commit(j *Journal) error {
	if err := platform.WriteFileAtomic(in.recordPath(), j.Record, 0o644); err != nil {
		return fmt.Errorf("write install record: %w", err)
	}
	if exists(in.old()) {
		if j.KeepOld {
			// Keep the previous version for rollback; prune the one before.
			// The record first: a crash in between is redone by Recover.
			if len(j.PrevRecord) > 0 {
				if err := platform.WriteFileAtomic(in.previousRecordPath(), j.PrevRecord, 0o644); err != nil {
					return err
				}
			}
			if err := os.RemoveAll(in.previous()); err != nil {
				return err
			}
			if err := os.Rename(in.old(), in.previous()); err != nil {
				return err
			}
		} else if err := os.RemoveAll(in.old()); err != nil {
			return err
		}
	}
	os.RemoveAll(in.staging())
	return j.clear()
}

// abortBeforeSwitch undoes a transaction that has not switched yet: the
// install dir was never touched; the service is started again if we
// stopped it.
func (in *Installer) abortBeforeSwitch(j *Journal, cause error) error {
	if j.Op == OpRollback {
		in.unstagePrevious()
	}
	os.RemoveAll(in.staging())
	if j.ServiceWasUp {
		in.p.Services().Start(platform.ServiceName)
	}
	j.clear()
	return cause
}

// undo rolls a transaction back after (or during) the switch.
func (in *Installer) undo(ctx context.Context, j *Journal, cause error) error {
	if j.Fresh {
		// Nothing to return to. A fresh install whose files are in place
		// stays; the error says what failed.
		in.restorePreInstall()
		if exists(filepath.Join(in.p.Paths.InstallDir, "server.js")) && j.Phase != PhaseSwitch {
			platform.WriteFileAtomic(in.recordPath(), j.Record, 0o644)
		} else {
			os.RemoveAll(in.staging())
		}
		j.clear()
		return cause
	}
	j.enter(PhaseRollback)
	in.logf("rolling back to %s: %v", j.FromVersion, cause)
	if err := in.restoreOld(j); err != nil {
		return fmt.Errorf("%v; rollback also failed: %w (the previous version is in %s)", cause, err, in.old())
	}
	if j.ServiceWasUp {
		svc := in.p.Services()
		if err := svc.Start(platform.ServiceName); err != nil {
			return fmt.Errorf("%v; rolled back to %s but it did not start: %w", cause, j.FromVersion, err)
		}
	}
	j.clear()
	return &RolledBackError{To: j.FromVersion, Cause: cause}
}

// restoreOld puts the moved-aside tree back as the install dir. The tree it
// replaces is discarded, except in a rollback, where it is the kept
// previous version and goes back to being that.
func (in *Installer) restoreOld(j *Journal) error {
	in.p.Services().Stop(platform.ServiceName)
	dir := in.p.Paths.InstallDir
	if j.Op == OpRollback {
		in.unstagePrevious()
	}
	if exists(in.old()) {
		if exists(dir) {
			aside := in.failed()
			if j.Op == OpRollback && !exists(in.previous()) {
				aside = in.previous()
			}
			os.RemoveAll(in.failed())
			if err := os.Rename(dir, aside); err != nil {
				return err
			}
		}
		if err := os.Rename(in.old(), dir); err != nil {
			return err
		}
		platform.SyncDir(filepath.Dir(dir))
		os.RemoveAll(in.failed())
	}
	os.RemoveAll(in.staging())
	return nil
}

// RolledBackError reports a transaction that failed and was rolled back
// cleanly (exit 1).
type RolledBackError struct {
	To    string
	Cause error
}

func (e *RolledBackError) Error() string {
	return fmt.Sprintf("%v; rolled back to %s", e.Cause, e.To)
}
func (e *RolledBackError) Unwrap() error { return e.Cause }

// restorePreInstall puts back a folder that held only the customer's
// pre-staged files (config.json, certs/) when a fresh install stopped
// between moving it aside and moving the new tree in.
func (in *Installer) restorePreInstall() {
	dir := in.p.Paths.InstallDir
	if !exists(dir) && exists(in.old()) {
		os.Rename(in.old(), dir)
		platform.SyncDir(filepath.Dir(dir))
	}
}
