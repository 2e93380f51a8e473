//go:build windows

package platform

// These tests drive the real Windows APIs: the service control manager,
// the registry and the LocalMachine certificate stores. They change the
// machine, so they run only where ADLDAPCTL_WINE_TEST=1 says the machine is
// a throwaway Wine prefix (wine_linux_test.go builds this package for
// Windows and runs them there); anywhere else they skip, and the Linux
// runner fails when one of them did not pass.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

var (
	helperService = flag.String("helper-service", "", "run as the test helper service NAME (TestHelperService)")
	helperMode    = flag.String("helper-mode", "", "helper service behaviour: ignore-stop, exit")
)

func needWine(t *testing.T) {
	t.Helper()
	if os.Getenv("ADLDAPCTL_WINE_TEST") != "1" {
		t.Skip("changes services, registry and certificate stores: runs only in a Wine prefix (ADLDAPCTL_WINE_TEST=1, see wine_linux_test.go)")
	}
}

// TestHelperService is the service the lifecycle tests register: the test
// binary itself with -helper-service, served through svc.Run called
// explicitly (Wine's SCM is not detected by svc.IsWindowsService).
func TestHelperService(t *testing.T) {
	if *helperService == "" {
		return
	}
	if err := svc.Run(*helperService, helperHandler{mode: *helperMode}); err != nil {
		os.Exit(2)
	}
	os.Exit(0)
}

type helperHandler struct{ mode string }

func (h helperHandler) Execute(_ []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	s <- svc.Status{State: svc.StartPending}
	s <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	var exit <-chan time.Time
	if h.mode == "exit" {
		exit = time.After(500 * time.Millisecond)
	}
	for {
		select {
		case <-exit:
			return true, 3 // a crash: service-specific exit code 3
		case c := <-r:
			switch c.Cmd {
			case svc.Interrogate:
				s <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				if h.mode == "ignore-stop" {
					continue // a hung service: says nothing, keeps running
				}
				s <- svc.Status{State: svc.StopPending}
				return false, 0
			}
		}
	}
}

func helperSpec(t *testing.T, name, mode string) ServiceSpec {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.run=^TestHelperService$", "-helper-service=" + name}
	if mode != "" {
		args = append(args, "-helper-mode="+mode)
	}
	return ServiceSpec{Name: name, DisplayName: name + " (adldapctl test)", Description: "adldapctl platform test helper", Exec: exe, Args: args}
}

// cleanupService ends the service's process and removes it, whatever state
// the test left it in.
func cleanupService(t *testing.T, name string) {
	t.Cleanup(func() {
		if st, err := (&windowsServices{}).Status(name); err == nil && st.PID != 0 {
			killPID(uint32(st.PID))
		}
		_ = (&windowsServices{timeout: 2 * time.Second}).Uninstall(name)
	})
}

func killPID(pid uint32) {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, pid)
	if err != nil {
		return
	}
	_ = windows.TerminateProcess(h, 1)
	windows.CloseHandle(h)
}

func processAlive(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	ev, _ := windows.WaitForSingleObject(h, 0)
	return ev == uint32(windows.WAIT_TIMEOUT)
}

func TestWindowsServiceLifecycle(t *testing.T) {
	needWine(t)
	name, admin := "adldapctl-test-svc", "adldapctl-test-svc-admin"
	cleanupService(t, name)
	cleanupService(t, admin)
	w := &windowsServices{timeout: 20 * time.Second, companions: map[string]string{name: admin}}

	if st, err := w.Status(name); err != nil || st.Installed {
		t.Fatalf("before install: %+v %v", st, err)
	}
	spec := helperSpec(t, name, "")
	if changed, err := w.Install(spec); err != nil || !changed {
		t.Fatalf("Install: changed=%v err=%v", changed, err)
	}
	if changed, err := w.Install(spec); err != nil || changed {
		t.Fatalf("second Install: changed=%v err=%v (want no change)", changed, err)
	}
	// What the SCM holds, read back through a handle of its own.
	m, err := mgr.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := queryConfig(s.Handle)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StartType != mgr.StartAutomatic || cfg.DisplayName != spec.DisplayName || cfg.Description != spec.Description ||
		!strings.Contains(cfg.BinaryPathName, "-helper-service="+name) {
		t.Errorf("service config: %+v", cfg)
	}
	ra, err := s.RecoveryActions()
	switch {
	case errors.Is(err, windows.ERROR_INVALID_LEVEL):
		// Wine's SCM accepts SERVICE_CONFIG_FAILURE_ACTIONS but neither
		// keeps nor reports it (no FailureActions value either); Windows
		// does, and is checked below.
		t.Logf("recovery actions: set, not readable here: %v", err)

	case err != nil || !slices.Equal(ra, recoveryActions):
		t.Errorf("recovery actions: %+v %v, want %+v", ra, err, recoveryActions)
	}
	// A service damaged by hand is repaired.
	cfg.BinaryPathName, cfg.StartType = `C:\nowhere\x.exe`, mgr.StartManual
	if err := changeConfig(s.Handle, cfg); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if changed, err := w.Install(spec); err != nil || !changed {
		t.Fatalf("repair Install: changed=%v err=%v", changed, err)
	}
	s, _ = m.OpenService(name)
	if cfg, _ := queryConfig(s.Handle); cfg.StartType != mgr.StartAutomatic || !strings.Contains(cfg.BinaryPathName, "-helper-service="+name) {
		t.Errorf("after repair: %+v", cfg)
	}
	s.Close()

	if err := w.Start(name); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := w.WaitRunning(ctx, name, time.Second)
	if err != nil || !st.Running() || st.PID == 0 || !processAlive(st.PID) {
		t.Fatalf("WaitRunning: %+v %v (pid alive %v)", st, err, processAlive(st.PID))
	}
	// Restart of the connector restarts its companion (the admin console).
	if _, err := w.Install(helperSpec(t, admin, "")); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(admin); err != nil {
		t.Fatal(err)
	}
	ast, _ := w.Status(admin)
	if err := w.Restart(name); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	st2, err := w.WaitRunning(ctx, name, 500*time.Millisecond)
	if err != nil || st2.PID == st.PID || processAlive(st.PID) {
		t.Errorf("after Restart: %+v %v (old pid %d alive %v)", st2, err, st.PID, processAlive(st.PID))
	}
	if ast2, err := w.Status(admin); err != nil || !ast2.Running() || ast2.PID == ast.PID {
		t.Errorf("admin service after Restart of %s: %+v (before %+v) %v", name, ast2, ast, err)
	}
	if err := w.Stop(name); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if st, err := w.Status(name); err != nil || st.Active != "inactive" || st.PID != 0 || processAlive(st2.PID) {
		t.Errorf("after Stop: %+v %v", st, err)
	}
	if err := w.Uninstall(name); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	if err := w.Uninstall(admin); err != nil {
		t.Fatalf("Uninstall %s (running): %v", admin, err)
	}
	for _, n := range []string{name, admin} {
		if st, err := w.Status(n); err != nil || st.Installed {
			t.Errorf("after Uninstall %s: %+v %v", n, st, err)
		}
	}
}

func TestWindowsServiceStopIsBounded(t *testing.T) {
	needWine(t)
	name := "adldapctl-test-hung"
	cleanupService(t, name)
	w := &windowsServices{timeout: 3 * time.Second}
	if _, err := w.Install(helperSpec(t, name, "ignore-stop")); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(name); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	err := w.Stop(name)
	took := time.Since(t0)
	if err == nil || !errors.Is(err, ErrServiceUnhealthy) || !strings.Contains(err.Error(), "did not stop") {
		t.Fatalf("Stop of a service that ignores stop: %v", err)
	}
	if took < 3*time.Second || took > 8*time.Second {
		t.Errorf("Stop returned after %v, want its 3 s bound", took)
	}
	t.Logf("Stop of a hung service returned after %v: %v", took.Round(100*time.Millisecond), err)
}

func TestWindowsServiceWaitRunningFailsOnExit(t *testing.T) {
	needWine(t)
	name := "adldapctl-test-crash"
	cleanupService(t, name)
	w := &windowsServices{timeout: 10 * time.Second}
	if _, err := w.Install(helperSpec(t, name, "exit")); err != nil {
		t.Fatal(err)
	}
	_ = w.Start(name) // may already see it gone
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	st, err := w.WaitRunning(ctx, name, 10*time.Second)
	if err == nil || !errors.Is(err, ErrServiceUnhealthy) {
		t.Fatalf("WaitRunning of a crashing service: %+v %v", st, err)
	}
	if time.Since(t0) > 8*time.Second {
		t.Errorf("WaitRunning took %v to see the crash", time.Since(t0))
	}
	t.Logf("WaitRunning: %v after %v", err, time.Since(t0).Round(100*time.Millisecond))
}

// testChain makes a root CA and an intermediate it signed (no private key
// leaves the test).
func testChain(t *testing.T) (root, inter []byte) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rk, ik := key(), key()
	now := time.Now()
	rt := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "adldapctl test root " + now.Format(time.RFC3339Nano)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	root, err := x509.CreateCertificate(rand.Reader, rt, rt, &rk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := x509.ParseCertificate(root)
	it := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano() + 1), Subject: pkix.Name{CommonName: "adldapctl test intermediate"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	inter, err = x509.CreateCertificate(rand.Reader, it, rc, &ik.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	return root, inter
}

func count(all []StoredCert, fp, store string) int {
	n := 0
	for _, c := range all {
		if c.SHA256 == fp && c.Store == store {
			n++
		}
	}
	return n
}

func TestWindowsCertStore(t *testing.T) {
	needWine(t)
	// Not t.TempDir: Go's os.RemoveAll of a folder with files in it fails
	// under Wine 8 ("unlinkat ...: Invalid function"; os.Remove works),
	// and TempDir's cleanup would fail the test. The prefix is thrown
	// away anyway.
	state, err := os.MkdirTemp("", "certstore")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(state) })
	p := &Platform{OS: "windows", Paths: Paths{StateDir: state}}
	cs, err := p.CertStore()
	if err != nil {
		t.Fatal(err)
	}
	root, inter := testChain(t)
	rfp, ifp := CertSHA256(root), CertSHA256(inter)
	for i := range 2 {
		added, where, err := cs.Add(root, true)
		if err != nil || added != (i == 0) || where != `LocalMachine\Root` {
			t.Fatalf("import %d, root: added=%v where=%s err=%v", i+1, added, where, err)
		}
		added, where, err = cs.Add(inter, false)
		if err != nil || added != (i == 0) || where != `LocalMachine\CA` {
			t.Fatalf("import %d, intermediate: added=%v where=%s err=%v", i+1, added, where, err)
		}
	}
	all, err := cs.All()
	if err != nil {
		t.Fatal(err)
	}
	if count(all, rfp, `LocalMachine\Root`) != 1 || count(all, rfp, `LocalMachine\CA`) != 0 ||
		count(all, ifp, `LocalMachine\CA`) != 1 || count(all, ifp, `LocalMachine\Root`) != 0 {
		t.Errorf("after two imports: root in Root %d, CA %d; intermediate in CA %d, Root %d (want 1 0 1 0)",
			count(all, rfp, `LocalMachine\Root`), count(all, rfp, `LocalMachine\CA`), count(all, ifp, `LocalMachine\CA`), count(all, ifp, `LocalMachine\Root`))
	}
	// A second store handle (as another process opens it) sees them too.
	ours, err := cs.Imported()
	if err != nil || len(ours) != 2 {
		t.Fatalf("Imported: %d certificates, %v", len(ours), err)
	}
	where, err := cs.Remove(rfp)
	if err != nil || !slices.Equal(where, []string{`LocalMachine\Root`}) {
		t.Fatalf("Remove root: %v %v", where, err)
	}
	if where, err := cs.Remove(ifp); err != nil || !slices.Equal(where, []string{`LocalMachine\CA`}) {
		t.Fatalf("Remove intermediate: %v %v", where, err)
	}
	all, _ = cs.All()
	if count(all, rfp, `LocalMachine\Root`)+count(all, ifp, `LocalMachine\CA`) != 0 {
		t.Errorf("still in the stores after Remove: root %d inter %d", count(all, rfp, `LocalMachine\Root`), count(all, ifp, `LocalMachine\CA`))

	}
	if ours, _ := cs.Imported(); len(ours) != 0 {
		t.Errorf("Imported after Remove: %d", len(ours))
	}
	// A certificate that was there before adldapctl is not adldapctl's.
	if len(all) > 0 {
		if added, _, err := cs.Add(all[0].DER, all[0].Store == `LocalMachine\Root`); err != nil || added {
			t.Errorf("re-adding a pre-existing certificate: added=%v %v", added, err)
		}
		if ours, _ := cs.Imported(); len(ours) != 0 {
			t.Errorf("a pre-existing certificate counted as imported")
		}
	}
}

// writeKey creates HKLM\path with string values (REG_SZ, or REG_MULTI_SZ
// for []string) and removes it at the end.
func writeKey(t *testing.T, path string, values map[string]any) {
	t.Helper()
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, path, registry.ALL_ACCESS)
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	defer k.Close()
	for n, v := range values {
		switch v := v.(type) {
		case string:
			err = k.SetStringValue(n, v)
		case []string:
			err = k.SetStringsValue(n, v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { deleteTree(path) })
}

func deleteTree(path string) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, path, registry.ENUMERATE_SUB_KEYS)
	if err == nil {
		names, _ := k.ReadSubKeyNames(-1)
		k.Close()
		for _, n := range names {
			deleteTree(path + `\` + n)
		}
	}
	_ = registry.DeleteKey(registry.LOCAL_MACHINE, path)
}

func TestWindowsServiceEnv(t *testing.T) {
	needWine(t)
	nssm, direct, bare := "adldapctl-test-env-nssm", "adldapctl-test-env-direct", "adldapctl-test-env-bare"
	pf := `C:\Program Files (x86)\Auth0\AD LDAP Connector`
	writeKey(t, serviceKeyPath(nssm), map[string]any{"ImagePath": `"` + pf + `\nssm.exe"`})
	writeKey(t, serviceKeyPath(nssm)+`\Parameters`, map[string]any{"Application": pf + `\node.exe`, "AppEnvironmentExtra": []string{"FOO=bar", "https_proxy=http://stale:1"}})
	writeKey(t, serviceKeyPath(direct), map[string]any{"ImagePath": `C:\x\node.exe server.js`, "Environment": []string{"KEEP=1", "HTTP_PROXY=http://stale:1"}})
	writeKey(t, serviceKeyPath(bare), map[string]any{"ImagePath": `"C:\x\node.exe" server.js`})

	px := "http://user:s3cret@proxy.test:3128"
	env := map[string]string{"HTTP_PROXY": px, "HTTPS_PROXY": px, "http_proxy": px, "https_proxy": px}
	p := &Platform{OS: "windows", Service: nssm, AdminService: direct}
	res, err := p.SetServiceEnv(env)
	if err != nil || !res.Changed || !res.Registry {
		t.Fatalf("SetServiceEnv: %+v %v", res, err)
	}
	if res.Note != "" {
		t.Errorf("SetServiceEnv note: %s", res.Note)
	}
	// nssm's Parameters key now holds the password: SYSTEM and
	// Administrators only, not inherited from the service key.
	sd, err := windows.GetNamedSecurityInfo(`MACHINE\`+serviceKeyPath(nssm)+`\Parameters`, windows.SE_REGISTRY_KEY, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	// (Wine drops the protected flag, P, from what it reports; the ACEs
	// are what it enforces.)
	if sddl := strings.Replace(sd.String(), "D:P", "D:", 1); sddl != "D:(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)" {
		t.Errorf("Parameters ACL: %s, want SYSTEM and Administrators only", sddl)
	}
	wantFiles := []string{`HKLM\` + serviceKeyPath(nssm) + `\Parameters\AppEnvironmentExtra`, `HKLM\` + serviceKeyPath(direct) + `\Environment`}
	if !slices.Equal(res.Files, wantFiles) {
		t.Errorf("Files: %q, want %q", res.Files, wantFiles)
	}
	ours := []string{"HTTPS_PROXY=" + px, "HTTP_PROXY=" + px}
	if got, _ := readMultiSZ(serviceKeyPath(nssm)+`\Parameters`, "AppEnvironmentExtra"); !slices.Equal(got, append([]string{"FOO=bar"}, ours...)) {
		t.Errorf("nssm AppEnvironmentExtra: %q", got)
	}
	if got, _ := readMultiSZ(serviceKeyPath(direct), "Environment"); !slices.Equal(got, append([]string{"KEEP=1"}, ours...)) {
		t.Errorf("direct Environment: %q", got)
	}
	if got, err := p.ServiceEnv(); err != nil || got["HTTP_PROXY"] != px {
		t.Errorf("ServiceEnv: %v %v", got, err)
	}
	if !strings.HasSuffix(p.ServiceEnvLocation(), `\Parameters\AppEnvironmentExtra`) {
		t.Errorf("ServiceEnvLocation: %s", p.ServiceEnvLocation())
	}
	if res, err := p.SetServiceEnv(env); err != nil || res.Changed {
		t.Errorf("second SetServiceEnv: %+v %v (want unchanged)", res, err)
	}
	if res, err := p.SetServiceEnv(nil); err != nil || len(res.Files) != 2 {
		t.Fatalf("clear: %+v %v", res, err)
	}
	if got, _ := readMultiSZ(serviceKeyPath(nssm)+`\Parameters`, "AppEnvironmentExtra"); !slices.Equal(got, []string{"FOO=bar"}) {
		t.Errorf("nssm after clear: %q", got)
	}
	if got, _ := readMultiSZ(serviceKeyPath(direct), "Environment"); !slices.Equal(got, []string{"KEEP=1"}) {
		t.Errorf("direct after clear: %q", got)
	}
	// A service whose environment held only ours loses the value.
	pb := &Platform{OS: "windows", Service: bare}
	if _, err := pb.SetServiceEnv(env); err != nil {
		t.Fatal(err)
	}
	if _, err := pb.SetServiceEnv(nil); err != nil {
		t.Fatal(err)
	}
	k, _ := registry.OpenKey(registry.LOCAL_MACHINE, serviceKeyPath(bare), registry.QUERY_VALUE)
	if _, _, err := k.GetStringsValue("Environment"); !errors.Is(err, registry.ErrNotExist) {
		t.Errorf("Environment of %s after clear: %v, want deleted", bare, err)
	}
	k.Close()
	// No service: nothing written, said so.
	pn := &Platform{OS: "windows", Service: "adldapctl-test-none"}
	if res, err := pn.SetServiceEnv(env); err != nil || res.Changed || res.Note == "" {
		t.Errorf("without the service: %+v %v", res, err)
	}
}

func TestWindowsFindConnector(t *testing.T) {
	needWine(t)
	const svcName = "adldapctl-test-conn"
	look := connectorLookup{
		uninstallKeys: []string{uninstallKey, `SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall`},
		upgradeCodes:  upgradeCodesKey, service: svcName,
	}
	if prod, err := findConnectorIn(look); err != nil || prod != nil {
		t.Fatalf("nothing installed: %+v %v", prod, err)
	}
	pf := `C:\Program Files (x86)\Auth0\AD LDAP Connector`
	t.Run("nssm", func(t *testing.T) {
		code := "{5A1B2C3D-0000-4000-8000-00000000A001}"
		writeKey(t, `SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\`+code,
			map[string]any{"DisplayName": "Auth0 AD LDAP Connector", "DisplayVersion": "6.1.7"})
		pu, _ := PackGUID(ConnectorUpgradeCode)
		pc, _ := PackGUID(code)
		writeKey(t, upgradeCodesKey+`\`+pu, map[string]any{pc: ""})
		writeKey(t, serviceKeyPath(svcName), map[string]any{"ImagePath": `"` + pf + `\nssm.exe"`})
		writeKey(t, serviceKeyPath(svcName)+`\Parameters`, map[string]any{"Application": pf + `\node.exe`, "AppDirectory": pf, "AppParameters": `"` + pf + `\server.js"`})
		prod, err := findConnectorIn(look)
		if err != nil || prod == nil {
			t.Fatalf("%+v %v", prod, err)
		}
		want := ConnectorProduct{ProductCode: code, DisplayName: "Auth0 AD LDAP Connector", DisplayVersion: "6.1.7", InstallLocation: pf,
			ServiceImagePath: `"` + pf + `\nssm.exe"`, Host: HostNSSM, Application: pf + `\node.exe`, AppDirectory: pf, AppParameters: `"` + pf + `\server.js"`}
		if *prod != want {
			t.Errorf("got  %+v\nwant %+v", *prod, want)
		}
	})
	t.Run("direct", func(t *testing.T) {
		code := "{5A1B2C3D-0000-4000-8000-00000000A002}"
		writeKey(t, uninstallKey+`\`+code, map[string]any{"DisplayName": "Connector (site build)", "DisplayVersion": "6.2.0",
			"UpgradeCode": ConnectorUpgradeCode, "InstallLocation": `D:\Apps\Connector\`})
		writeKey(t, uninstallKey+`\OtherApp`, map[string]any{"DisplayName": "Something else", "DisplayVersion": "9.9"})
		writeKey(t, serviceKeyPath(svcName), map[string]any{"ImagePath": `D:\Apps\Connector\node.exe server.js`})
		prod, err := findConnectorIn(look)
		if err != nil || prod == nil {
			t.Fatalf("%+v %v", prod, err)
		}
		if prod.ProductCode != code || prod.Host != HostDirect || prod.Application != `D:\Apps\Connector\node.exe` ||
			prod.AppParameters != "server.js" || prod.InstallLocation != `D:\Apps\Connector\` || prod.DisplayVersion != "6.2.0" {
			t.Errorf("got %+v", *prod)
		}
	})
}

func TestWindowsKnownFoldersAndDetect(t *testing.T) {
	needWine(t)
	pf86, pf, pd := windowsFolders()
	for _, d := range []string{pf86, pf, pd} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || !filepath.IsAbs(d) {
			t.Errorf("known folder %q: %v", d, err)
		}
	}
	p, err := Detect("")
	if err != nil {
		t.Fatal(err)
	}
	if p.Paths.InstallDir != filepath.Join(pf86, "Auth0", "AD LDAP Connector") || p.Paths.StateDir != filepath.Join(pd, "adldapctl") {
		t.Errorf("Detect paths: %+v", p.Paths)
	}
	if err := p.CheckServiceSupport(); err != nil {
		t.Errorf("CheckServiceSupport: %v", err)
	}
	if err := p.RequireElevation(); err != nil {
		t.Errorf("RequireElevation under Wine (an administrator): %v", err)
	}
	// An installed connector's folder comes from its registration.
	writeKey(t, serviceKeyPath(WindowsServiceName), map[string]any{"ImagePath": `"D:\Conn\nssm.exe"`})
	writeKey(t, serviceKeyPath(WindowsServiceName)+`\Parameters`, map[string]any{"Application": `D:\Conn\node.exe`, "AppDirectory": `D:\Conn`})
	p, _ = Detect("")
	if p.Paths.InstallDir != `D:\Conn` || p.Paths.ConfigFile != `D:\Conn\config.json` {
		t.Errorf("Detect with an installed connector: %+v", p.Paths)
	}
	if _, err := (&Platform{OS: "windows", Root: `C:\r`}).CertStore(); !errors.Is(err, ErrNotSupported) {
		t.Errorf("CertStore under --root: %v", err)
	}
}

func TestWindowsElevationRefused(t *testing.T) {
	needWine(t)
	p, err := Detect("")
	if err != nil {
		t.Fatal(err)
	}
	if !isElevated() {
		t.Fatal("the Wine prefix's user is not elevated: every mutating command would refuse")
	}
	defer func(f func() bool) { isElevated = f }(isElevated)
	isElevated = func() bool { return false } // a standard user, or an admin before UAC
	err = p.RequireElevation()
	if !errors.Is(err, ErrNeedsElevation) || !strings.Contains(err.Error(), "elevated prompt") {
		t.Errorf("RequireElevation as a standard user: %v", err)
	}
	if err := (&Platform{OS: "windows", Root: `C:\sandbox`}).RequireElevation(); err != nil {
		t.Errorf("under --root: %v", err)
	}
}
