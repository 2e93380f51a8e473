// Package testbed starts real test beds for adldapctl's acceptance tests:
// on Linux, a Debian bookworm container booted with systemd-nspawn (real
// systemd as PID 1, or sysvinit with Options.SysV; the host's node and npm
// bind-mounted in, the host's network shared so loopback test servers are
// reachable from inside).
//
// It is used by tests and by the demo program (internal/cmd/demo). It owns
// the beds' lifecycle (cached rootfs, boot, exec, cleanup by pid) and knows
// nothing of adldapctl itself.
//
// A test whose bed is missing fails when CI=true and is skipped otherwise
// (see Missing). A caller that is not a test (its TB is not a testing.TB)
// gets Fatalf instead of a skip.
package testbed

import (
	"fmt"
	"os"
	"testing"
)

// TB is the part of testing.TB the beds use, so that programs other than
// tests (the demo) can run them. testing.TB satisfies it.
//
// Optional extras, used when the value has them: Failed() bool (the bed's
// cleanup then logs the container's journal and console) and
// Errorf(format, args...) (cleanup problems; Logf otherwise).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

var _ TB = testing.TB(nil)

// Missing reports that the bed the test needs is not available: it fails
// the test when the environment variable CI is "true" (a skipped bed is an
// untested platform) and skips it otherwise.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("test bed missing: %s (CI=true, so this fails instead of skipping)", what)
	}
	t.Skipf("test bed missing: %s (skipped; with CI=true this fails)", what)
}

// missing is Missing for a TB: a test skips (or fails under CI=true); any
// other caller fails, since it cannot skip.
func missing(t TB, what string) {
	t.Helper()
	if tt, ok := t.(testing.TB); ok {
		Missing(tt, what)
		return
	}
	t.Fatalf("test bed missing: %s", what)
}

// failed reports whether t has failed, when it can tell.
func failed(t TB) bool {
	f, ok := t.(interface{ Failed() bool })
	return ok && f.Failed()
}

// errorf reports a non-fatal problem: t.Errorf when t has it, t.Logf
// otherwise.
func errorf(t TB, format string, args ...any) {
	t.Helper()
	if e, ok := t.(interface{ Errorf(string, ...any) }); ok {
		e.Errorf(format, args...)
		return
	}
	t.Logf("%s", fmt.Sprintf(format, args...))
}
