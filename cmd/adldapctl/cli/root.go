// Package cli is adldapctl's command line: cobra commands, flags, output
// streams and the mapping of errors to exit codes. It holds no OS details;
// those come from platform.Detect.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/installer"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// Build information, stamped by the Makefile with -ldflags -X.
var (
	Version = "dev"
	Commit  = "none"
	Date    = "unknown"
)

type app struct {
	io         *IOStreams
	root       string
	json       bool
	yes        bool
	verbose    bool
	noColor    bool
	feed       string
	trustedKey string

	started bool // a command's RunE was reached (errors before are usage)
	plat    *platform.Platform
	lock    *platform.FileLock
}

// NewRootCommand returns adldapctl's command tree writing to streams, with
// no side effects until it is executed: release tooling walks it to generate
// shell completion and the man page.
func NewRootCommand(streams *IOStreams) *cobra.Command { return (&app{io: streams}).rootCmd() }

// Main runs adldapctl with args and returns the exit code.
func Main(args []string) int { return Run(args, System()) }

// Run is Main with injected streams (tests run the CLI in-process).
func Run(args []string, streams *IOStreams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{io: streams}
	cmd := a.rootCmd()
	cmd.SetArgs(args)
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	err := cmd.ExecuteContext(ctx)
	if a.lock != nil {
		if err := a.lock.Unlock(); err != nil {
			fmt.Fprintf(streams.ErrOut, "adldapctl: warning: release the lock: %v\n", err)
		}
	}
	if err != nil && !a.started {
		var ee exitError
		if !errors.As(err, &ee) {
			err = usageError{err}
		}
	}
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("interrupted: %w", context.Canceled)
	}
	code := exitCode(err)
	if err == nil || err.Error() == "" {
		return code
	}
	if a.json || jsonRequested(args) {
		// One JSON object on stdout, the contract for scripts; the message
		// goes to stderr too for the human watching.
		if werr := a.writeJSON(jsonError{Error: jsonErrorBody{Code: code, Kind: errorKind(code), Message: err.Error()}}); werr != nil {
			fmt.Fprintf(streams.ErrOut, "adldapctl: %v\n", werr)
		}
	}
	fmt.Fprintf(streams.ErrOut, "%s %v\n", a.paint(colorRed, "adldapctl: error:"), err)
	if code == ExitUsage {
		fmt.Fprintln(streams.ErrOut, "Run 'adldapctl --help' for usage.")
	}
	return code
}

// jsonRequested reports whether --json was on a command line that failed
// to parse (so the app never saw it set).
func jsonRequested(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--json" || a == "--json=true" {
			return true
		}
	}
	return false
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "adldapctl",
		Short:         "Install, update, configure and check the Auth0 AD/LDAP Connector",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetVersionTemplate("adldapctl {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if f := cmd.Flags().Lookup("root"); f != nil && f.Changed && strings.TrimSpace(a.root) == "" {
			return usageError{errors.New("--root is empty: give a folder to prefix system paths with, or leave --root out to work on this host's real paths")}
		}
		return nil
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.root, "root", "", "prefix every system path with `DIR` (staging, packaging, tests); no host service or trust store is touched")
	pf.BoolVar(&a.json, "json", false, "print the answer as JSON (a stable contract)")
	pf.BoolVarP(&a.yes, "yes", "y", false, "answer yes to every prompt")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "print more detail on stderr")
	pf.BoolVar(&a.noColor, "no-color", os.Getenv("NO_COLOR") != "", "no colour in output")
	pf.StringVar(&a.trustedKey, "trusted-key", "", "minisign public `KEY` (base64 or .pub file) of a signed mirror feed")
	pf.StringVar(&a.feed, "feed", "", "release feed: GitHub API URL ending in /repos/OWNER/REPO, or a signed mirror URL/folder (default "+updater.DefaultFeedURL+")")
	root.AddCommand(
		a.installCmd(),
		a.updateCmd(),
		a.rollbackCmd(),
		a.statusCmd(),
		a.serviceCmd(),
		a.proxyCmd(),
		a.uninstallCmd(),
		a.mirrorCmd(),
		a.certsCmd(),
		a.verifyCmd(),
		a.exportCmd(),
		a.selfUpdateCmd(),
		a.versionCmd(),
	)
	return root
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

// setup detects the platform. mutating commands also need elevation and the
// lock, and first recover an interrupted transaction.
func (a *app) setup(ctx context.Context, mutating bool) error {
	a.started = true
	p, err := platform.Detect(a.root)
	if err != nil {
		return err
	}
	a.plat = p
	if !mutating {
		return nil
	}
	if err := p.RequireElevation(); err != nil {
		return err
	}
	l, err := platform.Lock(p.Paths.LockFile)
	if err != nil {
		return err
	}
	a.lock = l
	msg, err := a.installer().Recover(ctx)
	if err != nil {
		return fmt.Errorf("recovering an interrupted transaction: %w", err)
	}
	if msg != "" {
		fmt.Fprintf(a.io.ErrOut, "adldapctl: recovered: %s\n", msg)
	}
	return nil
}

// setupReadOnly detects the platform and, when elevated and an interrupted
// transaction is left over, recovers it first like every other command.
func (a *app) setupReadOnly(ctx context.Context) error {
	if err := a.setup(ctx, false); err != nil {
		return err
	}
	if a.plat.RequireElevation() != nil {
		return nil
	}
	if !installer.Pending(a.plat) {
		return nil
	}
	l, err := platform.Lock(a.plat.Paths.LockFile)
	if err != nil {
		return nil // a transaction is running right now; just report
	}
	a.lock = l
	msg, err := a.installer().Recover(ctx)
	if err != nil {
		return fmt.Errorf("recovering an interrupted transaction: %w", err)
	}
	if msg != "" {
		fmt.Fprintf(a.io.ErrOut, "adldapctl: recovered: %s\n", msg)
	}
	return nil
}

func (a *app) installer() *installer.Installer {
	return installer.New(installer.Options{Platform: a.plat, Logf: a.logf})
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print adldapctl's version, commit and build date",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a.started = true
			if a.json {
				return a.writeJSON(map[string]string{"version": Version, "commit": Commit, "date": Date})
			}
			a.printf("adldapctl %s (commit %s, built %s)\n", Version, Commit, Date)
			return nil
		},
	}
}
