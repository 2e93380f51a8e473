package platform

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/adldapctl/adldapctl/packaging"
)

// ServiceEnvResult says what SetServiceEnv changed.
type ServiceEnvResult struct {
	Changed bool // a file or registry value was written or removed
	// Files are the files written or removed; on Windows the registry
	// values (HKLM\...\AppEnvironmentExtra or ...\Environment).
	Files    []string
	Registry bool // Files name registry values, not files (Windows)
	Reloaded bool // systemd was told (daemon-reload)
	// Note says what the admin must know: under --root nothing was
	// reloaded; on a SysV host an old init script must be re-rendered.
	Note string
}

// ServiceEnv reads the variables adldapctl set for the connector's service
// (nil when none): on Windows from the service's registry environment.
func (p *Platform) ServiceEnv() (map[string]string, error) {
	if p.OS == "windows" && !p.Sandboxed() {
		return p.windowsServiceEnv()
	}
	if p.Paths.ServiceEnvFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(p.Paths.ServiceEnvFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return packaging.ParseEnvFile(data)
}

// SetServiceEnv makes env the connector service's extra environment: a
// 0600 file (Paths.ServiceEnvFile) that systemd reads through a drop-in
// (Paths.ServiceDropIn, reloaded with daemon-reload) and a SysV init script
// sources. An empty env removes both. Values never go into a file others
// can read. The service is not restarted here.
//
// On Windows (see setWindowsServiceEnv) it is the REG_MULTI_SZ environment
// of the connector's service, and of the admin console's when installed:
// nssm's Parameters\AppEnvironmentExtra for an nssm-hosted service, the
// service key's Environment otherwise; entries that are not adldapctl's
// (ProxyEnvKeys) are kept. Under --root on Windows there is no registry to
// write: ErrNotSupported, and config.json alone carries the proxy.
func (p *Platform) SetServiceEnv(env map[string]string) (*ServiceEnvResult, error) {
	if p.OS == "windows" && !p.Sandboxed() {
		return p.setWindowsServiceEnv(env)
	}
	if p.Paths.ServiceEnvFile == "" {
		return nil, fmt.Errorf("the service environment: %w (--root on Windows: the service environment is in the registry, which a folder cannot hold)", ErrNotSupported)
	}
	res := &ServiceEnvResult{}
	withDropIn := p.Init == "systemd" || p.Sandboxed()
	if len(env) == 0 {
		for _, f := range []string{p.Paths.ServiceDropIn, p.Paths.ServiceEnvFile} {
			err := os.Remove(f)
			switch {
			case err == nil:
				res.Changed = true
				res.Files = append(res.Files, f)
			case !errors.Is(err, os.ErrNotExist):
				return res, fmt.Errorf("remove %s: %w", f, err)
			}
		}
		if dir := filepath.Dir(p.Paths.ServiceDropIn); res.Changed {
			_ = os.Remove(dir) // only when empty: another drop-in may live there
		}
	} else {
		data, err := packaging.RenderEnvFile(env)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(p.Paths.ServiceEnvFile), 0o755); err != nil {
			return nil, err
		}
		changed, err := writeIfChangedMode(p.Paths.ServiceEnvFile, data, 0o600)
		if err != nil {
			return res, fmt.Errorf("write %s: %w", p.Paths.ServiceEnvFile, err)
		}
		if changed {
			res.Changed = true
			res.Files = append(res.Files, p.Paths.ServiceEnvFile)
		}
		if withDropIn {
			dropIn, err := packaging.RenderDropIn(unrootedPath(p, p.Paths.ServiceEnvFile))
			if err != nil {
				return res, err
			}
			changed, err := writeIfChangedMode(p.Paths.ServiceDropIn, dropIn, 0o644)
			if err != nil {
				return res, fmt.Errorf("write %s: %w", p.Paths.ServiceDropIn, err)
			}
			if changed {
				res.Changed = true
				res.Files = append(res.Files, p.Paths.ServiceDropIn)
			}
		}
	}
	switch {
	case p.Sandboxed():
		res.Note = sandboxNote
	case !res.Changed:
	case p.Init == "systemd":
		if err := p.reloadServiceManager(); err != nil {
			return res, err
		}
		res.Reloaded = true
	case p.Init == "sysv":
		if script, err := os.ReadFile(p.Paths.UnitFile); err == nil && !strings.Contains(string(script), p.Paths.ServiceEnvFile) {
			res.Note = "the init script " + p.Paths.UnitFile + " predates this adldapctl and does not read " +
				p.Paths.ServiceEnvFile + ": run 'adldapctl install' to repair it (config.json is set either way)"
		}
	}
	return res, nil
}

// ServiceEnvLocation says where the service environment is kept, for
// messages: the env file on Linux, the registry value on Windows.
func (p *Platform) ServiceEnvLocation() string {
	if p.OS == "windows" && !p.Sandboxed() {
		return p.windowsServiceEnvLocation()
	}
	return p.Paths.ServiceEnvFile
}

// writeIfChangedMode writes data atomically with perm forced (an existing
// file with a wider mode is narrowed) unless the content and mode are
// already right.
func writeIfChangedMode(path string, data []byte, perm os.FileMode) (bool, error) {
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode().Perm() == perm {
			if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
				return false, nil
			}
		} else if err := os.Chmod(path, perm); err != nil {
			// Narrow it first: the temp file takes the old file's mode.
			return false, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	// The temp file gets perm before any byte is written to it.
	if err := WriteFileAtomicMode(path, data, perm); err != nil {
		return false, err
	}
	return true, nil
}

// unrootedPath is path as seen from inside the --root.
func unrootedPath(p *Platform, path string) string {
	if p.Root == "" {
		return path
	}
	rel, err := filepath.Rel(p.Root, path)
	if err != nil {
		return path
	}
	return "/" + filepath.ToSlash(rel)
}
