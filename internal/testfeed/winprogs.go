package testfeed

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// WindowsPrograms are the host paths of the Windows test programs, built
// for windows/amd64 (static, CGO_ENABLED=0):
//
//	Node   winnode.exe, the node.exe stand-in (internal/testfeed/winnode)
//	NSSM   winnssm.exe, the nssm.exe stand-in (internal/testfeed/winnssm)
//	Probe  winprobe.exe, the state probe (internal/testbed/winprobe)
type WindowsPrograms struct {
	Dir               string
	Node, NSSM, Probe string
}

const modulePath = "github.com/adldapctl/adldapctl"

var windowsPkgs = []string{
	modulePath + "/internal/testfeed/winnode",
	modulePath + "/internal/testfeed/winnssm",
	modulePath + "/internal/testbed/winprobe",
}

var (
	progsOnce sync.Once
	progs     WindowsPrograms
	progsErr  error
)

// BuildWindowsPrograms builds the Windows test programs once per process
// (later calls return the same files) into a folder of the user's cache
// (<cache>/adldapctl-testfeed/winprogs; the files there are replaced
// atomically, so processes running in parallel do not disturb each other).
// It needs the go tool and the module's source (it runs from the source
// tree of this package, else from the working directory).
func BuildWindowsPrograms() (WindowsPrograms, error) {
	progsOnce.Do(func() { progs, progsErr = buildWindowsPrograms() })
	return progs, progsErr
}

func buildWindowsPrograms() (WindowsPrograms, error) {
	dir, err := programsDir()
	if err != nil {
		return WindowsPrograms{}, err
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return WindowsPrograms{}, fmt.Errorf("testfeed: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }() // best effort: a temp folder
	args := append([]string{"build", "-trimpath", "-o", tmp + string(filepath.Separator)}, windowsPkgs...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=")
	cmd.Dir = sourceDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return WindowsPrograms{}, fmt.Errorf("testfeed: build the Windows test programs: %v\n%s", err, out.Bytes())
	}
	p := WindowsPrograms{Dir: dir}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"winnode.exe", &p.Node}, {"winnssm.exe", &p.NSSM}, {"winprobe.exe", &p.Probe}} {
		*f.dst = filepath.Join(dir, f.name)
		if err := os.Rename(filepath.Join(tmp, f.name), *f.dst); err != nil {
			return WindowsPrograms{}, fmt.Errorf("testfeed: %w", err)
		}
	}
	return p, nil
}

// programsDir is <user cache>/adldapctl-testfeed/winprogs, made private
// and refused when it is a symbolic link.
func programsDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("testfeed: no cache folder for the Windows test programs: %w", err)
	}
	dir := filepath.Join(cache, "adldapctl-testfeed", "winprogs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("testfeed: %w", err)
	}
	for d := dir; d != cache; d = filepath.Dir(d) {
		st, err := os.Lstat(d)
		if err != nil {
			return "", fmt.Errorf("testfeed: %w", err)
		}
		if !st.IsDir() {
			return "", fmt.Errorf("testfeed: %s is not a plain folder (a symbolic link?): remove it", d)
		}
	}
	return dir, nil
}

// sourceDir is this package's source folder when it is there (tests, go
// run), else the working directory.
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if ok {
		if st, err := os.Stat(filepath.Join(filepath.Dir(file), "testfeed.go")); err == nil && st.Mode().IsRegular() {
			return filepath.Dir(file)
		}
	}
	return "."
}
