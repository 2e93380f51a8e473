package installer

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// fakeMSI stands in for msiexec and the registry's uninstall entries: a
// package is a file holding the MSI signature and "version=", "code=" and
// "crash=" lines; installing one writes its program files into the
// install dir (a major upgrade first removes the older product's files,
// the customised lib/profileMapper.js with them, as the real one does),
// registers the services and the product; /x removes them.
type fakeMSI struct {
	mu      sync.Mutex
	t       *testing.T
	dir     string
	svc     *fakeServices
	product *platform.ConnectorProduct
	runs    []string       // "install 6.5.0", "remove {…}"
	fail    map[string]int // op ("install", "remove") → exit code, for the next run of op
	busy    int            // answer 1618 this many times first
	// applyOnKill: when the phase hook kills adldapctl while msiexec
	// runs, msiexec still finishes its work (it is another process).
	applyOnKill bool
}

func writeFakeMSI(t *testing.T, dir, version string, crash bool) string {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	// One product code per version, as real MSIs of a major upgrade have.
	code := fmt.Sprintf("{%08X-1111-2222-3333-444455556666}", crc32.ChecksumIEEE([]byte(version)))
	body := append(append([]byte{}, msiMagic...), fmt.Sprintf("\nversion=%s\ncode=%s\ncrash=%v\n", version, code, crash)...)
	path := filepath.Join(dir, "adldap-v"+version+".msi")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFakeMSI(path string) (version, code string, crash bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", false, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "version":
			version = v
		case "code":
			code = v
		case "crash":
			crash = v == "true"
		}
	}
	return version, code, crash, nil
}

// programFiles are what a fake package installs.
var programFiles = []string{"server.js", "package.json", "node.exe", "nssm.exe", "admin/server.js", "lib/profileMapper.js", "lib/users.js"}

func (f *fakeMSI) find() (*platform.ConnectorProduct, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.product == nil {
		return nil, nil
	}
	c := *f.product
	return &c, nil
}

type exitCodeErr int

func (e exitCodeErr) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitCodeErr) ExitCode() int { return int(e) }

func (f *fakeMSI) LookPath(name string) (string, error) { return name, nil }

func (f *fakeMSI) Run(ctx context.Context, c *Command) (err error) {
	if filepath.Base(c.Path) != "msiexec" {
		f.t.Fatalf("the Windows step ran %s", c.Path)
	}
	if len(c.Args) < 6 || c.Args[2] != "/qn" || c.Args[3] != "/norestart" || c.Args[4] != "/l*v" {
		f.t.Fatalf("msiexec args %q: want /i|/x TARGET /qn /norestart /l*v LOG", c.Args)
	}
	op := map[string]string{"/i": "install", "/x": "remove"}[c.Args[0]]
	target := c.Args[1]
	f.mu.Lock()
	if f.busy > 0 {
		f.busy--
		f.mu.Unlock()
		return exitCodeErr(msiBusy)
	}
	code, failing := f.fail[op]
	delete(f.fail, op)
	f.mu.Unlock()
	apply := func() error {
		if failing {
			return exitCodeErr(code)
		}
		if op == "remove" {
			return f.remove(target)
		}
		return f.install(target)
	}
	if c.Started != nil {
		applied := false
		func() {
			defer func() {
				if r := recover(); r != nil {
					if f.applyOnKill && !applied {
						_ = apply()
					}
					panic(r)
				}
			}()
			c.Started(4000 + len(f.runs))
		}()
	}
	return apply()
}

func (f *fakeMSI) remove(code string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, "remove "+code)
	if f.product == nil || !strings.EqualFold(f.product.ProductCode, code) {
		return exitCodeErr(msiUnknownProd)
	}
	for _, rel := range programFiles {
		os.Remove(filepath.Join(f.dir, filepath.FromSlash(rel)))
	}
	os.Remove(filepath.Join(f.dir, "admin"))
	os.Remove(filepath.Join(f.dir, "lib"))
	f.product = nil
	f.svc.mu.Lock()
	f.svc.installed, f.svc.running = false, false
	f.svc.mu.Unlock()
	return nil
}

func (f *fakeMSI) install(pkg string) error {
	version, code, crash, err := readFakeMSI(pkg)
	if err != nil {
		return exitCodeErr(msiOpenFailed)
	}
	f.mu.Lock()
	cur := f.product
	f.mu.Unlock()
	if cur != nil {
		if !isUpgrade(cur.DisplayVersion, version) {
			f.mu.Lock()
			f.runs = append(f.runs, "install "+version+" refused")
			f.mu.Unlock()
			return exitCodeErr(msiOtherVersion)
		}
		if err := f.remove(cur.ProductCode); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, "install "+version)
	for _, rel := range programFiles {
		p := filepath.Join(f.dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		body := "// stock " + rel + " of " + version + "\n"
		if rel == "server.js" {
			body = fmt.Sprintf("const VERSION = '%s';\nconst CRASH_ON_START = %v;\n", version, crash)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return exitCodeErr(msiFatal)
		}
	}
	f.product = &platform.ConnectorProduct{ProductCode: code, DisplayName: "Auth0 AD LDAP Connector", DisplayVersion: version,
		InstallLocation: f.dir, ServiceImagePath: `"` + filepath.Join(f.dir, "nssm.exe") + `"`, Host: "nssm"}
	f.svc.mu.Lock()
	f.svc.installed = true
	f.svc.mu.Unlock()
	return nil
}

type winBed struct {
	t    *testing.T
	root string
	plat *platform.Platform
	svc  *fakeServices
	msi  *fakeMSI
	pkgs map[string]string
	// noMapper: no customised profile mapper (a fresh install).
	noMapper bool
	// adopted: the version installed without adldapctl; when it is
	// live again (rolled back to) it has no install record.
	adopted string
	// fetch, when set, is the installer's Fetcher.
	fetch Fetcher
}

func newWinBed(t *testing.T) *winBed {
	t.Helper()
	root := t.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "adldapctl-test-"); err == nil {
			root = d
			t.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	p, err := platform.DetectWith(platform.DetectOptions{GOOS: "windows", Root: root})
	if err != nil {
		t.Fatal(err)
	}
	p.Root = "" // the paths stay under the temp dir; the step runs as on a real host
	svc := &fakeServices{dir: p.Paths.InstallDir}
	b := &winBed{t: t, root: root, plat: p, svc: svc, pkgs: map[string]string{},
		msi: &fakeMSI{t: t, dir: p.Paths.InstallDir, svc: svc, fail: map[string]int{}}}
	for _, v := range []string{"6.4.1", "6.5.0"} {
		b.pkgs[v] = writeFakeMSI(t, filepath.Join(root, "artifacts"), v, false)
	}
	return b
}

func (b *winBed) installer(hook func(string) error) *Installer {
	return New(Options{Platform: b.plat, Services: b.svc, Runner: b.msi, Hook: hook, FindConnector: b.msi.find, Fetcher: b.fetch,
		WaitProcess: func(context.Context, int) error { return nil }, MSIBusyWait: time.Second,
		Stable: time.Millisecond, Probe: func(context.Context) error { return nil }})
}

func (b *winBed) plan(op Op, v string) Plan {
	if op == OpRollback {
		return Plan{Op: op}
	}
	src, err := updater.NewFileSource(b.pkgs[v], v)
	if err != nil {
		b.t.Fatal(err)
	}
	return Plan{Op: op, Source: src, Version: v}
}

var winCustomer = map[string]string{
	"config.json":          "{\n  \"LDAP_URL\": \"ldaps://dc.example.test\",\n  \"PORT\": 0\n}\n",
	"certs/cert.key":       "fixture private key, not a real one\n",
	"certs/cert.pem":       "fixture certificate\n",
	"lib/profileMapper.js": "module.exports = function (u) { return { customised: true }; };\n",
}

func (b *winBed) writeCustomer() {
	for rel, data := range winCustomer {
		p := filepath.Join(b.plat.Paths.InstallDir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			b.t.Fatal(err)
		}
	}
}

// live returns the registered product's version after checking the
// install dir holds that one version whole.
func (b *winBed) live() string {
	b.t.Helper()
	prod, _ := b.msi.find()
	dir := b.plat.Paths.InstallDir
	if prod == nil {
		if exists(filepath.Join(dir, "server.js")) {
			b.t.Errorf("no product registered but %s has a server.js", dir)
		}
		return ""
	}
	for _, rel := range programFiles {
		if rel == "lib/profileMapper.js" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			b.t.Errorf("product %s registered but %s is missing: not a whole version", prod.DisplayVersion, rel)
			continue
		}
		if rel == "server.js" {
			if !strings.Contains(string(data), "'"+prod.DisplayVersion+"'") {
				b.t.Errorf("product %s registered but server.js is %q", prod.DisplayVersion, data)
			}
		} else if !strings.Contains(string(data), " of "+prod.DisplayVersion) {
			b.t.Errorf("product %s registered but %s is %q: mixed versions", prod.DisplayVersion, rel, data)
		}
	}
	return prod.DisplayVersion
}

// check asserts what every Windows transaction must leave: no journal,
// one whole version registered and recorded, the customer's files byte
// for byte, the service running.
func (b *winBed) check(want ...string) string {
	t := b.t
	t.Helper()
	in := b.installer(nil)
	if exists(journalPath(b.plat)) {
		t.Errorf("journal left behind")
	}
	live := b.live()
	rec, err := in.Installed()
	if err != nil {
		t.Fatalf("install record: %v", err)
	}
	switch {
	case rec == nil && live != "" && live == b.adopted:
		if cur, adopted, err := in.Current(); err != nil || !adopted || cur.Version != live {
			t.Errorf("%s is installed without a record but not adopted: %+v, %v, %v", live, cur, adopted, err)
		}
	case rec == nil && live != "":
		t.Errorf("%s is installed but there is no install record", live)
	case rec != nil && rec.Version != live && live != "" && live == b.adopted:
		// changed without adldapctl: the stale record gives way to the product
		if cur, adopted, err := in.Current(); err != nil || !adopted || cur.Version != live {
			t.Errorf("%s is installed, the record says %s, but the product is not adopted: %+v, %v, %v", live, rec.Version, cur, adopted, err)
		}
	case rec != nil && rec.Version != live:
		t.Errorf("install record says %s, installed product is %q", rec.Version, live)
	}
	ok := false
	for _, w := range want {
		ok = ok || w == live
	}
	if !ok {
		t.Errorf("installed %q, want one of %q", live, want)
	}
	for rel, data := range winCustomer {
		if b.noMapper && rel == "lib/profileMapper.js" {
			continue
		}
		got, err := os.ReadFile(filepath.Join(b.plat.Paths.InstallDir, filepath.FromSlash(rel)))
		if err != nil || string(got) != data {
			t.Errorf("customer file %s: %q, %v; want it byte for byte", rel, got, err)
		}
	}
	if live != "" {
		if st, _ := b.svc.Status(platform.WindowsServiceName); !st.Running() {
			t.Errorf("%s is installed but the service is not running", live)
		}
		if !exists(keptMSI(b.plat, live)) && (rec != nil || live != b.adopted) {
			t.Errorf("the MSI of the installed %s is not kept in the cache", live)
		}
	}
	return live
}

func (b *winBed) install(v string) {
	b.t.Helper()
	if _, err := b.installer(nil).Run(context.Background(), b.plan(OpInstall, v)); err != nil {
		b.t.Fatalf("install %s: %v", v, err)
	}
}

// TestMSIInstallUpdateKeepsCustomerFiles: a fresh install, then an update
// whose major upgrade deletes the customised mapper, keep every customer
// file byte for byte, the previous MSI in the cache and its record.
func TestMSIInstallUpdateKeepsCustomerFiles(t *testing.T) {
	b := newWinBed(t)
	os.MkdirAll(b.plat.Paths.InstallDir, 0o755)
	os.WriteFile(b.plat.Paths.ConfigFile, []byte(winCustomer["config.json"]), 0o600)
	b.install("6.4.1")
	if got := b.msi.runs; len(got) != 1 || got[0] != "install 6.4.1" {
		t.Fatalf("msiexec runs %q", got)
	}
	b.writeCustomer() // the admin customises the mapper, the connector writes certs\
	res, err := b.installer(nil).Run(context.Background(), b.plan(OpUpdate, "6.5.0"))
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if res.PreviousVersion != "6.4.1" || res.Version != "6.5.0" {
		t.Errorf("result %+v", res)
	}
	b.check("6.5.0")
	prev, err := b.installer(nil).PreviousVersion()
	if err != nil || prev == nil || prev.Version != "6.4.1" {
		t.Errorf("previous version %+v, %v; want 6.4.1 kept", prev, err)
	}
	if !exists(keptMSI(b.plat, "6.4.1")) {
		t.Error("the previous MSI is not kept")
	}
	// The backup is private and holds the files.
	entries, _ := os.ReadDir(backupsDir(b.plat))
	if len(entries) == 0 {
		t.Fatal("no backup folder")
	}
	if fi, _ := os.Stat(backupsDir(b.plat)); fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("backups folder mode %v", fi.Mode().Perm())
	}
	last := filepath.Join(backupsDir(b.plat), entries[len(entries)-1].Name())
	if got, _ := os.ReadFile(filepath.Join(last, "certs", "cert.key")); string(got) != winCustomer["certs/cert.key"] {
		t.Errorf("backup cert.key %q", got)
	}
	// And rollback returns to 6.4.1 by removing 6.5.0 first.
	b.msi.runs = nil
	if _, err := b.installer(nil).Run(context.Background(), b.plan(OpRollback, "")); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	b.check("6.4.1")
	if got := strings.Join(b.msi.runs, ", "); !strings.HasPrefix(got, "remove {") || !strings.HasSuffix(got, "install 6.4.1") {
		t.Errorf("rollback ran %q; want a remove of 6.5.0 then install 6.4.1", got)
	}
}

// TestMSIFailedHealthGateRollsBack: a release whose service crashes is
// removed, the previous MSI reinstalled, the files intact.
func TestMSIFailedHealthGateRollsBack(t *testing.T) {
	b := newWinBed(t)
	b.install("6.4.1")
	b.writeCustomer()
	b.pkgs["6.5.0"] = writeFakeMSI(t, filepath.Join(b.root, "crashing"), "6.5.0", true)
	_, err := b.installer(nil).Run(context.Background(), b.plan(OpUpdate, "6.5.0"))
	var rb *RolledBackError
	if !errors.As(err, &rb) || rb.To != "6.4.1" || !errors.Is(err, platform.ErrServiceUnhealthy) {
		t.Fatalf("update to a crashing release: %v; want a rollback to 6.4.1", err)
	}
	b.check("6.4.1")
}

// TestMSIRollbackFailureNamesMSIAndBackup: when the rollback itself fails
// (the previous MSI's reinstall exits 1603), the error says where the
// previous version and the customer's files are: the kept MSI and the
// backup folder, not a Linux-style ".old" folder the MSI step never makes.
func TestMSIRollbackFailureNamesMSIAndBackup(t *testing.T) {
	b := newWinBed(t)
	b.install("6.4.1")
	b.writeCustomer()
	b.pkgs["6.5.0"] = writeFakeMSI(t, filepath.Join(b.root, "crashing"), "6.5.0", true)
	hook := func(phase string) error {
		if phase == PhaseRollback {
			b.msi.mu.Lock()
			b.msi.fail["install"] = msiFatal // the reinstall of 6.4.1
			b.msi.mu.Unlock()
		}
		return nil
	}
	_, err := b.installer(hook).Run(context.Background(), b.plan(OpUpdate, "6.5.0"))
	if err == nil || !strings.Contains(err.Error(), "rollback also failed") {
		t.Fatalf("err = %v; want the rollback failure reported", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, keptMSI(b.plat, "6.4.1")) || !strings.Contains(msg, backupsDir(b.plat)) || strings.Contains(msg, ".old") {
		t.Errorf("error %q does not name the kept MSI %s and the backup under %s (or names an .old folder)", msg, keptMSI(b.plat, "6.4.1"), backupsDir(b.plat))
	}
}

// TestMSIExitCodes: each msiexec failure is reported by class, naming the
// log, and leaves the installed version and files as they were.
func TestMSIExitCodes(t *testing.T) {
	cases := []struct {
		code int
		is   error
		want string
	}{
		{msiFatal, ErrMSIFailed, "fatal error"},
		{msiOpenFailed, ErrMSIPackage, "could not be opened"},
		{msiInvalidPkg, ErrMSIPackage, "not a valid Windows Installer package"},
		{msiOtherVersion, ErrMSIOtherVersion, "another version"},
		{msiCancelled, ErrMSICancelled, "cancelled"},
		{msiNoPrivilege, platform.ErrNeedsElevation, "elevated prompt"},
		{msiBusy, ErrMSIBusy, "another installation is already in progress"},
		{1624, ErrMSIFailed, "transform"},
		{2, ErrMSIFailed, "Windows Installer error"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.code), func(t *testing.T) {
			b := newWinBed(t)
			b.install("6.4.1")
			b.writeCustomer()
			if c.code == msiBusy {
				b.msi.busy = 1000
			} else {
				b.msi.fail["install"] = c.code
			}
			_, err := b.installer(nil).Run(context.Background(), b.plan(OpUpdate, "6.5.0"))
			var me *MSIError
			if !errors.As(err, &me) || me.Code != c.code || !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want an MSIError %d (%v) saying %q", err, c.code, c.is, c.want)
			}
			if c.code != msiBusy && c.code != msiNoPrivilege && !strings.Contains(err.Error(), filepath.Join(b.plat.Paths.StateDir, "logs")) {
				t.Errorf("error %q does not name the msiexec log", err)
			}
			b.check("6.4.1")
		})
	}
	for _, c := range []int{msiRebootNeeded, msiRebootStarted} {
		note, err := msiOutcome("install", "x.msi", c, "log")
		if err != nil || !strings.Contains(note, "reboot") {
			t.Errorf("exit %d: %q, %v; want success with a reboot note", c, note, err)
		}
	}
	if _, err := msiOutcome("remove", "{x}", msiUnknownProd, "log"); err != nil {
		t.Errorf("removing a product that is gone: %v", err)
	}
}

// TestMSIBusyIsWaitedFor: 1618 is retried until the other installation
// ends (within MSIBusyWait).
func TestMSIBusyIsWaitedFor(t *testing.T) {
	b := newWinBed(t)
	b.install("6.4.1")
	b.msi.busy = 2
	if _, err := b.installer(nil).Run(context.Background(), b.plan(OpUpdate, "6.5.0")); err != nil {
		t.Fatalf("update after two 1618 answers: %v", err)
	}
	if b.live() != "6.5.0" {
		t.Errorf("installed %q", b.live())
	}
}

// TestMSIRefusesNonMSIAndRoot: a tarball is not an MSI; --root cannot
// hold an MSI install.
func TestMSIRefusesNonMSIAndRoot(t *testing.T) {
	b := newWinBed(t)
	bad := filepath.Join(b.root, "adldap-v6.4.1.msi")
	os.WriteFile(bad, []byte("\x1f\x8bnot an msi"), 0o644)
	b.pkgs["6.4.1"] = bad
	_, err := b.installer(nil).Run(context.Background(), b.plan(OpInstall, "6.4.1"))
	if !errors.Is(err, ErrNotMSI) || !errors.Is(err, ErrUnsafeArchive) {
		t.Fatalf("install of a non-MSI: %v", err)
	}
	if len(b.msi.runs) != 0 || exists(journalPath(b.plat)) {
		t.Errorf("msiexec ran %q or journal left", b.msi.runs)
	}
	b.plat.Root = b.root
	_, err = b.installer(nil).Run(context.Background(), b.plan(OpInstall, "6.5.0"))
	if !errors.Is(err, platform.ErrNotSupported) || !strings.Contains(err.Error(), "--root") {
		t.Fatalf("install under --root: %v", err)
	}
}

// TestMSIUpdateWithoutKeptMSIRefused: an installed product whose MSI is not
// kept cannot be put back, and an update --from a file has no feed to
// fetch it from, so the update changes nothing and says what works.
func TestMSIUpdateWithoutKeptMSIRefused(t *testing.T) {
	b := newWinBed(t)
	b.install("6.4.1")
	os.Remove(keptMSI(b.plat, "6.4.1"))
	b.msi.runs = nil
	_, err := b.installer(nil).Run(context.Background(), b.plan(OpUpdate, "6.5.0"))
	if err == nil || !strings.Contains(err.Error(), "adldapctl install --from adldap-v6.4.1.msi") || !strings.Contains(err.Error(), "leave out --from") {
		t.Fatalf("err = %v; want it to name the installed version's MSI with --from, or the feed", err)
	}
	if len(b.msi.runs) != 0 {
		t.Errorf("msiexec ran %q", b.msi.runs)
	}
}

// TestMSIUninstallKeepsCustomerFiles: msiexec /x by product code; the
// customer's files stay unless purge.
func TestMSIUninstallKeepsCustomerFiles(t *testing.T) {
	for _, purge := range []bool{false, true} {
		t.Run(fmt.Sprint("purge=", purge), func(t *testing.T) {
			b := newWinBed(t)
			b.install("6.4.1")
			b.writeCustomer()
			code := b.msi.product.ProductCode
			res, err := b.installer(nil).Uninstall(purge)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(b.msi.runs, ","); !strings.HasSuffix(got, "remove "+code) {
				t.Errorf("runs %q; want msiexec /x %s", got, code)
			}
			if p, _ := b.msi.find(); p != nil {
				t.Error("product still registered")
			}
			for rel, data := range winCustomer {
				got, err := os.ReadFile(filepath.Join(b.plat.Paths.InstallDir, filepath.FromSlash(rel)))
				if purge && err == nil {
					t.Errorf("--purge kept %s", rel)
				}
				if !purge && string(got) != data {
					t.Errorf("%s: %q, %v; want it kept byte for byte", rel, got, err)
				}
			}
			if !purge && len(res.Kept) != 3 { // config.json, certs, lib/profileMapper.js
				t.Errorf("kept %q", res.Kept)
			}
			if rec, _ := b.installer(nil).Installed(); rec != nil {
				t.Error("install record left")
			}
		})
	}
}

// TestMSIForgedJournalPaths: a journal whose MSI paths point outside
// adldapctl's own folders is refused before anything is done.
func TestMSIForgedJournalPaths(t *testing.T) {
	b := newWinBed(t)
	b.install("6.4.1")
	base := `{"format":1,"id":"x","op":"update","phase":"switch","from_version":"6.4.1","to_version":"6.5.0","record":{"version":"6.5.0"},"started_at":"2026-01-01T00:00:00Z","msi":%s}`
	for name, m := range map[string]string{
		"backup elsewhere": `{"backup":"/etc","backed_up":true,"files":["config.json"]}`,
		"msi elsewhere":    `{"old_msi":"/tmp/evil.msi"}`,
		"file escapes":     fmt.Sprintf(`{"backup":%q,"backed_up":true,"files":["../../x"]}`, filepath.Join(backupsDir(b.plat), "20260101T000000-x")),
		"bad product":      `{"old_product":"; rm -rf"}`,
	} {
		t.Run(name, func(t *testing.T) {
			jp := journalPath(b.plat)
			os.WriteFile(jp, []byte(fmt.Sprintf(base, m)), 0o600)
			defer os.Remove(jp)
			_, err := b.installer(nil).Recover(context.Background())
			if !errors.Is(err, ErrForeignJournal) {
				t.Fatalf("Recover: %v; want ErrForeignJournal", err)
			}
		})
	}
}

// winPhases is every hook point of a Windows transaction.
var winPhases = append(append([]string{}, Phases...), "switch-mid", "msiexec", PhaseRollback)

// TestMSIFailureAtEveryPhase: install, update and rollback with a failure
// at every phase, as an error and as a crash (with msiexec, another
// process, finishing after the crash or not) followed by Recover: one
// whole version installed, the customer's files intact, running.
func TestMSIFailureAtEveryPhase(t *testing.T) {
	type scenario struct {
		name     string
		setup    func(b *winBed)
		plan     func(b *winBed) Plan
		from, to string
	}
	scenarios := []scenario{
		{name: "install", setup: func(b *winBed) {
			b.noMapper = true
			os.MkdirAll(b.plat.Paths.InstallDir, 0o755)
			for _, rel := range []string{"config.json", "certs/cert.key", "certs/cert.pem"} {
				p := filepath.Join(b.plat.Paths.InstallDir, filepath.FromSlash(rel))
				os.MkdirAll(filepath.Dir(p), 0o700)
				os.WriteFile(p, []byte(winCustomer[rel]), 0o600)
			}
		}, plan: func(b *winBed) Plan { return b.plan(OpInstall, "6.4.1") }, to: "6.4.1"},
		{name: "update", setup: func(b *winBed) { b.install("6.4.1"); b.writeCustomer() },
			plan: func(b *winBed) Plan { return b.plan(OpUpdate, "6.5.0") }, from: "6.4.1", to: "6.5.0"},
		{name: "rollback", setup: func(b *winBed) {
			b.install("6.4.1")
			b.writeCustomer()
			if _, err := b.installer(nil).Run(context.Background(), b.plan(OpUpdate, "6.5.0")); err != nil {
				t.Fatalf("update: %v", err)
			}
		}, plan: func(b *winBed) Plan { return b.plan(OpRollback, "") }, from: "6.5.0", to: "6.4.1"},
		// The connector installed with the official MSI: no record, no
		// kept MSI; the update fetches 6.4.1's MSI first.
		{name: "adopted-update", setup: func(b *winBed) { b.adopt("6.4.1") },
			plan: func(b *winBed) Plan {
				return feedPlan(OpUpdate, &fakeFeed{pkgs: b.pkgs}, "6.5.0")
			}, from: "6.4.1", to: "6.5.0"},
	}
	modes := []string{"error", "crash", "crash-msiexec-finishes"}
	n := 0
	for _, sc := range scenarios {
		for _, phase := range winPhases {
			for _, mode := range modes {
				if mode == "crash-msiexec-finishes" && phase != "msiexec" {
					continue
				}
				n++
				t.Run(sc.name+"/"+phase+"/"+mode, func(t *testing.T) {
					t.Parallel()
					b := newWinBed(t)
					sc.setup(b)
					b.msi.applyOnKill = mode == "crash-msiexec-finishes"
					fired := false
					hook := func(p string) error {
						if p != phase || fired {
							return nil
						}
						fired = true
						if mode != "error" {
							panic(crashPanic{p})
						}
						return fmt.Errorf("injected failure at %s", p)
					}
					err, crashed := runCrashable(func() error {
						_, err := b.installer(hook).Run(context.Background(), sc.plan(b))
						return err
					})
					if !fired {
						if phase == PhaseRollback || (sc.name == "rollback" && (phase == PhaseDownload || phase == PhaseVerify)) {
							if err != nil {
								t.Fatalf("clean run: %v", err)
							}
							b.check(sc.to)
							return
						}
						t.Fatalf("the failure at %s was not reached: err %v", phase, err)
					}
					if crashed {
						msg, rerr := b.installer(nil).Recover(context.Background())
						if rerr != nil || msg == "" {
							t.Fatalf("recover: %q, %v", msg, rerr)
						}
						t.Logf("recovered: %s", msg)
					} else if err == nil {
						t.Fatalf("the failure at %s was swallowed", phase)
					}
					want := []string{sc.from}
					switch {
					case phase == PhaseCommit && crashed:
						want = []string{sc.to}
					case sc.from == "":
						want = []string{"", sc.to}
					}
					if sc.from == "" && !crashed {
						// A fresh install that failed after its files were in
						// place stays, not running; nothing to go back to.
						b.svc.Start(platform.WindowsServiceName)
					}
					b.check(want...)
					if !crashed && sc.from != "" && slicesIndex(Phases, phase) >= slicesIndex(Phases, PhaseSwitch) {
						var rb *RolledBackError
						if !errors.As(err, &rb) {
							t.Errorf("error at %s: %v; want a RolledBackError", phase, err)
						}
					}
				})
			}
		}
	}
	t.Logf("%d scenarios", n)
}
