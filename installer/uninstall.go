package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
)

// UninstallResult says what Uninstall did.
type UninstallResult struct {
	Removed []string `json:"removed"`
	Kept    []string `json:"kept"`
}

// Uninstall removes the service and the program files. The customer's files
// stay in the install dir unless purge is set; with purge the install dir,
// the kept previous version, adldapctl's state and the log go too.
func (in *Installer) Uninstall(purge bool) (*UninstallResult, error) {
	p := in.p
	res := &UninstallResult{}
	if err := in.supported(); err != nil {
		return nil, err
	}
	if ms, ok := in.step.(*msiStep); ok {
		return ms.uninstall(purge)
	}
	svc := in.svc
	hadUnit := exists(p.Paths.UnitFile)
	if err := svc.Uninstall(p.Service); err != nil {
		return nil, fmt.Errorf("remove service: %w", err)
	}
	if hadUnit {
		res.Removed = append(res.Removed, p.Paths.UnitFile)
	}
	dir := p.Paths.InstallDir
	if purge {
		// The proxy's service environment (see platform.SetServiceEnv).
		senv, err := p.SetServiceEnv(nil)
		if err != nil && !errors.Is(err, platform.ErrNotSupported) {
			return res, fmt.Errorf("remove the service environment: %w", err)
		}
		if senv != nil {
			res.Removed = append(res.Removed, senv.Files...)
		}
		for _, d := range []string{dir, in.previous(), in.old(), in.staging(), in.failed(), p.Paths.StateDir, p.Paths.CacheDir, p.Paths.LogFile} {
			if exists(d) {
				if err := os.RemoveAll(d); err != nil {
					return res, err
				}
				res.Removed = append(res.Removed, d)
			}
		}
		return res, nil
	}
	cfg, _ := connector.ReadConfig(filepath.Join(dir, connector.ConfigFile))
	keep := map[string]bool{}
	for _, rel := range in.layout().CustomerPaths(cfg) {
		keep[filepath.FromSlash(rel)] = true
	}
	if err := removeExcept(dir, dir, keep, res); err != nil {
		return res, err
	}
	for _, d := range []string{in.previous(), in.old(), in.staging(), in.failed()} {
		if exists(d) {
			if err := os.RemoveAll(d); err != nil {
				return res, err
			}
			res.Removed = append(res.Removed, d)
		}
	}
	for _, f := range []string{in.recordPath(), in.previousRecordPath()} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return res, err
		}
	}
	sort.Strings(res.Kept)
	return res, nil
}

// removeExcept deletes everything under dir except the kept paths (and the
// folders leading to them).
func removeExcept(root, dir string, keep map[string]bool, res *UninstallResult) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		full := filepath.Join(dir, e.Name())
		rel, _ := filepath.Rel(root, full)
		if keep[rel] {
			res.Kept = append(res.Kept, full)
			continue
		}
		if e.IsDir() && leadsToKept(rel, keep) {
			if err := removeExcept(root, full, keep, res); err != nil {
				return err
			}
			continue
		}
		if err := os.RemoveAll(full); err != nil {
			return err
		}
	}
	if dir != root {
		_ = os.Remove(dir) // only succeeds when empty, as it should
	}
	return nil
}

func leadsToKept(rel string, keep map[string]bool) bool {
	prefix := rel + string(filepath.Separator)
	for k := range keep {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}
