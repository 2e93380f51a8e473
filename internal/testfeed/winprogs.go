package testfeed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
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

// BuildWindowsPrograms builds the Windows test programs (stripped) once
// per process (later calls return the same files) into a folder of the
// user's cache, <cache>/adldapctl-testfeed/programs/<key>, where key hashes
// the go version, go.sum and the programs' sources (their only other
// dependencies are the standard library and golang.org/x/sys, pinned by
// go.sum): a folder already built for the same key is used as it is. The
// folder is renamed into place whole, so processes running in parallel do
// not disturb each other. It needs the go tool and the module's source (it
// runs from the source tree of this package, else from the working
// directory).
func BuildWindowsPrograms() (WindowsPrograms, error) {
	progsOnce.Do(func() { progs, progsErr = buildWindowsPrograms() })
	return progs, progsErr
}

func buildWindowsPrograms() (WindowsPrograms, error) {
	base, err := cacheDir("programs")
	if err != nil {
		return WindowsPrograms{}, err
	}
	src := sourceDir()
	key, err := programsKey(src)
	if err != nil {
		return WindowsPrograms{}, err
	}
	dir := filepath.Join(base, key)
	p := WindowsPrograms{
		Dir:   dir,
		Node:  filepath.Join(dir, "winnode.exe"),
		NSSM:  filepath.Join(dir, "winnssm.exe"),
		Probe: filepath.Join(dir, "winprobe.exe"),
	}
	if regular(p.Node) && regular(p.NSSM) && regular(p.Probe) {
		return p, nil
	}
	tmp, err := os.MkdirTemp(base, ".build-")
	if err != nil {
		return WindowsPrograms{}, fmt.Errorf("testfeed: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }() // best effort: a temp folder
	args := append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", tmp + string(filepath.Separator)}, windowsPkgs...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=")
	cmd.Dir = src
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return WindowsPrograms{}, fmt.Errorf("testfeed: build the Windows test programs: %v\n%s", err, out.Bytes())
	}
	pruneCache(base, 24*time.Hour, 6)
	if err := os.Rename(tmp, dir); err != nil && !regular(p.Node) {
		return WindowsPrograms{}, fmt.Errorf("testfeed: %w", err)
	}
	return p, nil
}

func regular(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.Mode().IsRegular()
}

// programsKey hashes what the programs are built from: the go version,
// go.sum, and the .go files of their packages.
func programsKey(src string) (string, error) {
	h := sha256.New()
	ver, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("testfeed: go env GOVERSION: %w", err)
	}
	h.Write(ver)
	root := filepath.Join(src, "..", "..") // internal/testfeed -> module root
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return "", fmt.Errorf("testfeed: run from the module's source tree: %w", err)
	}
	h.Write(sum)
	for _, pkg := range windowsPkgs {
		dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(pkg, modulePath+"/")))
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			return "", fmt.Errorf("testfeed: no source in %s", dir)
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", fmt.Errorf("testfeed: %w", err)
			}
			fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// cacheDir is <user cache>/adldapctl-testfeed/<name>, made private and
// refused when it or its parent is a symbolic link.
func cacheDir(name string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("testfeed: no cache folder for the Windows test fixtures: %w", err)
	}
	dir := filepath.Join(cache, "adldapctl-testfeed", name)
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
// run), else internal/testfeed under the working directory.
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if ok && regular(filepath.Join(filepath.Dir(file), "testfeed.go")) {
		return filepath.Dir(file)
	}
	return filepath.Join("internal", "testfeed")
}
