package cli

import (
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs the scenarios in testdata/script/*.txtar. The command
// `adl CODE ARGS...` runs adldapctl in-process and asserts its exit code;
// stdout and stderr are then checked with testscript's own commands.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"adl": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 1 {
					ts.Fatalf("usage: adl CODE ARGS...")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("adl: exit code %q: %v", args[0], err)
				}
				code := Run(args[1:], &IOStreams{In: strings.NewReader(""), Out: ts.Stdout(), ErrOut: ts.Stderr()})
				if code != want {
					ts.Fatalf("adldapctl %s: exit %d, want %d", strings.Join(args[1:], " "), code, want)
				}
			},
		},
	})
}
