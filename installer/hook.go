package installer

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// TestHookEnv names the environment variable that test builds (built with
// -tags testhooks) read to stop a transaction at a phase boundary:
// "PHASE:pause" sleeps there until killed, "PHASE:exit" exits with status
// 99 as a crash would, "PHASE:fail" returns an error from the phase. A
// release build ignores it (see hook_release.go).
const TestHookEnv = "ADLDAPCTL_TEST_HOOK"

// envHook is the hook test builds install: it acts on TestHookEnv.
func envHook(phase string) error {
	v := os.Getenv(TestHookEnv)
	if v == "" {
		return nil
	}
	for _, item := range strings.Split(v, ",") {
		ph, action, _ := strings.Cut(item, ":")
		if ph != phase {
			continue
		}
		switch action {
		case "pause":
			fmt.Fprintf(os.Stderr, "test hook: paused at %s (pid %d)\n", phase, os.Getpid())
			for {
				time.Sleep(time.Hour)
			}
		case "exit":
			fmt.Fprintf(os.Stderr, "test hook: exiting at %s\n", phase)
			os.Exit(99)
		case "fail":
			return fmt.Errorf("test hook: failing phase %s", phase)
		}
	}
	return nil
}
