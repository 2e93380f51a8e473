package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Wine is a throwaway Wine prefix with its own persistent wineserver: the
// real Windows API surface (registry, service control manager, certificate
// stores, msiexec) for a Windows build of adldapctl and its test programs.
//
// Each StartWine copies a cached pristine prefix (made once by wineboot,
// with the ProcessPrng shim Go ≥ 1.22 needs, see TESTBEDS.md) into a fresh
// folder, so tests never see each other's services or stores.
type Wine struct {
	// Prefix is the WINEPREFIX folder; Prefix/drive_c is C:\.
	Prefix string
	env    []string
	server *exec.Cmd
	done   chan struct{}
}

// wineEnv is the environment every wine command of prefix runs with: no
// display, no Mono/Gecko install prompts, no debug chatter.
func wineEnv(prefix string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "WINEPREFIX", "WINEDEBUG", "WINEDLLOVERRIDES", "DISPLAY", "WAYLAND_DISPLAY", "WINEARCH", "WINESERVER":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "WINEPREFIX="+prefix, "WINEDEBUG=-all", "WINEARCH=win64",
		"WINEDLLOVERRIDES=mscoree,mshtml=")
}

var templateOnce sync.Mutex

// wineTemplate returns the cached pristine prefix, building it when
// missing: wineboot, then the ProcessPrng shim into system32.
func wineTemplate(t TB) string {
	t.Helper()
	templateOnce.Lock()
	defer templateOnce.Unlock()
	for _, tool := range []string{"wine", "wineserver", "wineboot", "x86_64-w64-mingw32-gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, tool+" (scripts/deps.sh installs wine, wine64 and gcc-mingw-w64-x86-64)")
		}
	}
	ver, err := exec.Command("wine", "--version").Output()
	if err != nil {
		missing(t, fmt.Sprintf("wine --version: %v", err))
	}
	name := "wine-prefix-" + strings.NewReplacer(" ", "_", "/", "_", "~", "_").Replace(strings.TrimSpace(string(ver)))
	tmpl := cachePath(name)
	if _, err := os.Stat(filepath.Join(tmpl, "drive_c", "windows", "system32", "bcryptprimitives.dll")); err == nil {
		return tmpl
	}
	if err := os.MkdirAll(filepath.Dir(tmpl), 0o755); err != nil {
		t.Fatalf("wine bed: %v", err)
	}
	build, err := os.MkdirTemp(filepath.Dir(tmpl), name+".build-")
	if err != nil {
		t.Fatalf("wine bed: %v", err)
	}
	defer func() { _ = os.RemoveAll(build) }() // gone once renamed; a failed build's leftovers otherwise
	prefix := filepath.Join(build, "prefix")
	t.Logf("testbed: creating the Wine prefix template %s (once)", tmpl)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := wineEnv(prefix)
	boot := exec.CommandContext(ctx, "wineboot", "-i")
	boot.Env = env
	if out, err := boot.CombinedOutput(); err != nil {
		missing(t, fmt.Sprintf("wineboot -i: %v\n%s", err, FilterWineNoise(string(out))))
	}
	// wineboot can return before the prefix is complete: wait for its
	// wineserver to finish.
	wait := exec.CommandContext(ctx, "wineserver", "-w")
	wait.Env = env
	_ = wait.Run() // -w only waits; a server already gone is fine
	sys32 := filepath.Join(prefix, "drive_c", "windows", "system32")
	if _, err := os.Stat(sys32); err != nil {
		missing(t, fmt.Sprintf("wineboot made no %s: %v", sys32, err))
	}
	if err := buildPrngShim(ctx, build, filepath.Join(sys32, "bcryptprimitives.dll")); err != nil {
		missing(t, err.Error())
	}
	if err := os.Rename(prefix, tmpl); err != nil && !os.IsExist(err) {
		t.Fatalf("wine bed: %v", err)
	}
	return tmpl
}

// prngShim is the ProcessPrng export Go ≥ 1.22 needs from
// bcryptprimitives.dll (Wine 8 lacks it): RtlGenRandom underneath.
const prngShim = `#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
		if (!SystemFunction036(data, n)) return FALSE;
		data += n; len -= n;
	}
	return TRUE;
}
`

func buildPrngShim(ctx context.Context, dir, out string) error {
	src := filepath.Join(dir, "prng.c")
	if err := os.WriteFile(src, []byte(prngShim), 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "x86_64-w64-mingw32-gcc", "-shared", "-O2", "-o", out, src, "-ladvapi32")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the ProcessPrng shim: %v\n%s", err, b)
	}
	return nil
}

// StartWine gives the test a fresh prefix (a copy of the cached template)
// and a persistent wineserver for its lifetime: services started by the
// SCM live inside the wineserver, which otherwise exits seconds after its
// last client. Cleanup stops every wine process of the prefix, then the
// server, by its pid, and removes the prefix.
func StartWine(t TB) *Wine {
	t.Helper()
	tmpl := wineTemplate(t)
	dir := bedDir(t, "wine", 0o700)
	prefix := filepath.Join(dir, "prefix")
	if out, err := exec.Command("cp", "-a", tmpl, prefix).CombinedOutput(); err != nil {
		t.Fatalf("wine bed: copy the prefix template: %v\n%s", err, out)
	}
	w := &Wine{Prefix: prefix, env: wineEnv(prefix), done: make(chan struct{})}
	w.server = exec.Command("wineserver", "-f", "-p")
	w.server.Env = w.env
	w.server.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := w.server.Start(); err != nil {
		t.Fatalf("wine bed: start wineserver: %v", err)
	}
	go func() { _ = w.server.Wait(); close(w.done) }()
	t.Cleanup(func() { w.stop(t) })
	// The first command boots the prefix's own processes (services.exe,
	// the SCM); wait for it so a test's first timing is not the boot.
	if _, stderr, code := w.Run(t, "cmd", "/c", "ver"); code != 0 {
		t.Fatalf("wine bed: cmd /c ver exited %d: %s", code, stderr)
	}
	return w
}

func (w *Wine) stop(t TB) {
	kill := exec.Command("wineserver", "-k")
	kill.Env = w.env
	_ = kill.Run() // ends every wine process of the prefix; the server may already be gone
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		killTree(w.server.Process.Pid)
		select {
		case <-w.done:
		case <-time.After(5 * time.Second):
			errorf(t, "wine bed: wineserver pid %d did not stop", w.server.Process.Pid)
		}
	}
}

// Env is the environment of commands run in the prefix.
func (w *Wine) Env() []string { return append([]string(nil), w.env...) }

// Command returns `wine exe args...` in the prefix. exe is a host path to
// a Windows program or a program name Wine finds (cmd, msiexec, reg, sc).
func (w *Wine) Command(ctx context.Context, exe string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "wine", append([]string{exe}, args...)...)
	cmd.Env = w.Env()
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs exe under Wine (at most 3 minutes) and returns its output, the
// Wine noise filtered out of stderr, and its exit code.
func (w *Wine) Run(t TB, exe string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return w.RunContext(ctx, t, exe, args...)
}

// RunContext is Run under ctx. Output goes through files, not pipes: the
// prefix's own processes (services.exe, winedevice) that the first command
// starts inherit its handles and would hold a pipe open.
func (w *Wine) RunContext(ctx context.Context, t TB, exe string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := w.Command(ctx, exe, args...)
	o, err := os.CreateTemp("", "wine-out-")
	if err != nil {
		t.Fatalf("wine %s: %v", exe, err)
	}
	defer func() { _ = os.Remove(o.Name()) }()
	defer o.Close()
	e, err := os.CreateTemp("", "wine-err-")
	if err != nil {
		t.Fatalf("wine %s: %v", exe, err)
	}
	defer func() { _ = os.Remove(e.Name()) }()
	defer e.Close()
	cmd.Stdout, cmd.Stderr = o, e
	err = cmd.Run()
	ob, _ := os.ReadFile(o.Name())
	eb, _ := os.ReadFile(e.Name())
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(ob), FilterWineNoise(string(eb)), ee.ExitCode()
		}
		t.Fatalf("wine %s: %v", exe, err)
	}
	return string(ob), FilterWineNoise(string(eb)), 0
}

// HostPath maps a Windows path on C: (C:\Program Files (x86)\...) to the
// file in the prefix.
func (w *Wine) HostPath(winPath string) string {
	p := strings.ReplaceAll(winPath, `\`, "/")
	if len(p) >= 2 && p[1] == ':' && (p[0] == 'C' || p[0] == 'c') {
		p = p[2:]
	}
	return filepath.Join(w.Prefix, "drive_c", filepath.FromSlash(strings.TrimPrefix(p, "/")))
}

// WinPath is a host path as a Windows program sees it (Wine maps / to Z:).
func (w *Wine) WinPath(hostPath string) string {
	abs, err := filepath.Abs(hostPath)
	if err != nil {
		abs = hostPath
	}
	return `Z:` + strings.ReplaceAll(abs, "/", `\`)
}

// FilterWineNoise drops Wine's own diagnostics (err:/fixme:/warn: lines
// about display drivers and unimplemented calls) from a program's stderr.
func FilterWineNoise(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		l := strings.TrimSpace(line)
		if l == "" {
			continue
		}
		if i := strings.IndexByte(l, ':'); i > 0 && i < 12 {
			switch {
			case strings.HasPrefix(l, "err:"), strings.HasPrefix(l, "fixme:"), strings.HasPrefix(l, "warn:"),
				strings.Contains(l[:i], "err") && strings.Contains(l, ":err:"):
				continue
			}
		}
		if strings.HasPrefix(l, "wine: ") && strings.Contains(l, "configuration") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// BuildWindows builds the Go main package pkg (an import path) for
// windows/amd64 to out.
func BuildWindows(t TB, out, pkg string, extraArgs ...string) {
	t.Helper()
	args := append([]string{"build", "-trimpath"}, extraArgs...)
	args = append(args, "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s for windows: %v\n%s", pkg, err, b)
	}
}
