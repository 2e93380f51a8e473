package platform

import (
	"context"
	"os"
	"time"
)

// fileServices is the service manager under --root: it writes the unit and
// logrotate files under the root and never calls the host's manager.
type fileServices struct{ p *Platform }

const sandboxNote = "--root: service files written under the root; no service manager called"

func (f *fileServices) Install(spec ServiceSpec) (bool, error) {
	if f.p.Paths.UnitFile == "" {
		return false, nil
	}
	changed, err := writeIfChanged(f.p.Paths.UnitFile, spec.Unit, 0o644)
	if err != nil {
		return false, err
	}
	if spec.Logrotate != nil && f.p.Paths.LogrotateFile != "" {
		c, err := writeIfChanged(f.p.Paths.LogrotateFile, spec.Logrotate, 0o644)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	return changed, nil
}

func (f *fileServices) Uninstall(string) error {
	for _, p := range []string{f.p.Paths.UnitFile, f.p.Paths.LogrotateFile} {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

func (f *fileServices) Start(string) error   { return nil }
func (f *fileServices) Stop(string) error    { return nil }
func (f *fileServices) Restart(string) error { return nil }

func (f *fileServices) WaitRunning(ctx context.Context, name string, stable time.Duration) (ServiceState, error) {
	return f.Status(name)
}

func (f *fileServices) Status(string) (ServiceState, error) {
	_, err := os.Stat(f.p.Paths.UnitFile)
	return ServiceState{Installed: err == nil, Active: "unknown", Note: sandboxNote}, nil
}

func writeIfChanged(path string, data []byte, perm os.FileMode) (bool, error) {
	old, err := os.ReadFile(path)
	if err == nil && string(old) == string(data) {
		return false, nil
	}
	return true, WriteFileAtomic(path, data, perm)
}
