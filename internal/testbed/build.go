package testbed

import (
	"os"
	"os/exec"
)

// BuildOptions say how BuildTool builds adldapctl.
type BuildOptions struct {
	Version string // stamped as cli.Version; "" leaves the default
	GOOS    string // "" means the host's
	GOARCH  string
	// TestHooks builds with -tags testhooks: the binary then honours
	// ADLDAPCTL_TEST_HOOK (a release build ignores it).
	TestHooks bool
}

// BuildTool builds adldapctl (static) to out: the one build helper of the
// tests, the bench and the demo.
func BuildTool(t TB, out string, o BuildOptions) {
	t.Helper()
	args := []string{"build", "-trimpath"}
	if o.TestHooks {
		args = append(args, "-tags", "testhooks")
	}
	if o.Version != "" {
		args = append(args, "-ldflags", "-X github.com/adldapctl/adldapctl/cmd/adldapctl/cli.Version="+o.Version)
	}
	args = append(args, "-o", out, "github.com/adldapctl/adldapctl/cmd/adldapctl")
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o.GOOS != "" {
		cmd.Env = append(cmd.Env, "GOOS="+o.GOOS)
	}
	if o.GOARCH != "" {
		cmd.Env = append(cmd.Env, "GOARCH="+o.GOARCH)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build adldapctl: %v\n%s", err, b)
	}
}
