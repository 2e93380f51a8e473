//go:build linux

// Command demo is `make demo`: it serves a sample connector release from a
// local feed, boots a throwaway Debian container with real systemd
// (internal/testbed), copies adldapctl in and runs install → verify →
// update → rollback in it, printing each command as an admin would type it
// and its real output and exit code. Nothing touches the host's real paths,
// services or trust store: everything happens inside the container, whose
// files live under /var/tmp and are removed at the end.
//
// With -windows (`make demo-windows`) it runs the Windows adldapctl.exe
// under Wine instead, in a throwaway prefix, against sample connector MSIs
// (windows.go).
//
//	go run ./internal/cmd/demo -bin dist/adldapctl [-v]
//	go run ./internal/cmd/demo -windows -bin dist/adldapctl-windows-amd64.exe [-v]
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

const (
	ticket       = "https://demo-tenant.auth0.example/p/ad/DEMO-TICKET"
	ticketMasked = "https://demo-tenant.auth0.example/p/ad/****"
	defaultPort  = 38400
	installDir   = "/opt/auth0-adldap"
)

func main() {
	bin := flag.String("bin", "dist/adldapctl", "the adldapctl binary (linux, static) to demo")
	verbose := flag.Bool("v", false, "print the test bed's and the feed's log lines")
	windows := flag.Bool("windows", false, "demo the Windows adldapctl.exe (-bin) under Wine instead")
	flag.Parse()

	d := &demo{verbose: *verbose, done: make(chan struct{}),
		cleanupNote: "Stopping the container (by its systemd-nspawn pid), closing the feed, removing temp files."}
	d.handleSignals()

	if *windows {
		exe, err := filepath.Abs(*bin)
		if err == nil {
			_, err = os.Stat(exe)
		}
		if err != nil {
			d.Fatalf("the adldapctl.exe binary: %v (make demo-windows builds it)", err)
		}
		d.runWindows(exe)
		d.finish()
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "make demo needs root: it boots a throwaway Debian container with systemd-nspawn")
		os.Exit(1)
	}
	binPath, err := filepath.Abs(*bin)
	if err == nil {
		_, err = os.Stat(binPath)
	}
	if err != nil {
		d.Fatalf("the adldapctl binary: %v (run make bin)", err)
	}
	d.run(binPath)
	d.finish()
}

// demo implements testbed.TB for a program: Fatalf prints the error, runs
// the cleanups (newest first) and exits 1; Logf prints only with -v.
type demo struct {
	verbose     bool
	cleanupNote string // what the clean up does, printed before it

	mu          sync.Mutex
	cleanups    []func()
	failed      bool
	interrupted bool
	cleanOnce   sync.Once
	done        chan struct{} // closed when the cleanups have run

	problems []string // steps that did not go as expected
}

var _ testbed.TB = (*demo)(nil)

func (d *demo) Helper() {}

func (d *demo) Logf(format string, args ...any) {
	if d.verbose {
		fmt.Fprintf(os.Stderr, "    | %s\n", strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "\n    | "))
	}
}

// Errorf reports a problem that is not fatal (the bed uses it for cleanup
// trouble): always printed.
func (d *demo) Errorf(format string, args ...any) {
	d.mu.Lock()
	d.failed = true
	d.mu.Unlock()
	fmt.Fprintf(os.Stderr, "demo: %s\n", fmt.Sprintf(format, args...))
}

// Failed makes the bed print the container's journal (with -v) when the
// demo stops on an error.
func (d *demo) Failed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed
}

func (d *demo) Fatalf(format string, args ...any) {
	d.mu.Lock()
	d.failed = true
	d.mu.Unlock()
	// After a signal the bed is being torn down under us: an Exec failing
	// because of it is no news.
	d.stopIfInterrupted()
	fmt.Fprintf(os.Stderr, "\ndemo: error: %s\n", fmt.Sprintf(format, args...))
	d.runCleanups()
	os.Exit(1)
}

func (d *demo) Cleanup(f func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cleanups = append(d.cleanups, f)
}

func (d *demo) TempDir() string {
	dir, err := os.MkdirTemp("/var/tmp", "adldapctl-demo-")
	if err != nil {
		d.Fatalf("%v", err)
	}
	d.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// runCleanups runs the registered cleanups once, newest first; concurrent
// callers wait until they are done.
func (d *demo) runCleanups() {
	d.cleanOnce.Do(func() {
		d.mu.Lock()
		fs := d.cleanups
		d.cleanups = nil
		d.mu.Unlock()
		if len(fs) > 0 {
			fmt.Println("\n== clean up")
			fmt.Println(d.cleanupNote)
		}
		for i := len(fs) - 1; i >= 0; i-- {
			fs[i]()
		}
		close(d.done)
	})
	<-d.done
}

// stopIfInterrupted parks the calling goroutine for good once a signal has
// arrived, so that nothing more is run or printed while the signal handler
// cleans up and exits.
func (d *demo) stopIfInterrupted() {
	d.mu.Lock()
	interrupted := d.interrupted
	d.mu.Unlock()
	if interrupted {
		<-d.done
		select {}
	}
}

// handleSignals runs the cleanups on SIGINT/SIGTERM and exits 130.
func (d *demo) handleSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-ch
		d.mu.Lock()
		d.interrupted = true
		d.failed = true
		d.mu.Unlock()
		fmt.Fprintf(os.Stderr, "\ndemo: %v: cleaning up\n", sig)
		d.runCleanups()
		os.Exit(130)
	}()
}

// finish cleans up and exits 0, or 1 with a summary when a step did not go
// as expected.
func (d *demo) finish() {
	d.runCleanups()
	if len(d.problems) == 0 {
		fmt.Println("\nDemo done: every step went as expected.")
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "\ndemo: %d step(s) did not go as expected:\n", len(d.problems))
	for _, p := range d.problems {
		fmt.Fprintf(os.Stderr, "  - %s\n", p)
	}
	os.Exit(1)
}

func (d *demo) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.problems = append(d.problems, msg)
	fmt.Printf("!! %s\n", msg)
}

func section(title, explain string) {
	fmt.Printf("\n== %s\n", title)
	if explain != "" {
		fmt.Println(explain)
	}
}

// session runs commands in the container and prints them the way a root
// shell would show them.
type session struct {
	d    *demo
	c    *testbed.Container
	feed string
}

// step is one command of the demo.
type step struct {
	args   []string // what runs in the container
	expect int      // the exit code a working adldapctl gives
	// alsoOK is another exit code that is no problem: verify exits 1 in the
	// container, which has no tenant or directory to reach.
	alsoOK *int
	want   string // a substring stdout must hold ("" for none)
	retry  time.Duration
}

// codeOK reports whether code is what a working adldapctl gives.
func (st step) codeOK(code int) bool {
	return code == st.expect || (st.alsoOK != nil && code == *st.alsoOK)
}

// show renders args as typed: the feed URL as $FEED, the ticket masked.
func (s *session) show(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case a == s.feed:
			a = "$FEED"
		case strings.Contains(a, ticket):
			a = strings.ReplaceAll(a, ticket, ticketMasked)
		}
		if strings.ContainsAny(a, " \t'\"$") && a != "$FEED" {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// scrub masks the ticket in output; finding it there is a problem in itself.
func (s *session) scrub(what, text string) string {
	secret := ticket[strings.LastIndexByte(ticket, '/')+1:]
	if !strings.Contains(text, secret) {
		return text
	}
	s.d.problem("the provisioning ticket appeared in the %s of the command above (masked here): it must never be printed", what)
	return strings.ReplaceAll(text, secret, "****")
}

// do prints and runs st and reports whether it went as expected.
func (s *session) do(st step) (stdout string, ok bool) {
	s.d.stopIfInterrupted()
	fmt.Printf("\n# %s\n", s.show(st.args))
	// stdout and stderr through one pipe, as a terminal would interleave
	// them; exec keeps the command's exit code.
	merged := append([]string{"/bin/sh", "-c", `exec "$@" 2>&1`, "sh"}, st.args...)
	start := time.Now()
	var errOut string
	var code int
	for {
		stdout, errOut, code = s.c.Exec(s.d, merged...)
		s.d.stopIfInterrupted()
		good := st.codeOK(code) && strings.Contains(stdout, st.want)
		if good || time.Since(start) >= st.retry {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	stdout = s.scrub("output", stdout+errOut)
	fmt.Print(withNewline(stdout))
	fmt.Printf("[exit %d]\n", code)
	ok = true
	if !st.codeOK(code) {
		s.d.problem("`%s` exited %d, expected %d", s.show(st.args), code, st.expect)
		ok = false
	} else if !strings.Contains(stdout, st.want) {
		s.d.problem("`%s` printed no %q", s.show(st.args), st.want)
		ok = false
	}
	return stdout, ok
}

// quiet runs a command without printing it and returns its exit code.
func (s *session) quiet(args ...string) int {
	_, _, code := s.c.Exec(s.d, args...)
	s.d.stopIfInterrupted()
	return code
}

func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

func (d *demo) run(bin string) {
	fmt.Println("adldapctl demo: install, verify, update and roll back the Auth0 AD/LDAP Connector")
	fmt.Println("in a throwaway Debian container with real systemd. Nothing on this host changes.")

	// The feed: a stand-in for GitHub's releases API on loopback.
	feed, err := testfeed.Start("127.0.0.1:0", []testfeed.ReleaseSpec{{Version: "6.4.1"}, {Version: "6.5.0"}})
	if err != nil {
		d.Fatalf("start the feed: %v", err)
	}
	d.Cleanup(feed.Close)
	if d.verbose {
		feed.SetLogf(func(format string, args ...any) { d.Logf("feed: "+format, args...) })
	}

	section("set up", "Booting a Debian bookworm container with systemd-nspawn (first run builds the cached rootfs)...")
	start := time.Now()
	c := testbed.StartContainer(d)
	fmt.Printf("Container %s is up: systemd is its PID 1 (host pid %d), booted in %v.\n",
		c.Name, c.PID, time.Since(start).Round(100*time.Millisecond))
	c.CopyIn(d, bin, "/usr/local/bin/adldapctl", 0o755)
	fmt.Println("Copied adldapctl in as /usr/local/bin/adldapctl.")

	// The container shares the host's network: the connector's port must be
	// free on the host too.
	port := defaultPort
	if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			d.Fatalf("find a free port: %v", err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		fmt.Printf("(port %d is busy on this host; the connector uses %d instead)\n", defaultPort, port)
	} else {
		ln.Close()
	}
	c.ExecOK(d, "mkdir", "-p", installDir)
	c.WriteFile(d, installDir+"/config.json", []byte(fmt.Sprintf("{\n  \"PORT\": %d\n}\n", port)), 0o600)
	fmt.Printf("Pre-created %s/config.json with {\"PORT\": %d}: it stands in for the config an admin\n", installDir, port)
	fmt.Println("already has; adldapctl keeps it byte for byte and only adds the ticket to it.")
	fmt.Printf("The release feed is a local stand-in for GitHub's releases API serving a sample\n")
	fmt.Printf("connector (6.4.1 and 6.5.0); real installs use https://api.github.com/repos/auth0/ad-ldap-connector.\n")
	fmt.Printf("\n# FEED=%s\n", feed.URL)

	s := &session{d: d, c: c, feed: feed.URL}
	adl := func(args ...string) []string {
		return append([]string{"adldapctl", "--feed", feed.URL}, args...)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	curl := func(ver string) step {
		return step{args: []string{"curl", "-s", url}, want: `"version":"` + ver + `"`, retry: 15 * time.Second}
	}

	section("install", "A pinned release, provisioned with the tenant's ticket (never printed).")
	s.do(step{args: []string{"adldapctl", "version"}})
	s.do(step{args: adl("install", "--version", "6.4.1", "--ticket", ticket)})
	s.do(step{args: []string{"systemctl", "status", "auth0-adldap", "--no-pager", "--lines=3"}})
	fmt.Println("The sample connector answers with its version:")
	s.do(curl("6.4.1"))
	s.do(step{args: []string{"adldapctl", "status"}})

	section("verify", "The post-install self-check.")
	if s.quiet("adldapctl", "verify", "--help") == 0 {
		// The container has no network: the tenant and LDAP checks fail
		// (exit 1), which is what verify should say there.
		one := 1
		s.do(step{args: []string{"adldapctl", "verify"}, alsoOK: &one, want: "passed"})
		fmt.Println("(no tenant or directory is reachable from this container: the tenant and LDAP checks fail or are skipped, as they should)")
	} else {
		fmt.Println("(this adldapctl has no verify command yet: skipped)")
	}

	if s.quiet("adldapctl", "update", "--help") != 0 {
		section("update", "(this adldapctl has no update command yet: update and rollback skipped)")
		return
	}
	section("update", "Is there a newer release? (exit 10 means yes)")
	s.do(step{args: adl("update", "--check"), expect: 10})
	fmt.Println("Update: verified download, staged, switched, restarted, health-gated for 5 s.")
	s.do(step{args: adl("update", "--health-grace", "5s")})
	s.do(curl("6.5.0"))
	s.do(step{args: []string{"adldapctl", "status"}})

	section("update to a broken release", "6.6.0 is published but crashes on start: the health gate catches it and\nadldapctl rolls back to 6.5.0 by itself (exit 1: failed, rolled back cleanly).")
	if err := feed.AddRelease(testfeed.ReleaseSpec{Version: "6.6.0", Sample: testfeed.SampleOptions{CrashOnStart: true}}); err != nil {
		d.Fatalf("add the broken release: %v", err)
	}
	s.do(step{args: adl("update", "--health-grace", "5s"), expect: 1})
	fmt.Println("Still serving 6.5.0:")
	s.do(curl("6.5.0"))

	section("rollback", "Back to the previous version (6.4.1), customer files kept.")
	s.do(step{args: []string{"adldapctl", "rollback", "--health-grace", "5s"}})
	s.do(curl("6.4.1"))
	s.do(step{args: []string{"adldapctl", "status"}})

	if cfg, err := os.ReadFile(c.HostPath(installDir + "/config.json")); err != nil {
		d.problem("read config.json after the demo: %v", err)
	} else if !strings.Contains(string(cfg), fmt.Sprintf(`"PORT": %d`, port)) {
		d.problem("config.json lost the admin's PORT setting")
	}
}
