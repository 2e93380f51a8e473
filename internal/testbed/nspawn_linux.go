//go:build linux

package testbed

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// DefaultCacheDir holds the cached rootfs tarball unless
// ADLDAPCTL_TESTBED_CACHE says otherwise (same rule as
// scripts/testbed-rootfs.sh).
const DefaultCacheDir = "/var/cache/adldapctl-testbeds"

// containerPATH is the PATH of commands run in the container.
const containerPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// RootfsTarball is the path of the cached bookworm rootfs tarball.
func RootfsTarball() string { return cachePath("bookworm-rootfs-2.tar") }

// SysVRootfsTarball is the path of the cached bookworm rootfs with
// sysvinit-core as /sbin/init (built from RootfsTarball by
// scripts/testbed-rootfs.sh).
func SysVRootfsTarball() string { return cachePath("bookworm-sysv-rootfs-2.tar") }

func cachePath(name string) string {
	dir := os.Getenv("ADLDAPCTL_TESTBED_CACHE")
	if dir == "" {
		dir = DefaultCacheDir
	}
	return filepath.Join(dir, name)
}

// Options choose the bed StartContainerWith boots.
type Options struct {
	// SysV boots the SysV rootfs (SysVRootfsTarball) with sysvinit as
	// PID 1: systemd-nspawn runs /sbin/init instead of --boot (which
	// prefers systemd), and the bed is up once runlevel 2 is entered and
	// its rc scripts have finished. There is no systemctl or journal.
	SysV bool
	// PrivateNetwork gives the container its own network namespace
	// (systemd-nspawn --private-network): a loopback interface and no
	// route anywhere, not even to the host. Reach its services from
	// inside (Exec).
	PrivateNetwork bool
	// NoNPM leaves the host's npm out: only node is mounted in, and the
	// container has no npm on PATH.
	NoNPM bool
}

// RequireRoot skips (or, under CI=true, fails) a test not running as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root privileges (systemd-nspawn needs them; run the tests as root)")
	}
}

// Container is a booted systemd-nspawn container. Unless started with
// Options.PrivateNetwork it shares the host's network namespace, so
// services in it and test servers on the host reach each other on
// 127.0.0.1.
type Container struct {
	Name      string // machine name and hostname
	Dir       string // the container's root directory on the host
	PID       int    // host pid of the container's init (its PID 1): systemd, or sysvinit
	NspawnPID int    // host pid of the systemd-nspawn process
	SysV      bool   // booted with sysvinit (Options.SysV)

	// ExecTimeout bounds each Exec (default 2 minutes).
	ExecTimeout time.Duration

	base       string // temp dir holding Dir and the console log
	consoleLog string
	nsenter    string
	exited     chan struct{} // closed when systemd-nspawn has been reaped
	waitErr    error
}

// StartContainer boots a fresh container from the cached rootfs (building
// the cache with scripts/testbed-rootfs.sh when it is missing) and waits
// until systemd reports running or degraded. The host's node is mounted
// read-only at /usr/local/bin/node and (unless Options.NoNPM) its npm
// package at /usr/local/lib/node_modules/npm (with /usr/local/bin/npm and
// npx links).
// t.Cleanup stops the container by its systemd-nspawn pid and removes it.
// t is a *testing.T/B or any other TB (the demo program has its own).
func StartContainer(t TB) *Container {
	t.Helper()
	return StartContainerWith(t, Options{})
}

// StartContainerWith is StartContainer for the bed o chooses.
func StartContainerWith(t TB, o Options) *Container {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "root privileges (systemd-nspawn needs them; run the tests as root)")
	}
	tarball := RootfsTarball()
	if o.SysV {
		tarball = SysVRootfsTarball()
	}
	ensureRootfs(t, tarball, o.SysV)
	nspawn := lookPath(t, "systemd-nspawn")
	nsenter := lookPath(t, "nsenter")
	tarBin := lookPath(t, "tar")
	nodeBin, npmDir := hostNode(t, !o.NoNPM)

	base, err := os.MkdirTemp("/var/tmp", "adldapctl-bed-")
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	c := &Container{
		SysV:        o.SysV,
		Name:        "adldap-" + randomHex(4),
		Dir:         filepath.Join(base, "rootfs"),
		base:        base,
		consoleLog:  filepath.Join(base, "console.log"),
		nsenter:     nsenter,
		exited:      make(chan struct{}),
		ExecTimeout: 2 * time.Minute,
	}
	// Until systemd-nspawn is started (its own cleanup, c.stop, then owns
	// base), remove base if the caller stops early: a Fatalf below, or a
	// program's signal handler running its cleanups mid-extraction.
	// A tar still extracting is stopped first (a signal sent to the
	// program's pid alone does not reach it).
	var nspawnStarting, extracting atomic.Bool
	extractCtx, cancelExtract := context.WithCancel(context.Background())
	defer cancelExtract()
	extracted := make(chan struct{})
	t.Cleanup(func() {
		if nspawnStarting.Load() {
			return
		}
		cancelExtract() // before the check: a tar not yet started never starts
		if extracting.Load() {
			select {
			case <-extracted:
			case <-time.After(10 * time.Second):
			}
		}
		_ = os.RemoveAll(base)
	})
	if err := os.Mkdir(c.Dir, 0o755); err != nil {
		t.Fatalf("testbed: %v", err)
	}

	start := time.Now()
	extracting.Store(true)
	out, err := exec.CommandContext(extractCtx, tarBin, "--numeric-owner", "-xpf", tarball, "-C", c.Dir).CombinedOutput()
	close(extracted)
	if err != nil {
		_ = os.RemoveAll(base)
		t.Fatalf("testbed: extract %s: %v\n%s", tarball, err, out)
	}
	t.Logf("testbed: rootfs extracted to %s in %v", c.Dir, time.Since(start).Round(time.Millisecond))

	if err := c.prepareRootfs(!o.NoNPM); err != nil {
		_ = os.RemoveAll(base)
		t.Fatalf("testbed: prepare rootfs: %v", err)
	}

	console, err := os.Create(c.consoleLog)
	if err != nil {
		_ = os.RemoveAll(base)
		t.Fatalf("testbed: %v", err)
	}
	args := []string{
		"-D", c.Dir, "--register=no", "--keep-unit",
		"--machine=" + c.Name, "--console=read-only",
		"--bind-ro=" + nodeBin + ":/usr/local/bin/node",
	}
	if npmDir != "" {
		args = append(args, "--bind-ro="+npmDir+":/usr/local/lib/node_modules/npm")
	}
	if o.PrivateNetwork {
		args = append(args, "--private-network")
	}
	if o.SysV {
		// Name the init: --boot would pick systemd while its binary is
		// there. Without --boot, SIGTERM to systemd-nspawn kills the
		// container's processes (no orderly shutdown needed for a bed).
		args = append(args, "/sbin/init")
	} else {
		args = append(args, "--boot")
	}
	cmd := exec.Command(nspawn, args...)
	cmd.Env = cleanEnv()
	cmd.Stdout = console
	cmd.Stderr = console
	// SIGTERM makes systemd-nspawn power the container off; it is sent by
	// the kernel if this test process dies without running its cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}

	// The parent-death signal is tied to the thread that forks, so fork
	// from a locked thread that lives until systemd-nspawn has exited.
	nspawnStarting.Store(true)
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer console.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			close(c.exited)
			return
		}
		started <- nil
		c.waitErr = cmd.Wait()
		close(c.exited)
		// Returning with the thread locked retires it, after nspawn is gone.
	}()
	if err := <-started; err != nil {
		_ = os.RemoveAll(base)
		t.Fatalf("testbed: start systemd-nspawn: %v", err)
	}
	c.NspawnPID = cmd.Process.Pid
	t.Cleanup(func() { c.stop(t) })

	bootStart := time.Now()
	pid, err := c.findInit(30 * time.Second)
	if err != nil {
		t.Fatalf("testbed: %v\nconsole:\n%s", err, c.consoleTail(40))
	}
	c.PID = pid
	waitUp := c.waitRunning
	if o.SysV {
		waitUp = c.waitRunlevel
	}
	state, err := waitUp(60 * time.Second)
	if err != nil {
		t.Fatalf("testbed: %v\nconsole:\n%s", err, c.consoleTail(40))
	}
	t.Logf("testbed: container %s (nspawn pid %d, init pid %d) %s after %v",
		c.Name, c.NspawnPID, c.PID, state, time.Since(bootStart).Round(time.Millisecond))
	if state == "degraded" {
		out, _, _ := c.Exec(t, "systemctl", "--failed", "--no-legend", "--plain")
		t.Logf("testbed: failed units:\n%s", out)
	}
	if out, errOut, code := c.Exec(t, "node", "--version"); code != 0 {
		t.Fatalf("testbed: the host's node (%s) does not run in the container (exit %d): %s%s\n"+
			"use a self-contained Node.js build (nodejs.org or NodeSource), not one linked against host-only libraries",
			nodeBin, code, out, errOut)
	}
	return c
}

// prepareRootfs writes the hostname and the mount points and links for the
// host's node and (when npm is set) npm.
func (c *Container) prepareRootfs(npm bool) error {
	if err := os.WriteFile(filepath.Join(c.Dir, "etc/hostname"), []byte(c.Name+"\n"), 0o644); err != nil {
		return err
	}
	bin := filepath.Join(c.Dir, "usr/local/bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bin, "node"), nil, 0o755); err != nil {
		return err
	}
	if !npm {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "usr/local/lib/node_modules/npm"), 0o755); err != nil {
		return err
	}
	for name, target := range map[string]string{
		"npm": "../lib/node_modules/npm/bin/npm-cli.js",
		"npx": "../lib/node_modules/npm/bin/npx-cli.js",
	} {
		_ = os.Remove(filepath.Join(bin, name))
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			return err
		}
	}
	return nil
}

// findInit finds the container's PID 1: the descendant of systemd-nspawn
// whose innermost pid (NSpid) is 1.
func (c *Container) findInit(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-c.exited:
			return 0, fmt.Errorf("systemd-nspawn exited during boot: %v", c.waitErr)
		default:
		}
		for _, pid := range descendants(c.NspawnPID) {
			if nsPIDIsOne(pid) {
				return pid, nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no container init under systemd-nspawn pid %d after %v", c.NspawnPID, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRunning polls systemctl is-system-running until it says running or
// degraded.
func (c *Container) waitRunning(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		select {
		case <-c.exited:
			return "", fmt.Errorf("systemd-nspawn exited during boot: %v", c.waitErr)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _, _, err := c.run(ctx, nil, "systemctl", "is-system-running")
		cancel()
		last = strings.TrimSpace(out)
		if err == nil && (last == "running" || last == "degraded") {
			return last, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("container %s not running after %v (is-system-running: %q, err %v)", c.Name, timeout, last, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitRunlevel waits until sysvinit has entered runlevel 2 and its rc
// scripts have finished (no /etc/init.d/rc process left).
func (c *Container) waitRunlevel(timeout time.Duration) (string, error) {
	const probe = `runlevel; for p in /proc/[0-9]*; do tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q '^/bin/sh /etc/init.d/rc ' && echo busy; done; true`
	deadline := time.Now().Add(timeout)
	var last string
	for {
		select {
		case <-c.exited:
			return "", fmt.Errorf("systemd-nspawn exited during boot: %v", c.waitErr)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _, _, err := c.run(ctx, nil, "/bin/sh", "-c", probe)
		cancel()
		last = strings.TrimSpace(out)
		if err == nil && last == "N 2" {
			return "in runlevel 2", nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("container %s not in runlevel 2 after %v (runlevel: %q, err %v)", c.Name, timeout, last, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop powers the container off through systemd-nspawn (SIGTERM to its
// pid), kills the container's init and nspawn by pid if that takes too
// long, then removes the container's files.
func (c *Container) stop(t TB) {
	if failed(t) && c.SysV {
		t.Logf("testbed: console of %s:\n%s", c.Name, c.consoleTail(40))
	}
	if failed(t) && c.PID != 0 && !c.SysV {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, _, _, err := c.run(ctx, nil, "journalctl", "--no-pager", "-n", "80")
		cancel()
		if err == nil {
			t.Logf("testbed: journal of %s (last 80 lines):\n%s", c.Name, out)
		}
		t.Logf("testbed: console of %s:\n%s", c.Name, c.consoleTail(20))
	}
	_ = syscall.Kill(c.NspawnPID, syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		t.Logf("testbed: %s did not power off within 20s; killing init pid %d and nspawn pid %d", c.Name, c.PID, c.NspawnPID)
		if c.PID != 0 && nsPIDIsOne(c.PID) {
			_ = syscall.Kill(c.PID, syscall.SIGKILL)
		}
		_ = syscall.Kill(c.NspawnPID, syscall.SIGKILL)
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			errorf(t, "testbed: systemd-nspawn pid %d of %s does not exit; leaving %s", c.NspawnPID, c.Name, c.base)
			return
		}
	}
	if m := mountsUnder(c.base); len(m) > 0 {
		errorf(t, "testbed: mounts left under %s (%v); not removing it", c.base, m)
		return
	}
	if err := os.RemoveAll(c.base); err != nil {
		errorf(t, "testbed: remove %s: %v", c.base, err)
	}
	_ = os.Remove(filepath.Join("/run/systemd/nspawn/propagate", c.Name))
}

// Exec runs a command in the container (nsenter into all its namespaces)
// with a clean environment (PATH, HOME=/root, LANG=C.UTF-8, no pager) and
// returns its output and exit code. It fails the test if the command
// cannot be run or exceeds ExecTimeout.
func (c *Container) Exec(t TB, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	return c.ExecInput(t, nil, args...)
}

// ExecInput is Exec with stdin.
func (c *Container) ExecInput(t TB, stdin io.Reader, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	if len(args) == 0 {
		t.Fatalf("testbed: Exec without a command")
	}
	timeout := c.ExecTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	stdout, stderr, exitCode, err := c.run(ctx, stdin, args...)
	if err != nil {
		t.Fatalf("testbed: exec %q in %s: %v\nstdout: %s\nstderr: %s", args, c.Name, err, stdout, stderr)
	}
	return stdout, stderr, exitCode
}

// ExecOK is Exec that fails the test on a non-zero exit; it returns stdout.
func (c *Container) ExecOK(t TB, args ...string) string {
	t.Helper()
	out, errOut, code := c.Exec(t, args...)
	if code != 0 {
		t.Fatalf("testbed: %q in %s: exit %d\nstdout: %s\nstderr: %s", args, c.Name, code, out, errOut)
	}
	return out
}

// run execs through nsenter. err is non-nil only when the command could not
// run to completion (start failure, timeout); a non-zero exit is exitCode.
func (c *Container) run(ctx context.Context, stdin io.Reader, args ...string) (string, string, int, error) {
	nsArgs := append([]string{"-t", strconv.Itoa(c.PID), "-a", "--"}, args...)
	cmd := exec.CommandContext(ctx, c.nsenter, nsArgs...)
	cmd.Env = append(cleanEnv(), "HOME=/root", "LANG=C.UTF-8", "TERM=dumb",
		"PAGER=cat", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0")
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	// nsenter forks the command into the container's pid namespace and does
	// not forward signals: on timeout kill the command's tree by pid.
	cmd.Cancel = func() error {
		killTree(cmd.Process.Pid)
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), errOut.String(), -1, fmt.Errorf("timed out: %w", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return out.String(), errOut.String(), ee.ExitCode(), nil
	}
	if err != nil {
		return out.String(), errOut.String(), -1, err
	}
	return out.String(), errOut.String(), 0, nil
}

// WriteFile writes data to containerPath (parents created) with mode,
// atomically, through the container so its own mounts (/tmp, /run) apply.
func (c *Container) WriteFile(t TB, containerPath string, data []byte, mode os.FileMode) {
	t.Helper()
	c.writeFrom(t, bytes.NewReader(data), containerPath, mode)
}

// CopyIn copies a host file into the container (see WriteFile).
func (c *Container) CopyIn(t TB, hostPath, containerPath string, mode os.FileMode) {
	t.Helper()
	f, err := os.Open(hostPath)
	if err != nil {
		t.Fatalf("testbed: CopyIn: %v", err)
	}
	defer f.Close()
	c.writeFrom(t, f, containerPath, mode)
}

func (c *Container) writeFrom(t TB, r io.Reader, containerPath string, mode os.FileMode) {
	t.Helper()
	if !strings.HasPrefix(containerPath, "/") {
		t.Fatalf("testbed: container path %q is not absolute", containerPath)
	}
	const script = `set -e; d=$(dirname "$1"); mkdir -p "$d"; tmp="$1.testbed-tmp.$$"; cat >"$tmp"; chmod "$2" "$tmp"; mv -f "$tmp" "$1"`
	_, errOut, code := c.ExecInput(t, r, "/bin/sh", "-c", script, "sh", containerPath, fmt.Sprintf("%o", mode.Perm()))
	if code != 0 {
		t.Fatalf("testbed: write %s in %s: exit %d: %s", containerPath, c.Name, code, errOut)
	}
}

// ReadFile reads a file as the container sees it (through the container,
// so tmpfs mounts like /tmp are included). It fails the test if the file
// cannot be read.
func (c *Container) ReadFile(t TB, containerPath string) []byte {
	t.Helper()
	out, errOut, code := c.Exec(t, "cat", "--", containerPath)
	if code != 0 {
		t.Fatalf("testbed: read %s in %s: exit %d: %s", containerPath, c.Name, code, errOut)
	}
	return []byte(out)
}

// HostPath is where containerPath of the container's root filesystem lies
// on the host. Paths under the container's own mounts (/tmp, /run, /proc,
// /sys, /dev) are not there.
func (c *Container) HostPath(containerPath string) string {
	return filepath.Join(c.Dir, filepath.Clean("/"+containerPath))
}

// Journal returns the container's journal for a unit ("" for all), as
// `journalctl -o cat`.
func (c *Container) Journal(t TB, unit string) string {
	t.Helper()
	args := []string{"journalctl", "--no-pager", "-o", "cat"}
	if unit != "" {
		args = append(args, "-u", unit)
	}
	out, _, _ := c.Exec(t, args...)
	return out
}

// WaitHTTP polls url from the host until it answers 2xx and returns the
// body; it fails the test after timeout.
func (c *Container) WaitHTTP(t TB, url string, timeout time.Duration) []byte {
	t.Helper()
	return WaitHTTP(t, url, timeout)
}

// WaitHTTP polls url until it answers 2xx and returns the body; it fails
// the test after timeout.
func WaitHTTP(t TB, url string, timeout time.Duration) []byte {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 && rerr == nil {
				return body
			}
			last = fmt.Sprintf("%s: %.200s", resp.Status, body)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("testbed: %s not answering 2xx after %v: %s", url, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *Container) consoleTail(n int) string {
	b, err := os.ReadFile(c.consoleLog)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ensureRootfs runs scripts/testbed-rootfs.sh (for the sysv bed or the
// systemd one) when tarball or systemd-nspawn is missing.
func ensureRootfs(t TB, tarball string, sysv bool) {
	t.Helper()
	_, err := exec.LookPath("systemd-nspawn")
	if _, serr := os.Stat(tarball); serr == nil && err == nil {
		return
	}
	root, err := repoRoot()
	if err != nil {
		missing(t, fmt.Sprintf("%s (and cannot find scripts/testbed-rootfs.sh: %v)", tarball, err))
	}
	script := filepath.Join(root, "scripts", "testbed-rootfs.sh")
	which := "systemd"
	if sysv {
		which = "sysv"
	}
	t.Logf("testbed: running %s %s (first run: debootstrap takes minutes)", script, which)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, which)
	cmd.Cancel = func() error { killTree(cmd.Process.Pid); return nil }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		missing(t, fmt.Sprintf("%s failed: %v\n%s", script, err, out))
	}
	t.Logf("testbed: %s", bytes.TrimSpace(out))
}

// repoRoot walks up from the working directory to the directory holding
// go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func lookPath(t TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
			if _, serr := os.Stat(filepath.Join(dir, name)); serr == nil {
				return filepath.Join(dir, name)
			}
		}
		missing(t, name+" (run scripts/testbed-rootfs.sh as root)")
	}
	return p
}

// hostNode finds the host's node binary and, when npm is set, its npm
// package directory.
func hostNode(t TB, npm bool) (nodeBin, npmDir string) {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node on the host PATH (it is bind-mounted into the container)")
	}
	if nodeBin, err = filepath.EvalSymlinks(p); err != nil {
		t.Fatalf("testbed: resolve %s: %v", p, err)
	}
	if !npm {
		return nodeBin, ""
	}
	p, err = exec.LookPath("npm")
	if err != nil {
		missing(t, "npm on the host PATH (it is bind-mounted into the container)")
	}
	cli, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatalf("testbed: resolve %s: %v", p, err)
	}
	// Walk up from bin/npm-cli.js to the package whose package.json names npm.
	for dir := filepath.Dir(cli); dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(dir, "package.json"))
		if err != nil {
			continue
		}
		var pkg struct{ Name string }
		if json.Unmarshal(b, &pkg) == nil && pkg.Name == "npm" {
			return nodeBin, dir
		}
	}
	missing(t, fmt.Sprintf("the npm package directory (npm resolves to %s, a wrapper script?)", cli))
	return "", ""
}

func cleanEnv() []string {
	return []string{"PATH=" + containerPATH}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// parentPID reads the parent pid from /proc/PID/stat.
func parentPID(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// descendants lists the pids below pid, parents before children.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentPID(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, ch := range children[p] {
			out = append(out, ch)
			queue = append(queue, ch)
		}
	}
	return out
}

// nsPIDIsOne reports whether pid is PID 1 of a nested pid namespace.
func nsPIDIsOne(pid int) bool {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "NSpid:"); ok {
			ids := strings.Fields(rest)
			return len(ids) > 1 && ids[len(ids)-1] == "1"
		}
	}
	return false
}

// killTree SIGKILLs pid's descendants (deepest first) and then pid, each by
// its pid.
func killTree(pid int) {
	d := descendants(pid)
	for i := len(d) - 1; i >= 0; i-- {
		_ = syscall.Kill(d[i], syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// mountsUnder lists mount points of this mount namespace at or below dir.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := fields[4]
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}
