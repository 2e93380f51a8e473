package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// Options configure an Installer. Every side effect comes in through here.
type Options struct {
	Platform *platform.Platform
	// Services drives the connector's service; nil means the platform's
	// (the host's manager, or the file-only one under --root).
	Services platform.ServiceManager
	// Runner runs node and npm; nil means the real processes.
	Runner Runner
	// Fetcher downloads and verifies artifacts; nil means an
	// updater.Downloader with default settings.
	Fetcher Fetcher
	// Hook is called after each phase is journaled and before it starts
	// (and between the two renames of a switch, as "switch-mid"); an error
	// fails the phase. nil means the build's hook: none in a release build,
	// ADLDAPCTL_TEST_HOOK in a test build.
	Hook func(phase string) error
	Now  func() time.Time
	Logf func(format string, args ...any) // progress, to stderr

	Proxy   string // passed to npm
	CAFiles []string

	// ArchiveLimits bound what an artifact may unpack to (zero fields:
	// the defaults).
	ArchiveLimits ArchiveLimits

	StartTimeout time.Duration // how long the service may take to come up (default Stable + 60s)
	Stable       time.Duration // how long it must stay up without restarting (default 3s; --health-grace)
	// FindConnector finds the installed connector on Windows (the MSI
	// product and its service); nil means Platform.FindConnector.
	FindConnector func() (*platform.ConnectorProduct, error)
	// MSIBusyWait bounds how long an msiexec run waits for another
	// installation to finish (msiexec exit 1618, or an msiexec an
	// interrupted run left behind); default 10 minutes.
	MSIBusyWait time.Duration
	// WaitProcess waits until process pid has exited, or ctx ends; nil
	// means the OS's (Windows: an msiexec.exe left running by a killed
	// adldapctl).
	WaitProcess func(ctx context.Context, pid int) error

	// Probe must succeed (within StartTimeout) once the service is up;
	// nil means the connector's own probe: an answer on config.json's PORT
	// when it sets one.
	Probe func(ctx context.Context) error
}

// Fetcher downloads an artifact into dir and verifies it
// (updater.Downloader).
type Fetcher interface {
	Fetch(ctx context.Context, a updater.Artifact, dir string, vo updater.VerifyOptions) (*updater.Result, error)
}

// Runner runs the programs the installer needs (node, npm).
type Runner interface {
	LookPath(name string) (string, error)
	Run(ctx context.Context, c *Command) error
}

// Command is one program run.
type Command struct {
	Path   string
	Args   []string
	Dir    string
	Env    []string // nil means the current environment
	Stdout io.Writer
	Stderr io.Writer
	// Started, when set, is called with the process id once the program
	// runs (before Run waits for it).
	Started func(pid int)
}

type execRunner struct{}

func (execRunner) LookPath(name string) (string, error) { return exec.LookPath(name) }

func (execRunner) Run(ctx context.Context, c *Command) error {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = c.Dir, c.Env, c.Stdout, c.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	if c.Started != nil {
		c.Started(cmd.Process.Pid)
	}
	return cmd.Wait()
}

// Installer runs transactions on one platform.
type Installer struct {
	o        Options
	p        *platform.Platform
	svc      platform.ServiceManager
	fileOnly bool // svc only writes files (--root): nothing to start or wait for
	run      Runner
	fetch    Fetcher
	hook     func(string) error
	step     Step
	notes    []string // what the step wants the result to say (a reboot is needed)
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
	in := &Installer{o: o, p: o.Platform, svc: o.Services, run: o.Runner, fetch: o.Fetcher, hook: o.Hook}
	if in.svc == nil {
		in.svc = in.p.Services()
		in.fileOnly = in.p.Sandboxed()
	}
	if in.run == nil {
		in.run = execRunner{}
	}
	if in.fetch == nil {
		in.fetch = &updater.Downloader{Logf: o.Logf}
	}
	if in.hook == nil {
		in.hook = buildHook()
	}
	if in.hook == nil {
		in.hook = func(string) error { return nil }
	}
	if in.o.Probe == nil {
		in.o.Probe = in.portProbe
	}
	if in.o.MSIBusyWait == 0 {
		in.o.MSIBusyWait = 10 * time.Minute
	}
	if in.o.FindConnector == nil {
		in.o.FindConnector = in.p.FindConnector
	}
	if in.o.WaitProcess == nil {
		in.o.WaitProcess = waitProcess
	}
	if in.p.OS == "windows" {
		in.step = &msiStep{in: in}
	} else {
		in.step = &treeStep{in: in}
	}
	return in
}

func (in *Installer) logf(format string, args ...any) { in.o.Logf(format, args...) }

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
	if err != nil {
		return nil, fmt.Errorf("install record %s: %w", in.recordPath(), err)
	}
	return r, nil
}

// PreviousVersion returns the kept previous version's record, or nil.
func (in *Installer) PreviousVersion() (*connector.InstallRecord, error) {
	r, err := connector.ReadRecord(in.previousRecordPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		if !in.step.Kept("") {
			return nil, nil
		}
		return nil, fmt.Errorf("previous version's record %s: %w", in.previousRecordPath(), err)
	}
	if !in.step.Kept(r.Version) {
		return nil, nil
	}
	return r, nil
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// layout is the install as the connector sees it (without --root).
func (in *Installer) layout() connector.Layout {
	return connector.Layout{InstallDir: in.p.Paths.InstallDir, ConnectorDir: in.p.Unrooted(in.p.Paths.InstallDir), OS: in.p.OS}
}

// checkCustomerPaths refuses, before anything changes, a config.json whose
// PROFILE_MAPPER_FILE or SSL_CA_PATH would make a transaction keep program
// files or lose the customer's. An SSL_CA_PATH outside the install dir is
// fine: no transaction touches it and the connector reads it where it is.
func (in *Installer) checkCustomerPaths() error {
	cfg, err := connector.ReadConfig(in.p.Paths.ConfigFile)
	if err != nil {
		return nil // unreadable: carried byte for byte, checked by verify
	}
	err = in.layout().Check(cfg)
	if err == nil {
		return nil
	}
	var keep []error
	for _, e := range flatten(err) {
		var cpe *connector.CustomerPathError
		if errors.As(e, &cpe) && cpe.Key == connector.KeyCAPath && cpe.Outside {
			continue
		}
		keep = append(keep, e)
	}
	if len(keep) == 0 {
		return nil
	}
	return fmt.Errorf("nothing was changed: %w", errors.Join(keep...))
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
