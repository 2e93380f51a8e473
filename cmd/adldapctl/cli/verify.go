package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/installer"
	"github.com/adldapctl/adldapctl/postinstall"
	"github.com/adldapctl/adldapctl/updater"
)

type verifyOptions struct {
	only, skip []string
	timeout    time.Duration
	resolver   string
	ntpServer  string
}

func (a *app) verifyCmd() *cobra.Command {
	opts := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the connector: install, config, service, proxy, tenant, LDAP",
		Long: `Verify runs the connector's self-check: every check at once, each under its
own timeout, then prints one line per check and, for each that did not pass,
what was seen and the fix. Exit 0 when no check failed, 1 otherwise.
--json prints the report (a stable contract).

Checks: ` + strings.Join(postinstall.IDs(postinstall.Catalogue()), ", ") + ".",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return a.verifyRun(cmd, opts) },
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.only, "only", nil, "run only these check `IDS` (comma-separated; their dependencies run too)")
	fl.StringSliceVar(&opts.skip, "skip", nil, "do not run these check `IDS` (comma-separated)")
	fl.DurationVar(&opts.timeout, "timeout", 10*time.Second, "time limit of each check")
	fl.StringVar(&opts.resolver, "resolver", "", "DNS server `HOST:PORT` for the LDAP SRV lookups (default: the system's)")
	fl.StringVar(&opts.ntpServer, "ntp-server", "", "SNTP server `HOST[:PORT]` for clock.skew (default: none)")
	return cmd
}

func (a *app) verifyRun(cmd *cobra.Command, opts *verifyOptions) error {
	if opts.timeout <= 0 {
		return usageError{errors.New("--timeout must be positive, e.g. 10s")}
	}
	if err := checkIDs(append(append([]string{}, opts.only...), opts.skip...)); err != nil {
		return err
	}
	if err := a.setupReadOnly(cmd.Context()); err != nil {
		return err
	}
	rep, err := a.verify(cmd.Context(), opts)
	if err != nil {
		return err
	}
	if a.json {
		if err := a.writeJSON(rep); err != nil {
			return err
		}
	} else {
		postinstall.WriteText(a.io.Out, rep, a.colorOn(a.io.OutTTY))
	}
	if rep.Failed() {
		return exitError{code: ExitFailed}
	}
	return nil
}

// checkIDs refuses an id that is not in the catalogue (exit 2).
func checkIDs(ids []string) error {
	known := map[string]bool{}
	for _, c := range postinstall.Catalogue() {
		known[c.ID()] = true
	}
	for _, id := range ids {
		if !known[id] {
			return usageError{fmt.Errorf("%w %q; the checks are: %s", postinstall.ErrUnknownCheck, id,
				strings.Join(postinstall.IDs(postinstall.Catalogue()), ", "))}
		}
	}
	return nil
}

// verifyEnv is what the checks read on this host.
func (a *app) verifyEnv(opts *verifyOptions) *postinstall.Env {
	env := &postinstall.Env{Platform: a.plat, Resolver: opts.resolver, NTPServer: opts.ntpServer}
	env.LoadConfig()
	if se, err := a.plat.ServiceEnv(); err == nil && a.serviceEnvInEffect() {
		env.ServiceEnv = se
	}
	timeout := opts.timeout
	env.LatestVersion = func() (string, error) {
		f := &fetchOptions{}
		a.useConnectorProxy(f)
		src, err := a.source(f)
		if err != nil {
			return "", err
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		rel, err := updater.Latest(ctx, src, updater.ChannelStable)
		if err != nil {
			return "", err
		}
		return rel.Version.String(), nil
	}
	return env
}

// verify runs the catalogue with opts.
func (a *app) verify(ctx context.Context, opts *verifyOptions) (*postinstall.Report, error) {
	rep, err := postinstall.Run(ctx, a.verifyEnv(opts), postinstall.Catalogue(),
		postinstall.Options{Only: opts.only, Skip: opts.skip, Timeout: opts.timeout})
	if errors.Is(err, postinstall.ErrUnknownCheck) {
		return nil, usageError{err}
	}
	return rep, err
}

// postVerifyTimeout bounds each check of the verify install and update run
// at their end.
const postVerifyTimeout = 5 * time.Second

// resultWithVerify is install's and update's --json answer: the result's
// own keys, plus the verify report.
type resultWithVerify struct {
	*installer.Result
	Verify *postinstall.Report `json:"verify,omitempty"`
}

// finish prints what a transaction did, then runs verify and prints its
// summary. A failing check does not fail the command: the install itself
// succeeded, and verify says what to fix.
func (a *app) finish(ctx context.Context, res *installer.Result) error {
	opts := &verifyOptions{timeout: postVerifyTimeout}
	if a.plat.Sandboxed() {
		// Under --root there is no host service or network to check.
		opts.only = localCheckIDs()
	}
	rep, err := a.verify(ctx, opts)
	if err != nil {
		a.logf("warning: verify could not run: %v", err)
		rep = nil
	}
	if a.json {
		return a.writeJSON(resultWithVerify{Result: res, Verify: rep})
	}
	if err := a.printResult(res); err != nil {
		return err
	}
	if rep == nil {
		return nil
	}
	var bad []string
	for _, r := range rep.Checks {
		if r.Status == postinstall.Fail || r.Status == postinstall.Warn {
			bad = append(bad, string(r.Status)+" "+r.ID)
		}
	}
	s := rep.Summary
	line := fmt.Sprintf("verify: %d passed, %d warnings, %d failed, %d skipped", s.Pass, s.Warn, s.Fail, s.Skip)
	switch {
	case s.Fail > 0:
		line = a.paintOut(colorRed, line)
	case s.Warn > 0:
		line = a.paintOut(colorYellow, line)
	default:
		line = a.paintOut(colorGreen, line)
	}
	a.printf("%s\n", line)
	if len(bad) > 0 {
		a.printf("  %s: run 'adldapctl verify' for the diagnosis and fix of each\n", strings.Join(bad, ", "))
	}
	return nil
}

// localCheckIDs are the checks that read only this host's files.
func localCheckIDs() []string {
	return []string{postinstall.IDInstallFiles, postinstall.IDConfigValid, postinstall.IDConfigPerms,
		postinstall.IDNodeRuntime, postinstall.IDDiskSpace, postinstall.IDCacheGroups, postinstall.IDKerberosConfig,
		postinstall.IDProxyConfig}
}

// gateProbe wraps the engine's default probe (the connector answers on
// its PORT) for the update's health gate: once it answers, the
// connector-independent checks must not fail either.
func (a *app) gateProbe(in **installer.Installer) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := (*in).PortProbe(ctx); err != nil {
			return err
		}
		env := a.verifyEnv(&verifyOptions{timeout: postVerifyTimeout})
		env.LatestVersion = nil
		rep, err := postinstall.Run(ctx, env, postinstall.Catalogue(),
			postinstall.Options{Only: postinstall.HealthGateIDs, Timeout: postVerifyTimeout})
		if err != nil {
			return err
		}
		var fails []string
		for _, r := range rep.Checks {
			if r.Status == postinstall.Fail {
				fails = append(fails, r.ID+": "+r.Diagnosis)
			}
		}
		if len(fails) > 0 {
			return fmt.Errorf("verify: %s", strings.Join(fails, "; "))
		}
		return nil
	}
}
