package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/installer"
	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

type fetchFlags struct {
	version       string
	from          string
	sha256        string
	requireDigest bool
	proxy         string
	caFiles       []string
	channel       string
}

func (f *fetchFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.version, "version", "", "install this connector `VERSION` (default: the latest stable release)")
	fl.StringVar(&f.from, "from", "", "install from a downloaded source tarball `FILE` (offline)")
	fl.StringVar(&f.sha256, "sha256", "", "the artifact must have this sha256 `HEX`")
	fl.BoolVar(&f.requireDigest, "require-digest", false, "refuse an artifact the feed publishes no digest for (GitHub source tarballs) unless --sha256 is given")
	fl.StringVar(&f.proxy, "proxy", "", "HTTP proxy `URL` for downloads and npm (http://user:pass@host:port)")
	fl.StringSliceVar(&f.caFiles, "ca-file", nil, "extra trusted CA certificate `FILE` for downloads and npm (repeatable)")
}

// fetched is a verified artifact with what it is.
type fetched struct {
	art     installer.Artifact
	release *updater.Release
}

var tarballVersionRe = regexp.MustCompile(`v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\.(?:tar\.gz|tgz)$`)

// fetch resolves and downloads the artifact to install, verified.
func (a *app) fetch(ctx context.Context, f *fetchFlags, txn *installer.Txn) (*fetched, error) {
	dl, err := a.downloader(f)
	if err != nil {
		return nil, err
	}
	vo := updater.VerifyOptions{SHA256: f.sha256, RequireDigest: f.requireDigest}
	enter := func(phase string) error {
		if txn == nil {
			return nil
		}
		return txn.Enter(phase)
	}
	cache := a.plat.Paths.CacheDir
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	if f.from != "" {
		v, abs, err := fromFile(f)
		if err != nil {
			return nil, err
		}
		name := "ad-ldap-connector-v" + v.String() + ".tar.gz"
		if err := enter(installer.PhaseDownload); err != nil {
			return nil, err
		}
		res, err := dl.Fetch(ctx, updater.Artifact{Name: name, URL: abs}, cache, vo)
		if err != nil {
			return nil, err
		}
		if err := enter(installer.PhaseVerify); err != nil {
			return nil, err
		}
		return &fetched{art: installer.Artifact{Path: res.Path, Version: v.String(), Tag: "v" + v.String(),
			Source: abs, SHA256: res.SHA256, Verified: string(res.Verified)}}, nil
	}
	src, feedURL, err := a.sourceFor(f)
	if err != nil {
		return nil, err
	}
	var rel *updater.Release
	if f.version != "" {
		a.logf("looking up %s in %s", f.version, redact.URL(feedURL))
		rel, err = src.Release(ctx, f.version)
	} else {
		ch, cerr := updater.ParseChannel(orDefault(f.channel, "stable"))
		if cerr != nil {
			return nil, usageError{cerr}
		}
		a.logf("looking up the latest %s release in %s", ch, redact.URL(feedURL))
		rel, err = updater.Latest(ctx, src, ch)
	}
	if err != nil {
		return nil, withProxyHint(err, f.proxy)
	}
	art, err := a.artifactOf(rel, src)
	if err != nil {
		return nil, err
	}
	if err := enter(installer.PhaseDownload); err != nil {
		return nil, err
	}
	res, err := dl.Fetch(ctx, art, cache, vo)
	if err != nil {
		return nil, withProxyHint(err, f.proxy)
	}
	if err := enter(installer.PhaseVerify); err != nil {
		return nil, err
	}
	if res.Verified == "none" {
		a.logf("%s has no published digest (GitHub source tarballs have none): the feed's HTTPS is the trust basis; its sha256 %s is recorded. Pass --sha256 or --require-digest to insist on one", art.Name, res.SHA256)
	}
	return &fetched{release: rel, art: installer.Artifact{Path: res.Path, Version: rel.Version.String(), Tag: rel.Tag,
		Source: art.URL, SHA256: res.SHA256, Verified: string(res.Verified)}}, nil
}

func withProxyHint(err error, proxy string) error {
	if proxy == "" {
		if p := os.Getenv("HTTPS_PROXY"); p != "" {
			proxy = p
		}
	}
	if proxy != "" && !strings.Contains(err.Error(), "proxy") {
		return fmt.Errorf("%w (proxy in use: %s)", err, redact.URL(proxy))
	}
	return err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (a *app) httpClient(f *fetchFlags) (*http.Client, error) {
	c, err := updater.NewHTTPClient(updater.ClientOptions{ProxyURL: f.proxy, CAFiles: f.caFiles})
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

func (a *app) downloader(f *fetchFlags) (*updater.Downloader, error) {
	client, err := a.httpClient(f)
	if err != nil {
		return nil, err
	}
	dl := &updater.Downloader{Client: client, Progress: a.io.ErrOut, TTY: a.io.ErrTTY && !a.json, Logf: a.logf}
	if a.json && !a.verbose {
		dl.Progress = nil
	}
	return dl, nil
}

// sourceFor returns the feed to read releases from: --feed or the default
// GitHub feed.
func (a *app) sourceFor(f *fetchFlags) (updater.Source, string, error) {
	client, err := a.httpClient(f)
	if err != nil {
		return nil, "", err
	}
	feed := a.feedURL()
	if !updater.IsGitHubFeedURL(feed) {
		return a.mirrorSource(feed, client)
	}
	if err := updater.CheckFeedURL(feed); err != nil {
		return nil, feed, usageError{err}
	}
	return &updater.GitHubFeed{BaseURL: feed, Client: client, UserAgent: "adldapctl/" + Version}, feed, nil
}

func (a *app) installCmd() *cobra.Command {
	var ff fetchFlags
	var ticket string
	var noStart bool
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the connector, or repair an existing install",
		Long: `Install downloads the connector release (the latest stable one unless
--version or --from says otherwise), verifies it, installs its dependencies,
keeps every customer file (config.json, certs/, lib/profileMapper.js, the
SSL_CA_PATH folder) byte for byte, registers the service and starts it.
Running it again repairs the install.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.setup(ctx, true); err != nil {
				return err
			}
			if ticket != "" && !strings.HasPrefix(ticket, "https://") {
				return usageError{fmt.Errorf("--ticket must be the https:// provisioning ticket URL from the Auth0 dashboard")}
			}
			if err := a.requireInstallSupport(); err != nil {
				return err
			}
			in := a.healthInstaller(&ff, grace)
			// install on an installed server repairs the installed version;
			// moving to a newer one is update's job.
			if cur, err := in.Installed(); err == nil && cur != nil && ff.version == "" && ff.from == "" {
				ff.version = cur.Version
				a.logf("repairing the installed version %s (use adldapctl update for a newer one)", cur.Version)
			}
			txn, err := in.Begin(installer.OpInstall)
			if err != nil {
				return err
			}
			f, err := a.fetch(ctx, &ff, txn)
			if err == nil {
				err = a.checkStagingSpace(f.art.Path)
			}
			if err != nil {
				txn.Abort()
				return err
			}
			res, err := in.Apply(ctx, installer.Request{Op: installer.OpInstall, Txn: txn, Artifact: f.art, Ticket: ticket, NoStart: noStart})
			if err != nil {
				return err
			}
			return a.printInstallResult(res)
		},
	}
	ff.register(cmd)
	cmd.Flags().StringVar(&ticket, "ticket", "", "provisioning ticket `URL` from the Auth0 dashboard (written to config.json, never printed)")
	cmd.Flags().BoolVar(&noStart, "no-start", false, "register the service but do not start it")
	cmd.Flags().DurationVar(&grace, "health-grace", 5*time.Second, "how long the service must stay up after starting")
	return cmd
}

func (a *app) printInstallResult(res *installer.Result) error {
	if a.json {
		return a.writeJSON(res)
	}
	verb := "installed"
	switch {
	case res.Op == "update":
		verb = "updated to"
	case res.Repair:
		verb = "repaired"
	}
	a.printf("Auth0 AD/LDAP Connector %s %s\n", verb, res.Version)
	if res.PreviousVersion != "" && res.PreviousVersion != res.Version {
		a.printf("  previous version: %s (kept for rollback)\n", res.PreviousVersion)
	}
	a.printf("  install dir:      %s\n", res.InstallDir)
	a.printf("  sha256:           %s (%s)\n", res.SHA256, verifiedText(res.Verified))
	if res.ConfigWritten {
		a.printf("  config.json:      provisioning ticket written (mode 0600)\n")
	} else {
		a.printf("  config.json:      unchanged\n")
	}
	switch {
	case res.Started:
		a.printf("  service:          %s (%s/%s, pid %d)\n", "auth0-adldap", res.Service.Active, res.Service.Sub, res.Service.PID)
	default:
		a.printf("  service:          registered, not started\n")
	}
	for _, n := range res.Notes {
		a.printf("  note: %s\n", n)
	}
	return nil
}

func verifiedText(v string) string {
	switch v {
	case "digest":
		return "matches the feed's digest"
	case "user-sha256":
		return "matches --sha256"
	case "signature":
		return "signed mirror"
	default:
		return "no published digest; recorded"
	}
}

// checkStagingSpace makes sure the install dir's file system has room for
// the staged tree beside the live one: the extracted artifact (up to five
// times its compressed size) plus its node_modules.
func (a *app) checkStagingSpace(artifact string) error {
	fi, err := os.Stat(artifact)
	if err != nil {
		return err
	}
	parent := filepath.Dir(a.plat.Paths.InstallDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	need := 5*fi.Size() + 200<<20
	if err := updater.CheckFreeSpace(parent, need); err != nil && errors.Is(err, updater.ErrNoSpace) {
		return fmt.Errorf("before staging the new version: %w", err)
	}
	return nil
}

// requireInstallSupport fails plainly where this build cannot install yet
// (Windows: the MSI path lands later), before anything is downloaded.
func (a *app) requireInstallSupport() error {
	if a.plat.OS == "windows" {
		return fmt.Errorf("installing, updating and removing the connector on Windows: %w; use the connector's MSI for now", platform.ErrNotSupported)
	}
	return nil
}

// fromFile returns the version and absolute path of an offline artifact
// (--from), the version from --version or the file's name.
func fromFile(f *fetchFlags) (*version.Version, string, error) {
	ver := f.version
	if ver == "" {
		m := tarballVersionRe.FindStringSubmatch(filepath.Base(f.from))
		if m == nil {
			return nil, "", usageError{fmt.Errorf("cannot tell the version of %s from its name: pass --version X.Y.Z", f.from)}
		}
		ver = m[1]
	}
	v, err := updater.ParseVersion(ver)
	if err != nil {
		return nil, "", usageError{err}
	}
	abs, err := filepath.Abs(f.from)
	if err != nil {
		return nil, "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, "", usageError{fmt.Errorf("--from: %w", err)}
	}
	return v, abs, nil
}
