package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/packaging"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// Step is the part of a transaction that differs per platform: how a new
// version is prepared, put in place and taken back. The journal, the
// recovery rules, the service handling, the health gate and the rollback
// decisions around it are the same everywhere.
type Step interface {
	// Live reports whether a version of the connector is in place.
	Live() bool
	// Stage prepares the version in artifact beside the live one without
	// touching it, and returns the node version it will run on. bundle is
	// the manifest text of a bundle checked against the host (its
	// dependencies are in it: npm does not run), nil for a source release.
	// It may record what recovery needs in j (and save it with
	// Installer.save).
	Stage(ctx context.Context, j *Journal, artifact string, bundle []byte) (nodeVersion string, err error)
	// StagePrevious prepares the kept previous version (rollback).
	StagePrevious(j *Journal) error
	// Kept reports whether the version kept for rollback, version, is
	// still there to go back to.
	Kept(version string) bool
	// Unstage discards what Stage or StagePrevious prepared (a rollback's
	// previous version goes back to being kept).
	Unstage(j *Journal) error
	// Switch puts the staged version in place with the customer's files as
	// they are now, writing ticket into config.json when set.
	Switch(ctx context.Context, j *Journal, ticket string) (configWritten bool, err error)
	// Register makes sure the service is registered as it should be.
	Register(ctx context.Context) (changed bool, err error)
	// Restore puts back the version that was live before the switch, with
	// the customer's files as they were at switch time.
	Restore(j *Journal) error
	// RestorePreInstall undoes an interrupted fresh install's switch.
	RestorePreInstall(j *Journal)
	// Commit makes the switched version the installed one: writes the
	// install record, keeps the one before for rollback, prunes older.
	Commit(j *Journal) error
}

// treeStep is the Linux step: the release is a source tree staged in a
// sibling folder of the install dir and swapped in with two renames.
type treeStep struct{ in *Installer }

var _ Step = (*treeStep)(nil)

func (s *treeStep) Live() bool {
	return exists(filepath.Join(s.in.p.Paths.InstallDir, "server.js"))
}

// Stage extracts the artifact to the staging folder and installs its
// dependencies (a bundle has them already). Nothing in the install dir is
// touched.
func (s *treeStep) Stage(ctx context.Context, _ *Journal, artifact string, bundle []byte) (string, error) {
	in := s.in
	st := in.staging()
	if err := os.RemoveAll(st); err != nil {
		return "", err
	}
	in.logf("extracting %s", filepath.Base(artifact))
	if err := ExtractTarGzLimited(artifact, st, 1, in.o.ArchiveLimits); err != nil {
		return "", errors.Join(err, os.RemoveAll(st))
	}
	for _, f := range []string{"server.js", "package.json"} {
		if !exists(filepath.Join(st, f)) {
			return "", fmt.Errorf("%w: release has no %s at its top level: this is not an AD/LDAP Connector release", ErrUnsafeArchive, f)
		}
	}
	pkg, err := connector.ReadPackage(filepath.Join(st, "package.json"))
	if err != nil {
		return "", fmt.Errorf("release package.json: %w", err)
	}
	nodeVer, err := in.nodeVersion(ctx)
	if err != nil {
		return "", err
	}
	if err := CheckNodeEngine(nodeVer, pkg.EnginesNode); err != nil {
		return "", err
	}
	in.logf("node %s satisfies engines.node %q", nodeVer, pkg.EnginesNode)
	if bundle != nil {
		if err := stageBundle(st, bundle, pkg); err != nil {
			return "", err
		}
		in.logf("bundle: dependencies already installed, npm not run")
		return nodeVer, nil
	}
	if exists(filepath.Join(st, updater.BundleManifestFile)) {
		return "", fmt.Errorf("%w: the release holds a %s that is not at the archive's start: a bundle is built by adldapctl mirror build --bundle", ErrUnsafeArchive, updater.BundleManifestFile)
	}
	if err := in.npmInstall(ctx, st, pkg, filepath.Join(in.p.Paths.StateDir, "npm.log")); err != nil {
		return "", err
	}
	return nodeVer, nil
}

func (s *treeStep) Kept(string) bool { return exists(s.in.previous()) }

func (s *treeStep) StagePrevious(*Journal) error {
	in := s.in
	if err := os.RemoveAll(in.staging()); err != nil {
		return err
	}
	if err := os.Rename(in.previous(), in.staging()); err != nil {
		return err
	}
	return platform.SyncDir(filepath.Dir(in.staging()))
}

func (s *treeStep) Unstage(j *Journal) error {
	in := s.in
	if j.Op == string(OpRollback) && exists(in.staging()) && !exists(in.previous()) {
		if err := os.Rename(in.staging(), in.previous()); err != nil {
			return err
		}
	}
	return os.RemoveAll(in.staging())
}

// Switch copies the customer's files from the install dir into the staged
// tree, writes the ticket, and swaps the trees.
func (s *treeStep) Switch(ctx context.Context, _ *Journal, ticket string) (bool, error) {
	written, err := s.carryCustomerFiles(ticket)
	if err != nil {
		return false, err
	}
	return written, s.switchTrees()
}

func (s *treeStep) carryCustomerFiles(ticket string) (configWritten bool, err error) {
	in := s.in
	dir, st := in.p.Paths.InstallDir, in.staging()
	cfg, cerr := connector.ReadConfig(filepath.Join(dir, connector.ConfigFile))
	if cerr != nil && !errors.Is(cerr, os.ErrNotExist) {
		if ticket != "" {
			return false, fmt.Errorf("%s: %w; fix it or move it aside before setting a ticket", in.p.Paths.ConfigFile, cerr)
		}
		cfg = nil // still carried byte for byte below
	}
	for _, rel := range in.layout().CustomerPaths(cfg) {
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
	res, err := connector.EditConfig(staged, func(c *connector.Config) error {
		_, err := c.Set("PROVISIONING_TICKET", ticket)
		return err
	})
	if err != nil {
		return false, err
	}
	if !res.Changed {
		return false, os.Chmod(staged, 0o600)
	}
	in.logf("wrote config.json (provisioning ticket set)")
	if res.BOMRemoved {
		in.logf("config.json: UTF-8 byte order mark removed (Node cannot parse a file that starts with one)")
	}
	return true, os.Chmod(staged, 0o600)
}

// switchTrees moves the live tree aside and the staged one into place.
func (s *treeStep) switchTrees() error {
	in := s.in
	dir := in.p.Paths.InstallDir
	if err := os.RemoveAll(in.old()); err != nil {
		return err
	}
	if exists(dir) {
		if err := os.Rename(dir, in.old()); err != nil {
			return fmt.Errorf("move %s aside: %w", dir, err)
		}
		if err := in.hook("switch-mid"); err != nil {
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

// Register writes the unit and logrotate files and registers the service
// (daemon-reload, enable).
func (s *treeStep) Register(ctx context.Context) (bool, error) {
	p := s.in.p
	node := p.NodePath
	if node == "" {
		node = "/usr/bin/node"
	}
	unit, err := packaging.RenderSystemdUnit(packaging.UnitConfig{
		Description:  "Auth0 AD/LDAP Connector",
		Exec:         node,
		Args:         []string{"server.js"},
		WorkingDir:   p.Unrooted(p.Paths.InstallDir),
		LogFile:      p.Unrooted(p.Paths.LogFile),
		RestartDelay: 5 * time.Second,
		Env:          map[string]string{"NODE_ENV": "production"},
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
	changed, err := s.in.svc.Install(platform.ServiceSpec{
		Name: p.Service, DisplayName: "Auth0 ADLDAP", Description: "Auth0 AD/LDAP Connector",
		Exec: node, Args: []string{"server.js"}, WorkingDir: p.Paths.InstallDir, LogFile: p.Paths.LogFile,
		Env:  map[string]string{"NODE_ENV": "production"},
		Unit: unit, Logrotate: packaging.RenderLogrotate(p.Unrooted(p.Paths.LogFile)),
	})
	if err != nil {
		return false, fmt.Errorf("register service %s: %w", p.Service, err)
	}
	return changed, nil
}

// Restore puts the moved-aside tree back as the install dir. The tree it
// replaces is discarded, except in a rollback, where it is the kept
// previous version and goes back to being that.
func (s *treeStep) Restore(j *Journal) error {
	in := s.in
	if err := in.svc.Stop(in.p.Service); err != nil && !in.fileOnly {
		in.logf("stopping %s before restoring: %v", in.p.Service, err)
	}
	dir := in.p.Paths.InstallDir
	if j.Op == string(OpRollback) && exists(in.staging()) && !exists(in.previous()) {
		if err := os.Rename(in.staging(), in.previous()); err != nil {
			return err
		}
	}
	if exists(in.old()) {
		if exists(dir) {
			aside := in.failed()
			if j.Op == string(OpRollback) && !exists(in.previous()) {
				aside = in.previous()
			}
			if err := os.RemoveAll(in.failed()); err != nil {
				return err
			}
			if err := os.Rename(dir, aside); err != nil {
				return err
			}
		}
		if err := os.Rename(in.old(), dir); err != nil {
			return err
		}
		if err := platform.SyncDir(filepath.Dir(dir)); err != nil {
			return err
		}
	}
	return errors.Join(os.RemoveAll(in.failed()), os.RemoveAll(in.staging()))
}

// RestorePreInstall puts back a folder that held only the customer's
// pre-staged files (config.json, certs/) when a fresh install stopped
// between moving it aside and moving the new tree in.
func (s *treeStep) RestorePreInstall(*Journal) {
	in := s.in
	dir := in.p.Paths.InstallDir
	if !exists(dir) && exists(in.old()) {
		if err := os.Rename(in.old(), dir); err != nil {
			in.logf("warning: could not put %s back as %s: %v", in.old(), dir, err)
		} else if err := platform.SyncDir(filepath.Dir(dir)); err != nil {
			in.logf("warning: sync %s: %v", filepath.Dir(dir), err)
		}
	}
}

// Commit makes the new version the installed one.
func (s *treeStep) Commit(j *Journal) error {
	in := s.in
	if _, err := connector.ParseRecord(j.Record); err != nil {
		return fmt.Errorf("refusing to write an invalid install record from %s: %w", j.path, err)
	}
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
			if _, err := connector.RestrictConfigCopies(in.previous()); err != nil {
				return fmt.Errorf("make the kept version's config.json private: %w", err)
			}
		} else if err := os.RemoveAll(in.old()); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(in.staging()); err != nil {
		return err
	}
	return j.clear()
}
