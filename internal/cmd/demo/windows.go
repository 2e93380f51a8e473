//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// winSession runs adldapctl.exe in a throwaway Wine prefix and prints
// each command the way an elevated Windows command prompt would show it.
type winSession struct {
	d    *demo
	w    *testbed.Wine
	exe  string
	feed string
}

// show renders args as typed at `C:\>`: the feed URL as %FEED%, the
// ticket masked, arguments with spaces quoted.
func (s *winSession) show(args []string) string {
	out := []string{`adldapctl.exe`}
	for _, a := range args {
		switch {
		case a == s.feed:
			a = "%FEED%"
		case strings.Contains(a, ticket):
			a = strings.ReplaceAll(a, ticket, ticketMasked)
		}
		if strings.ContainsAny(a, " \t") {
			a = `"` + a + `"`
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// do prints and runs adldapctl.exe with st.args (stdout and stderr
// interleaved, as a console shows them) and reports whether it went as
// expected.
func (s *winSession) do(st step) (string, bool) {
	s.d.stopIfInterrupted()
	fmt.Printf("\nC:\\> %s\n", s.show(st.args))
	out, code := s.run(st.args...)
	out = (&session{d: s.d}).scrub("output", out)
	fmt.Print(withNewline(out))
	fmt.Printf("[exit %d]\n", code)
	if !st.codeOK(code) {
		s.d.problem("`%s` exited %d, expected %d", s.show(st.args), code, st.expect)
		return out, false
	}
	if !strings.Contains(out, st.want) {
		s.d.problem("`%s` printed no %q", s.show(st.args), st.want)
		return out, false
	}
	return out, true
}

// run runs adldapctl.exe under Wine (at most 3 minutes) with its output in
// one file (no pipes: the services it starts would inherit them) and
// returns that output, Wine's own diagnostics left out, and the exit code.
func (s *winSession) run(args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f, err := os.CreateTemp("", "adldapctl-demo-out-")
	if err != nil {
		s.d.Fatalf("%v", err)
	}
	defer func() { _ = os.Remove(f.Name()) }()
	defer f.Close()
	cmd := s.w.Command(ctx, s.exe, args...)
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	s.d.stopIfInterrupted()
	out, _ := os.ReadFile(f.Name())
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			s.d.Fatalf("run %s: %v", s.show(args), err)
		}
		code = ee.ExitCode()
	}
	return testbed.FilterWineNoise(strings.ReplaceAll(string(out), "\r\n", "\n")), code
}

// answer shows what the sample connector answers on its port (asked from
// this host: Wine's programs share its loopback), retrying for a while
// until it is version want.
func (s *winSession) answer(port int, want string) {
	s.d.stopIfInterrupted()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	fmt.Printf("\nC:\\> curl.exe -s %s\n", url)
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		body = get(url)
		var v struct {
			Version string `json:"version"`
		}
		if json.Unmarshal([]byte(body), &v) == nil && v.Version == want {
			break
		}
		if time.Now().After(deadline) {
			s.d.problem("the connector on port %d does not answer version %s (%q)", port, want, body)
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	fmt.Print(withNewline(body))
}

func get(url string) string {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "(no answer: " + err.Error() + ")"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return strings.TrimSpace(string(b))
}

// freePort is want when it is free on loopback, else any free port.
func (d *demo) freePort(want int) int {
	if want > 0 {
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(want)); err == nil {
			ln.Close()
			return want
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runWindows is `make demo-windows`: the Windows adldapctl.exe under Wine
// (a throwaway prefix with its own wineserver: registry, service control
// manager, msiexec) against sample connector MSIs served by a local feed.
func (d *demo) runWindows(exe string) {
	d.cleanupNote = "Stopping every Wine process of the prefix and its wineserver (by pid), closing the feed, removing the prefix and temp files."
	fmt.Println("adldapctl demo on Windows: install, verify, update and roll back the Auth0 AD/LDAP")
	fmt.Println("Connector's MSI with the Windows adldapctl.exe, run under Wine in a throwaway prefix")
	fmt.Println("(real msiexec, service control manager and registry). Nothing on this host changes.")
	for _, tool := range []string{"wine", "wixl"} {
		if _, err := exec.LookPath(tool); err != nil {
			d.Fatalf("%s not found: run scripts/deps.sh (make demo-windows does)", tool)
		}
	}

	section("set up", "Building the sample connector MSIs (wixl) while a fresh Wine prefix starts\n(the first run on a machine builds the cached prefix template, about 15 s)...")
	start := time.Now()
	port, admin := d.freePort(defaultPort), d.freePort(0)
	dir := d.TempDir()
	type built struct {
		specs []testfeed.ReleaseSpec
		err   error
	}
	ch := make(chan built, 1)
	go func() {
		var r built
		for _, o := range []testfeed.MSIOptions{{Version: "6.4.1"}, {Version: "6.5.0"}, {Version: "6.6.0", CrashOnStart: true}} {
			o.AdminPort = admin
			a, err := testfeed.MSIAsset(dir, o)
			if err != nil {
				r.err = err
				break
			}
			r.specs = append(r.specs, testfeed.ReleaseSpec{Version: o.Version, Assets: []testfeed.AssetSpec{a}})
		}
		ch <- r
	}()
	w := testbed.StartWine(d)
	r := <-ch
	if r.err != nil {
		d.Fatalf("build the sample MSIs: %v", r.err)
	}
	feed, err := testfeed.Start("127.0.0.1:0", r.specs[:2])
	if err != nil {
		d.Fatalf("start the feed: %v", err)
	}
	d.Cleanup(feed.Close)
	if d.verbose {
		feed.SetLogf(func(format string, args ...any) { d.Logf("feed: "+format, args...) })
	}
	fmt.Printf("Wine prefix %s is up, MSIs built, in %v.\n", w.Prefix, time.Since(start).Round(100*time.Millisecond))

	inst := testfeed.InstallDir
	cfg := w.HostPath(inst + `\config.json`)
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		d.Fatalf("%v", err)
	}
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("{\n  \"PORT\": %d,\n  \"ADMIN_PORT\": %d\n}\n", port, admin)), 0o600); err != nil {
		d.Fatalf("%v", err)
	}
	fmt.Printf("Pre-created %s\\config.json with {\"PORT\": %d}: it stands in for the config an\n", inst, port)
	fmt.Println("admin already has; adldapctl backs it up, keeps it byte for byte and only adds the ticket.")
	fmt.Println("The release feed is a local stand-in for GitHub's releases API serving sample connector")
	fmt.Println("MSIs (adldap-v6.4.1.msi, adldap-v6.5.0.msi), built like the official one: same UpgradeCode,")
	fmt.Println("install folder and two nssm-hosted services, with a small Go program standing in for node.exe.")
	fmt.Printf("\nC:\\> set FEED=%s\n", feed.URL)

	s := &winSession{d: d, w: w, exe: exe, feed: feed.URL}
	adl := func(args ...string) []string { return append([]string{"--feed", feed.URL}, args...) }

	section("install", "A pinned release, from an elevated prompt: download, digest check, msiexec /i, services.")
	s.do(step{args: []string{"version"}})
	s.do(step{args: adl("install", "--version", "6.4.1", "--ticket", ticket)})
	fmt.Println("\nThe sample connector answers with its version:")
	s.answer(port, "6.4.1")
	s.do(step{args: []string{"status"}, want: "6.4.1"})

	section("verify", "The post-install self-check.")
	one := 1
	s.do(step{args: adl("verify"), alsoOK: &one, want: "passed"})
	fmt.Println("(no tenant or directory is reachable here: the tenant and LDAP checks fail or are skipped, as they should)")

	section("update", "Is there a newer release? (exit 10 means yes)")
	s.do(step{args: adl("update", "--check"), expect: 10})
	fmt.Println("\nUpdate: verified download, customer files backed up under %ProgramData%\\adldapctl\\backups,")
	fmt.Println("msiexec major upgrade, files restored byte for byte, services started, health-gated for 5 s.")
	s.do(step{args: adl("update", "--health-grace", "5s")})
	s.answer(port, "6.5.0")

	section("update to a broken release", "6.6.0 is published but its service exits at start: the health gate catches it and\nadldapctl reinstalls the kept 6.5.0 MSI by itself (exit 1: failed, rolled back cleanly).")
	if err := feed.AddRelease(r.specs[2]); err != nil {
		d.Fatalf("add the broken release: %v", err)
	}
	s.do(step{args: adl("update", "--health-grace", "5s"), expect: 1})
	fmt.Println("\nStill serving 6.5.0:")
	s.answer(port, "6.5.0")

	section("rollback", "Back to the previous version (6.4.1) from its kept MSI, customer files kept.")
	s.do(step{args: []string{"rollback", "--health-grace", "5s"}})
	s.answer(port, "6.4.1")
	s.do(step{args: []string{"status"}, want: "6.4.1"})

	if b, err := os.ReadFile(cfg); err != nil {
		d.problem("read config.json after the demo: %v", err)
	} else if !strings.Contains(string(b), fmt.Sprintf(`"PORT": %d`, port)) {
		d.problem("config.json lost the admin's PORT setting")
	}
}
