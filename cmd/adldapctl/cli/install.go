package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/installer"
	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/updater"
)

// fetchOptions are the flags that say where a release comes from and how
// it is fetched and verified.
type fetchOptions struct {
	version       string
	from          string
	sha256        string
	requireDigest bool
	proxy         string
	caFiles       []string
	channel       string
	maxDownload   int64
	maxUnpacked   int64
	sha256Set     bool
	node          string
}

func (f *fetchOptions) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.version, "version", "", "install this connector `VERSION` (default: the latest stable release)")
	fl.StringVar(&f.from, "from", "", "install from a downloaded release `FILE` (offline): the source tarball on Linux, adldap-vX.Y.Z.msi on Windows")
	fl.StringVar(&f.sha256, "sha256", "", "the artifact must have this sha256 `HEX`")
	fl.BoolVar(&f.requireDigest, "require-digest", false, "refuse an artifact the feed publishes no digest for (GitHub source tarballs) unless --sha256 is given")
	fl.StringVar(&f.proxy, "proxy", "", "HTTP proxy `URL` for downloads and npm (http://user:pass@host:port)")
	fl.StringSliceVar(&f.caFiles, "ca-file", nil, "extra trusted CA certificate `FILE` for downloads and npm (repeatable)")
	fl.Int64Var(&f.maxUnpacked, "max-unpacked-size", 0, "refuse a release archive that unpacks to more than `BYTES` (default 4 GiB, or max_unpacked_bytes in the tool config)")
	fl.StringVar(&f.node, "node", "", "use the node executable at `PATH` for npm and in the service (default: node on PATH, which sudo trims)")
	fl.Int64Var(&f.maxDownload, "max-download", 0, "refuse a download larger than `BYTES` when the feed announces no size (default 2 GiB, or max_download_bytes in the tool config)")
}

// validate checks the flags before any network request or write: a bad
// value is a usage error (exit 2).
func (f *fetchOptions) validate(cmd *cobra.Command) error {
	f.sha256Set = cmd.Flags().Changed("sha256")
	if f.sha256Set {
		if err := updater.ValidateSHA256Flag(f.sha256); err != nil {
			return usageError{err}
		}
	}
	if f.maxDownload < 0 || f.maxUnpacked < 0 {
		return usageError{errors.New("--max-download and --max-unpacked-size must be positive numbers of bytes")}
	}
	if f.version != "" {
		if _, err := updater.ParseVersion(f.version); err != nil {
			return usageError{fmt.Errorf("--version: %w", err)}
		}
	}
	if f.channel != "" {
		if _, err := updater.ParseChannel(f.channel); err != nil {
			return usageError{err}
		}
	}
	if _, err := updater.NewHTTPClient(updater.ClientOptions{ProxyURL: f.proxy, CAFiles: f.caFiles}); err != nil {
		return usageError{err}
	}
	if f.node != "" {
		node, err := checkExecutable(f.node)
		if err != nil {
			return usageError{fmt.Errorf("--node: %w", err)}
		}
		f.node = node
	}
	return nil
}

// checkExecutable returns path made absolute when it is an executable
// regular file.
func checkExecutable(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s: %w", abs, err)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("%s is not a file", abs)
	case fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("%s is not executable", abs)
	}
	return abs, nil
}

// source returns where the release comes from: the --from file, --feed,
// the tool config's feed or the default GitHub feed.
func (a *app) source(f *fetchOptions) (updater.Source, error) {
	if f.from != "" {
		src, err := updater.NewFileSource(f.from, f.version)
		if err != nil {
			return nil, usageError{fmt.Errorf("--from: %w", err)}
		}
		f.version = src.Version.String()
		return src, nil
	}
	client, err := updater.NewHTTPClient(updater.ClientOptions{ProxyURL: f.proxy, CAFiles: f.caFiles})
	if err != nil {
		return nil, usageError{err}
	}
	feed := a.feedURL()
	if err := updater.CheckFeedURL(feed); err != nil {
		return nil, usageError{err}
	}
	if !updater.IsGitHubFeedURL(feed) {
		return a.mirrorFeed(feed, client)
	}
	return &updater.GitHubFeed{BaseURL: feed, Client: client, UserAgent: "adldapctl/" + Version}, nil
}

// engine returns the transaction engine for this command's options.
func (a *app) engine(f *fetchOptions, grace time.Duration, gate bool) (*installer.Installer, error) {
	client, err := updater.NewHTTPClient(updater.ClientOptions{ProxyURL: f.proxy, CAFiles: f.caFiles})
	if err != nil {
		return nil, usageError{err}
	}
	dl := &updater.Downloader{Client: client, Progress: a.io.ErrOut, TTY: a.io.ErrTTY && !a.json, Logf: a.logf,
		MaxBytes: f.maxDownload}
	if dl.MaxBytes == 0 {
		dl.MaxBytes = a.toolConfig().MaxDownloadBytes
	}
	if a.json && !a.verbose {
		dl.Progress = nil
	}
	tc := a.toolConfig()
	lim := installer.ArchiveLimits{MaxBytes: f.maxUnpacked, MaxEntries: tc.MaxArchiveEntries}
	if lim.MaxBytes == 0 {
		lim.MaxBytes = tc.MaxUnpackedBytes
	}
	o := installer.Options{Platform: a.plat, Logf: a.logf, Fetcher: dl,
		Proxy: f.proxy, CAFiles: f.caFiles, Stable: grace, ArchiveLimits: lim}
	if gate && !a.plat.Sandboxed() {
		// The update's health gate: the connector answers, and the
		// connector-independent verify checks pass.
		var in *installer.Installer
		o.Probe = a.gateProbe(&in)
		in = installer.New(o)
		return in, nil
	}
	return installer.New(o), nil
}

// runPlan runs plan on the engine and adds what the user should know about
// a proxy to a failure.
func (a *app) runPlan(cmd *cobra.Command, f *fetchOptions, grace time.Duration, plan installer.Plan) (*installer.Result, error) {
	if f.node != "" {
		// The engine, npm (whose script starts with "#!/usr/bin/env node")
		// and the unit all use this node.
		a.plat.NodePath = f.node
		path := os.Getenv("PATH")
		if err := os.Setenv("PATH", filepath.Dir(f.node)+string(os.PathListSeparator)+path); err != nil {
			return nil, err
		}
		defer func() { _ = os.Setenv("PATH", path) }() // restoring a value read a moment ago cannot fail
	}
	in, err := a.engine(f, grace, plan.Op == installer.OpUpdate || plan.Op == installer.OpDowngrade)
	if err != nil {
		return nil, err
	}
	plan.Verify = updater.VerifyOptions{SHA256: f.sha256, RequireDigest: f.requireDigest}
	res, err := in.Run(cmd.Context(), plan)
	if err != nil {
		return res, withSudoHint(withProxyHint(err, f.proxy), f.proxy)
	}
	return res, nil
}

// withSudoHint explains a failure that sudo typically causes: it drops
// HTTPS_PROXY (a download that cannot resolve or connect with no proxy set)
// and trims PATH (node not found).
func withSudoHint(err error, proxy string) error {
	if os.Getenv("SUDO_USER") == "" {
		return err
	}
	if errors.Is(err, installer.ErrNoNode) {
		return fmt.Errorf("%w (run through sudo, which resets PATH: pass --node with the output of 'command -v node' from your own shell)", err)
	}
	if proxy != "" || os.Getenv("HTTPS_PROXY") != "" || os.Getenv("https_proxy") != "" || os.Getenv("HTTP_PROXY") != "" {
		return err
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || (errors.As(err, &opErr) && opErr.Op == "dial") {
		return fmt.Errorf("%w (run through sudo, which drops HTTPS_PROXY from your environment: if this network needs a proxy, use 'sudo -E adldapctl ...' or pass --proxy URL)", err)
	}
	return err
}

// withProxyHint names the proxy in use on a failure that did not come from
// the proxy itself (whose errors already name it).
func withProxyHint(err error, proxy string) error {
	if proxy == "" {
		proxy = os.Getenv("HTTPS_PROXY")
	}
	if proxy == "" || updater.IsProxyRefusal(err) || errors.Is(err, installer.ErrDependencies) {
		return err
	}
	var nerr interface{ Timeout() bool }
	if !errors.As(err, &nerr) && !errors.Is(err, updater.ErrReleaseNotFound) {
		return err
	}
	return fmt.Errorf("%w (proxy in use: %s)", err, redact.URL(proxy))
}

type installOptions struct {
	fetch   fetchOptions
	ticket  string
	noStart bool
	grace   time.Duration
}

func (a *app) installCmd() *cobra.Command {
	opts := &installOptions{}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the connector, or repair an existing install",
		Long: `Install downloads the connector release (the latest stable one unless
--version or --from says otherwise), verifies it, installs its dependencies,
keeps every customer file (config.json, certs/, lib/profileMapper.js, the
SSL_CA_PATH folder) byte for byte, registers the service and starts it.
Running it again repairs the install.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return a.installRun(cmd, opts) },
	}
	opts.fetch.register(cmd)
	cmd.Flags().StringVar(&opts.ticket, "ticket", "", "provisioning ticket `URL` from the Auth0 dashboard (written to config.json, never printed)")
	cmd.Flags().BoolVar(&opts.noStart, "no-start", false, "register the service but do not start it")
	cmd.Flags().DurationVar(&opts.grace, "health-grace", 5*time.Second, "how long the service must stay up after starting")
	return cmd
}

func (a *app) installRun(cmd *cobra.Command, opts *installOptions) error {
	if err := opts.fetch.validate(cmd); err != nil {
		return err
	}
	if err := validateTicket(cmd, opts.ticket); err != nil {
		return err
	}
	anchors, err := readCAFiles(opts.fetch.caFiles)
	if err != nil {
		return err
	}
	flagProxy := opts.fetch.proxy
	connectorProxy, err := connectorProxyFlag(flagProxy)
	if err != nil {
		return err
	}
	if err := a.setup(cmd.Context(), true); err != nil {
		return err
	}
	a.useConnectorProxy(&opts.fetch)
	src, err := a.source(&opts.fetch)
	if err != nil {
		return err
	}
	res, err := a.runPlan(cmd, &opts.fetch, opts.grace, installer.Plan{Op: installer.OpInstall, Source: src,
		Version: opts.fetch.version, Ticket: opts.ticket, NoStart: opts.noStart})
	if err != nil {
		return err
	}
	notes, err := a.importCAFiles(cmd.Context(), anchors, !opts.noStart)
	if err != nil {
		return err
	}
	res.Notes = append(res.Notes, notes...)
	if connectorProxy != "" {
		pres, err := a.applyProxy(cmd.Context(), connectorProxy, !opts.noStart)
		if err != nil {
			return fmt.Errorf("installed %s, but setting its proxy failed: %w", res.Version, err)
		}
		res.Notes = append(res.Notes, "proxy "+pres.Proxy+" set for the connector (config.json and the service environment)")
		res.Notes = append(res.Notes, pres.Notes...)
	} else if flagProxy != "" {
		res.Notes = append(res.Notes, "--proxy "+redact.URL(flagProxy)+" was used for downloads only: the connector supports http:// and https:// proxies")
	}
	return a.finish(cmd.Context(), res)
}

// connectorProxyFlag returns install's --proxy in the form the connector
// gets it, or "" when it is not an http(s) proxy (a socks5 proxy serves
// the downloads only). An http(s) URL the connector cannot use is a usage
// error before anything is done.
func connectorProxyFlag(proxy string) (string, error) {
	if proxy == "" {
		return "", nil
	}
	if l := strings.ToLower(proxy); !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") {
		return "", nil
	}
	u, err := connector.ParseProxy(proxy)
	if err != nil {
		return "", usageError{fmt.Errorf("--proxy: %w", err)}
	}
	return u.String(), nil
}

// validateTicket checks --ticket when given: https://HOST/p/ad/TICKET.
func validateTicket(cmd *cobra.Command, t string) error {
	if !cmd.Flags().Changed("ticket") {
		return nil
	}
	if err := updater.ValidateTicketURL(t); err != nil {
		return usageError{fmt.Errorf("--ticket: %w", err)}
	}
	return nil
}

// printResult renders what a transaction did.
func (a *app) printResult(res *installer.Result) error {
	if a.json {
		return a.writeJSON(res)
	}
	verb := "installed"
	switch {
	case res.Op == "rollback":
		verb = "rolled back to"
	case res.Repair:
		verb = "repaired"
	case res.Downgrade:
		verb = "downgraded to"
	case res.Op == "update":
		verb = "updated to"
	}
	a.printf("Auth0 AD/LDAP Connector %s %s\n", verb, res.Version)
	if res.PreviousVersion != "" && res.PreviousVersion != res.Version {
		a.printf("  previous version: %s (kept for rollback)\n", res.PreviousVersion)
	}
	a.printf("  install dir:      %s\n", res.InstallDir)
	a.printf("  sha256:           %s (%s)\n", res.SHA256, verifiedText(res.Verified))
	if a.plat.OS == "windows" {
		a.printf("  customer files:   backed up under %s\\backups and restored byte for byte\n", a.plat.Paths.StateDir)
	}
	if res.ConfigWritten {
		a.printf("  config.json:      provisioning ticket written (mode 0600)\n")
	} else {
		a.printf("  config.json:      unchanged\n")
	}
	switch {
	case res.Started:
		a.printf("  service:          %s (%s/%s, pid %d)\n", a.plat.Service, res.Service.Active, res.Service.Sub, res.Service.PID)
	default:
		a.printf("  service:          registered, not started\n")
	}
	for _, n := range res.Notes {
		a.printf("  note: %s\n", n)
	}
	return nil
}

func verifiedText(v string) string {
	switch updater.Trust(v) {
	case updater.TrustDigest:
		return "matches the feed's digest"
	case updater.TrustUserSHA256:
		return "matches --sha256"
	case updater.TrustSignature:
		return "signed mirror"
	default:
		return "no published digest; recorded"
	}
}
