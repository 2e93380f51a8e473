package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/testfeed"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// fakeServices is an in-memory service manager. A service whose live
// server.js is the crashing sample fails its health wait, as systemd's
// restart loop would.
type fakeServices struct {
	mu        sync.Mutex
	dir       string // install dir, to see what would run
	installed bool
	running   bool
	startErr  error // Start fails with it when set
	starts    int
	stops     int
}

var _ platform.ServiceManager = (*fakeServices)(nil)

func (f *fakeServices) Install(platform.ServiceSpec) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := !f.installed
	f.installed = true
	return changed, nil
}
func (f *fakeServices) Uninstall(string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.installed, f.running = false, false
	return nil
}
func (f *fakeServices) Start(string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	if f.startErr != nil {
		return f.startErr
	}
	if !f.installed {
		return platform.ErrServiceNotInstalled
	}
	f.running = true
	return nil
}
func (f *fakeServices) Stop(string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops++
	f.running = false
	return nil
}
func (f *fakeServices) Restart(n string) error { f.Stop(n); return f.Start(n) }
func (f *fakeServices) Status(string) (platform.ServiceState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := platform.ServiceState{Installed: f.installed, Active: "inactive"}
	if f.running {
		st.Active, st.Sub, st.PID = "active", "running", 4242
	}
	return st, nil
}
func (f *fakeServices) WaitRunning(ctx context.Context, name string, stable time.Duration) (platform.ServiceState, error) {
	st, _ := f.Status(name)
	if b, _ := os.ReadFile(filepath.Join(f.dir, "server.js")); bytes.Contains(b, []byte("CRASH_ON_START = true")) {
		return platform.ServiceState{Installed: true, Active: "failed"}, fmt.Errorf("%w: %s exited after starting", platform.ErrServiceUnhealthy, name)
	}
	if !st.Running() {
		return st, fmt.Errorf("%w: %s is not running", platform.ErrServiceUnhealthy, name)
	}
	return st, nil
}

// fakeRunner answers node --version and succeeds at npm.
type fakeRunner struct{}

func (fakeRunner) LookPath(name string) (string, error) { return "/fake/bin/" + name, nil }
func (fakeRunner) Run(ctx context.Context, c *Command) error {
	if len(c.Args) == 1 && c.Args[0] == "--version" && c.Stdout != nil {
		fmt.Fprintln(c.Stdout, "v22.11.0")
	}
	return nil
}

// crashPanic is what the crash hook panics with: the process "dies" there,
// with no cleanup of any kind.
type crashPanic struct{ phase string }

// runCrashable runs f as a process the crash hook may kill: crashed is
// true when it died (a crashPanic), err is f's error otherwise. Any other
// panic goes on.
func runCrashable(f func() error) (err error, crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crashPanic); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	return f(), false
}

type bed struct {
	t     *testing.T
	root  string
	plat  *platform.Platform
	svc   *fakeServices
	files map[string]string // version → artifact path
	// noMapper: the customer has no profile mapper of their own.
	noMapper bool
	// mayBeDown: a fresh install that failed its start or health gate
	// stays installed (there is nothing to go back to) but not running.
	mayBeDown bool
}

var customer = map[string]string{
	"config.json":          "{\n  \"LDAP_URL\": \"ldaps://dc.example.test\",\n  \"PORT\": 0\n}\n",
	"certs/cert.key":       "fixture private key, not a real one\n",
	"lib/profileMapper.js": "module.exports = function (u) { return { customised: true }; };\n",
}

func newBed(t *testing.T) *bed {
	t.Helper()
	// A memory file system when there is one: the transaction fsyncs every
	// journal entry, and these tests run hundreds of them.
	root := t.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "adldapctl-test-"); err == nil {
			root = d
			t.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	p, err := platform.Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	p.OS, p.NodePath = "linux", "/fake/bin/node"
	b := &bed{t: t, root: root, plat: p, svc: &fakeServices{dir: p.Paths.InstallDir}, files: map[string]string{}}
	for _, v := range []string{"6.4.1", "6.5.0"} {
		b.artifact(v, testfeed.SampleOptions{})
	}
	return b
}

func (b *bed) artifact(v string, o testfeed.SampleOptions) string {
	data, err := testfeed.SourceTarball(v, o)
	if err != nil {
		b.t.Fatal(err)
	}
	dir := filepath.Join(b.root, "artifacts", v)
	if o.CrashOnStart {
		dir += "-crash"
	}
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, "ad-ldap-connector-v"+v+".tar.gz")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.files[v] = path
	return path
}

func (b *bed) installer(hook func(string) error) *Installer {
	return New(Options{Platform: b.plat, Services: b.svc, Runner: fakeRunner{}, Hook: hook,
		Stable: time.Millisecond, Probe: func(context.Context) error { return nil }})
}

func (b *bed) plan(op Op, v string) Plan {
	if op == OpRollback {
		return Plan{Op: op}
	}
	src, err := updater.NewFileSource(b.files[v], v)
	if err != nil {
		b.t.Fatal(err)
	}
	return Plan{Op: op, Source: src, Version: v}
}

func (b *bed) writeCustomer() {
	for rel, data := range customer {
		p := filepath.Join(b.plat.Paths.InstallDir, rel)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			b.t.Fatal(err)
		}
	}
}

var versionRe = regexp.MustCompile(`const VERSION = '([^']+)';`)

// live returns the version the install dir would run, "" when none.
func (b *bed) live() string {
	data, err := os.ReadFile(filepath.Join(b.plat.Paths.InstallDir, "server.js"))
	if err != nil {
		return ""
	}
	m := versionRe.FindSubmatch(data)
	if m == nil {
		b.t.Fatalf("live server.js has no VERSION line")
	}
	return string(m[1])
}

// check asserts the consistent state every transaction must leave: no
// journal, no stray sibling folders, the record naming what is live, the
// customer's files byte for byte, and a live version running.
func (b *bed) check(wantVersions ...string) string {
	t := b.t
	t.Helper()
	in := b.installer(nil)
	if exists(journalPath(b.plat)) {
		t.Errorf("journal left behind")
	}
	for _, d := range []string{in.staging(), in.old(), in.failed()} {
		if exists(d) {
			t.Errorf("%s left behind", filepath.Base(d))
		}
	}
	live := b.live()
	rec, err := in.Installed()
	if err != nil {
		t.Fatalf("install record: %v", err)
	}
	switch {
	case rec == nil && live != "":
		t.Errorf("%s is live but there is no install record", live)
	case rec != nil && rec.Version != live:
		t.Errorf("install record says %s, live tree is %q", rec.Version, live)
	}
	ok := false
	for _, w := range wantVersions {
		ok = ok || w == live
	}
	if !ok {
		t.Errorf("live version %q, want one of %q", live, wantVersions)
	}
	for rel, data := range customer {
		if b.noMapper && rel == "lib/profileMapper.js" {
			continue // the stock one
		}
		got, err := os.ReadFile(filepath.Join(b.plat.Paths.InstallDir, rel))
		if err != nil || string(got) != data {
			t.Errorf("customer file %s: %q, %v; want it byte for byte", rel, got, err)
		}
	}
	if live != "" && !b.mayBeDown {
		if st, _ := b.svc.Status(platform.ServiceName); !st.Running() {
			t.Errorf("%s is installed but the service is not running", live)
		}
	}
	return live
}

// phasesWithMid is every hook point of a transaction.
var phasesWithMid = append(append([]string{}, Phases...), "switch-mid", PhaseRollback)

// TestTransactionFailureAtEveryPhase runs install, update and rollback
// with a failure injected at every phase, as an error and as a crash
// followed by recovery, and asserts the state each leaves.
func TestTransactionFailureAtEveryPhase(t *testing.T) {
	type scenario struct {
		name     string
		setup    func(b *bed)
		plan     func(b *bed) Plan
		from, to string // from "" = fresh install
	}
	installed := func(v string) func(b *bed) {
		return func(b *bed) {
			b.writeCustomer()
			if _, err := b.installer(nil).Run(context.Background(), b.plan(OpInstall, v)); err != nil {
				t.Fatalf("install %s: %v", v, err)
			}
		}
	}
	scenarios := []scenario{
		{name: "install", setup: func(b *bed) {
			b.writeCustomer()
			os.RemoveAll(filepath.Join(b.plat.Paths.InstallDir, "lib"))
			b.noMapper = true
		},
			plan: func(b *bed) Plan { return b.plan(OpInstall, "6.4.1") }, to: "6.4.1"},
		{name: "update", setup: installed("6.4.1"), plan: func(b *bed) Plan { return b.plan(OpUpdate, "6.5.0") }, from: "6.4.1", to: "6.5.0"},
		{name: "rollback", setup: func(b *bed) {
			installed("6.4.1")(b)
			if _, err := b.installer(nil).Run(context.Background(), b.plan(OpUpdate, "6.5.0")); err != nil {
				t.Fatalf("update: %v", err)
			}
		}, plan: func(b *bed) Plan { return b.plan(OpRollback, "") }, from: "6.5.0", to: "6.4.1"},
	}
	start := time.Now()
	for _, sc := range scenarios {
		for _, phase := range phasesWithMid {
			for _, mode := range []string{"error", "crash"} {
				t.Run(sc.name+"/"+phase+"/"+mode, func(t *testing.T) {
					t.Parallel()
					b := newBed(t)
					sc.setup(b)
					hook := func(p string) error {
						if p != phase {
							return nil
						}
						if mode == "crash" {
							panic(crashPanic{p})
						}
						return fmt.Errorf("injected failure at %s", p)
					}
					err, crashed := runCrashable(func() error {
						_, err := b.installer(hook).Run(context.Background(), sc.plan(b))
						return err
					})
					reached := crashed || (err != nil && strings.Contains(err.Error(), "injected failure"))
					if phase == PhaseRollback || (sc.name == "rollback" && (phase == PhaseDownload || phase == PhaseVerify)) {
						// A rollback reaches only when something else fails; a
						// rollback downloads nothing.
						if reached {
							t.Fatalf("hook at %s fired on a clean run", phase)
						}
						if err != nil {
							t.Fatalf("clean run: %v", err)
						}
						b.check(sc.to)
						return
					}
					if !reached {
						t.Fatalf("the failure at %s was not reached: err %v", phase, err)
					}
					if crashed {
						msg, rerr := b.installer(nil).Recover(context.Background())
						if rerr != nil || msg == "" {
							t.Fatalf("recover: %q, %v", msg, rerr)
						}
						t.Logf("recovered: %s", msg)
					}
					b.mayBeDown = sc.from == "" && !crashed
					want := []string{sc.from}
					switch {
					case phase == PhaseCommit && crashed:
						want = []string{sc.to} // the commit is finished
					case sc.from == "": // fresh: nothing, or the new version if its files made it in place
						want = []string{"", sc.to}
					}
					live := b.check(want...)
					if crashed && sc.from == "" && live == "" && phase != PhaseSwitch && phase != "switch-mid" && slicesIndex(Phases, phase) > slicesIndex(Phases, PhaseSwitch) {
						t.Errorf("a fresh install crashed at %s, after its switch, was not completed", phase)
					}
					if !crashed {
						var rb *RolledBackError
						if sc.from != "" && slicesIndex(Phases, phase) >= slicesIndex(Phases, PhaseSwitch) && !errors.As(err, &rb) {
							t.Errorf("error at %s: %v; want a RolledBackError", phase, err)
						}
					}
					if sc.name == "rollback" {
						// The version rolled back from (or to) stays kept.
						prev, _ := b.installer(nil).PreviousVersion()
						if prev == nil {
							t.Errorf("no previous version kept after the rollback's failure at %s", phase)
						}
					}
				})
			}
		}
	}
	t.Logf("%d scenarios in %s", len(scenarios)*len(phasesWithMid)*2, time.Since(start))
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestUpdateToCrashingReleaseRollsBack: the health gate fails, the old
// version is back and running, and the customer's files are intact.
func TestUpdateToCrashingReleaseRollsBack(t *testing.T) {
	b := newBed(t)
	b.writeCustomer()
	if _, err := b.installer(nil).Run(context.Background(), b.plan(OpInstall, "6.4.1")); err != nil {
		t.Fatal(err)
	}
	b.artifact("6.5.0", testfeed.SampleOptions{CrashOnStart: true})
	_, err := b.installer(nil).Run(context.Background(), b.plan(OpUpdate, "6.5.0"))
	var rb *RolledBackError
	if !errors.As(err, &rb) || rb.To != "6.4.1" || !errors.Is(err, platform.ErrServiceUnhealthy) {
		t.Fatalf("update to a crashing release: %v; want a rollback to 6.4.1 for an unhealthy service", err)
	}
	b.check("6.4.1")
}

// TestRollbackRestartFailureIsReported: when the service will not start
// again after a rollback, the error says so, naming the service and the
// log; it is not dropped.
func TestRollbackRestartFailureIsReported(t *testing.T) {
	b := newBed(t)
	b.writeCustomer()
	if _, err := b.installer(nil).Run(context.Background(), b.plan(OpInstall, "6.4.1")); err != nil {
		t.Fatal(err)
	}
	b.artifact("6.5.0", testfeed.SampleOptions{CrashOnStart: true})
	hook := func(p string) error {
		if p == PhaseRollback {
			b.svc.startErr = errors.New("unit auth0-adldap.service entered failed state")
		}
		return nil
	}
	_, err := b.installer(hook).Run(context.Background(), b.plan(OpUpdate, "6.5.0"))
	var rb *RolledBackError
	if !errors.As(err, &rb) || !errors.Is(err, ErrServiceRestart) {
		t.Fatalf("err = %v; want a RolledBackError wrapping ErrServiceRestart", err)
	}
	for _, want := range []string{platform.ServiceName, b.plat.Paths.LogFile, "entered failed state", "rolled back to 6.4.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if b.live() != "6.4.1" {
		t.Errorf("live %q, want 6.4.1 back in place", b.live())
	}
}

// TestForgedJournalsChangeNothing: a journal adldapctl did not write is
// refused, naming its path, and nothing is touched.
func TestForgedJournalsChangeNothing(t *testing.T) {
	forged := map[string]string{
		"fresh only":       `{"fresh":true}`,
		"unknown phase":    `{"format":1,"id":"x","op":"update","phase":"explode","from_version":"6.4.1","to_version":"6.5.0","started_at":"2026-01-01T00:00:00Z"}`,
		"unknown field":    `{"format":1,"id":"x","op":"update","phase":"resolve","rm_rf":"/","started_at":"2026-01-01T00:00:00Z"}`,
		"old format":       `{"format":0,"id":"x","op":"update","phase":"resolve","started_at":"2026-01-01T00:00:00Z"}`,
		"empty record":     `{"format":1,"id":"x","op":"update","phase":"commit","from_version":"6.4.1","to_version":"6.5.0","record":{},"started_at":"2026-01-01T00:00:00Z"}`,
		"contradicts":      `{"format":1,"id":"x","op":"update","phase":"switch","from_version":"5.0.0","to_version":"6.5.0","record":{"version":"6.5.0"},"started_at":"2026-01-01T00:00:00Z"}`,
		"fresh update":     `{"format":1,"id":"x","op":"update","phase":"health","fresh":true,"to_version":"6.5.0","record":{"version":"6.5.0"},"started_at":"2026-01-01T00:00:00Z"}`,
		"not json":         `rm -rf /`,
		"two objects":      `{"format":1,"id":"x","op":"update","phase":"resolve","started_at":"2026-01-01T00:00:00Z"}{}`,
		"bad from version": `{"format":1,"id":"x","op":"update","phase":"stop","from_version":"garbage","to_version":"6.5.0","started_at":"2026-01-01T00:00:00Z"}`,
	}
	for name, body := range forged {
		t.Run(name, func(t *testing.T) {
			b := newBed(t)
			b.writeCustomer()
			in := b.installer(nil)
			if _, err := in.Run(context.Background(), b.plan(OpInstall, "6.4.1")); err != nil {
				t.Fatal(err)
			}
			recBefore, _ := os.ReadFile(in.recordPath())
			jp := journalPath(b.plat)
			os.WriteFile(jp, []byte(body), 0o600)
			msg, err := b.installer(nil).Recover(context.Background())
			if !errors.Is(err, ErrForeignJournal) || !strings.Contains(err.Error(), jp) {
				t.Fatalf("Recover = %q, %v; want ErrForeignJournal naming %s", msg, err, jp)
			}
			if after, _ := os.ReadFile(in.recordPath()); !bytes.Equal(after, recBefore) {
				t.Errorf("install record changed:\n%s", after)
			}
			if got, _ := os.ReadFile(jp); string(got) != body {
				t.Errorf("the forged journal was changed")
			}
			if b.live() != "6.4.1" {
				t.Errorf("live tree %q, want 6.4.1 untouched", b.live())
			}
			if st, _ := b.svc.Status(platform.ServiceName); !st.Running() {
				t.Errorf("service stopped")
			}
		})
	}
}

// TestUpdateRefusesDowngradeAndReportsUpToDate covers the engine's own
// decisions before anything is downloaded.
func TestUpdateRefusesDowngradeAndReportsUpToDate(t *testing.T) {
	b := newBed(t)
	b.writeCustomer()
	ctx := context.Background()
	if _, err := b.installer(nil).Run(ctx, b.plan(OpInstall, "6.5.0")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.installer(nil).Run(ctx, b.plan(OpUpdate, "6.4.1")); !errors.Is(err, ErrDowngrade) {
		t.Errorf("update to an older version: %v, want ErrDowngrade", err)
	}
	res, err := b.installer(nil).Run(ctx, b.plan(OpUpdate, "6.5.0"))
	if err != nil || res.Changed {
		t.Errorf("update to the installed version: %+v, %v; want unchanged", res, err)
	}
	res, err = b.installer(nil).Run(ctx, b.plan(OpDowngrade, "6.4.1"))
	if err != nil || !res.Downgrade || b.live() != "6.4.1" {
		t.Fatalf("downgrade: %+v, %v (live %s)", res, err, b.live())
	}
	b.check("6.4.1")
	if rec, _ := b.installer(nil).Installed(); rec.Previous != "6.5.0" {
		t.Errorf("record previous %q, want 6.5.0", rec.Previous)
	}
	var _ = connector.ConfigFile
}

// TestCustomerPathsRefusedBeforeAnyChange: a config.json whose mapper or CA
// folder would make an update keep program files (or reach outside the
// install) is refused, naming the key, with nothing changed.
func TestCustomerPathsRefusedBeforeAnyChange(t *testing.T) {
	for _, v := range []string{".", "lib", "../server.js", "/etc/passwd", "../node_modules/x.js"} {
		t.Run(v, func(t *testing.T) {
			b := newBed(t)
			b.writeCustomer()
			ctx := context.Background()
			if _, err := b.installer(nil).Run(ctx, b.plan(OpInstall, "6.4.1")); err != nil {
				t.Fatal(err)
			}
			cfgPath := b.plat.Paths.ConfigFile
			cfg := fmt.Sprintf("{\n  \"PROFILE_MAPPER_FILE\": %q\n}\n", v)
			os.WriteFile(cfgPath, []byte(cfg), 0o600)
			recBefore, _ := os.ReadFile(b.installer(nil).recordPath())
			_, err := b.installer(nil).Run(ctx, b.plan(OpUpdate, "6.5.0"))
			if !errors.Is(err, connector.ErrCustomerPath) || !strings.Contains(err.Error(), "PROFILE_MAPPER_FILE") {
				t.Fatalf("update with PROFILE_MAPPER_FILE=%q: %v; want a refusal naming the key", v, err)
			}
			if b.live() != "6.4.1" || exists(journalPath(b.plat)) {
				t.Errorf("something changed: live %q", b.live())
			}
			if after, _ := os.ReadFile(b.installer(nil).recordPath()); !bytes.Equal(after, recBefore) {
				t.Error("install record changed")
			}
			if got, _ := os.ReadFile(cfgPath); string(got) != cfg {
				t.Error("config.json changed")
			}
		})
	}
}

// TestNoWorldReadableConfigCopies: after an install and an update, no copy
// of config.json under the root is readable by others, and the journal
// and cache leave nothing readable behind.
func TestNoWorldReadableConfigCopies(t *testing.T) {
	b := newBed(t)
	b.writeCustomer()
	os.Chmod(b.plat.Paths.ConfigFile, 0o644) // as a hand edit may leave it
	ctx := context.Background()
	for _, p := range []Plan{b.plan(OpInstall, "6.4.1"), b.plan(OpUpdate, "6.5.0")} {
		if _, err := b.installer(nil).Run(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	filepath.Walk(b.root, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Name() == "config.json" && fi.Mode().Perm()&0o004 != 0 {
			t.Errorf("%s is readable by others (%v)", path, fi.Mode().Perm())
		}
		return nil
	})
	if prev := filepath.Join(b.installer(nil).previous(), "config.json"); !exists(prev) {
		t.Errorf("the kept previous version has no config.json: the walk proved nothing")
	}
}
