package platform_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
)

// windowsTests are the tests of wine_windows_test.go that must pass under
// Wine: a test that skipped or never ran fails this one.
var windowsTests = []string{
	"TestWindowsServiceLifecycle",
	"TestWindowsServiceStopIsBounded",
	"TestWindowsServiceWaitRunningFailsOnExit",
	"TestWindowsCertStore",
	"TestWindowsServiceEnv",
	"TestWindowsFindConnector",
	"TestWindowsKnownFoldersAndDetect",
	"TestWindowsElevationRefused",
}

// TestWindowsUnderWine builds this package's tests for Windows and runs
// the Windows ones in a fresh Wine prefix: the real SCM, registry and
// certificate stores.
func TestWindowsUnderWine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no Wine")
	}
	// The Windows sources are built by a child go command, which the test
	// cache does not see: reading them here makes them inputs of this
	// test, so a change to them reruns it.
	srcs, _ := filepath.Glob("*.go")
	for _, f := range srcs {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	w := testbed.StartWine(t)
	exe := filepath.Join(t.TempDir(), "platform.test.exe")
	build := exec.Command("go", "test", "-c", "-o", exe, ".")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the Windows test binary: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	outFile, errFile := filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr")
	o, _ := os.Create(outFile)
	e, _ := os.Create(errFile)
	cmd := w.Command(ctx, exe, "-test.run", "^TestWindows", "-test.v", "-test.timeout", "150s")
	cmd.Env = append(cmd.Env, "ADLDAPCTL_WINE_TEST=1")
	cmd.Stdout, cmd.Stderr = o, e // files: services the test starts inherit handles
	t0 := time.Now()
	runErr := cmd.Run()
	o.Close()
	e.Close()
	stdout, _ := os.ReadFile(outFile)
	stderr, _ := os.ReadFile(errFile)
	t.Logf("Windows tests under Wine: %v\n%s", time.Since(t0).Round(time.Millisecond), stdout)
	if runErr != nil {
		t.Errorf("Windows test binary: %v\n%s", runErr, testbed.FilterWineNoise(string(stderr)))
	}
	for _, name := range windowsTests {
		if !regexp.MustCompile(`(?m)^--- PASS: ` + name + ` `).Match(stdout) {
			t.Errorf("%s did not pass under Wine (failed, skipped or not run)", name)
		}
	}
	if strings.Contains(string(stdout), "--- SKIP") {
		t.Errorf("a Windows test skipped under Wine")
	}
}
