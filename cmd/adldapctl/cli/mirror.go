package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// toolConfig is adldapctl's own settings file (/etc/adldapctl/config.json):
// a default feed and the signed mirror's public key, so fleet timers need
// no flags.
type toolConfig struct {
	Feed       string `json:"feed"`
	TrustedKey string `json:"trusted_key"`
	// MaxDownloadBytes caps a download whose size the feed does not
	// announce (0: 2 GiB).
	MaxDownloadBytes int64 `json:"max_download_bytes,omitempty"`
	// MaxUnpackedBytes and MaxArchiveEntries bound what a release archive
	// may unpack to (0: 4 GiB and 500,000 entries).
	MaxUnpackedBytes  int64 `json:"max_unpacked_bytes,omitempty"`
	MaxArchiveEntries int   `json:"max_archive_entries,omitempty"`
}

func (a *app) toolConfig() toolConfig {
	var c toolConfig
	if a.plat == nil {
		return c
	}
	b, err := os.ReadFile(a.plat.Paths.ToolConfig)
	if err != nil {
		return c
	}
	if err := json.Unmarshal(bytes.TrimPrefix(b, connector.BOM), &c); err != nil {
		fmt.Fprintf(a.io.ErrOut, "adldapctl: warning: ignoring %s: %v\n", a.plat.Paths.ToolConfig, err)
	}
	return c
}

// feedURL is --feed, else the tool config's feed, else the GitHub default.
func (a *app) feedURL() string {
	if a.feed != "" {
		return a.feed
	}
	if f := a.toolConfig().Feed; f != "" {
		return f
	}
	return updater.DefaultFeedURL
}

func (a *app) mirrorFeed(feed string, client *http.Client) (*updater.MirrorFeed, error) {
	if err := updater.CheckFeedURL(feed); err != nil {
		return nil, usageError{err}
	}
	keySpec := a.trustedKey
	if keySpec == "" {
		keySpec = a.toolConfig().TrustedKey
	}
	if keySpec == "" {
		return nil, usageError{fmt.Errorf("feed %s is a signed mirror: pass --trusted-key (a minisign public key or .pub file) or set \"trusted_key\" in %s",
			redact.URL(feed), a.plat.Paths.ToolConfig)}
	}
	key, err := updater.LoadPublicKey(keySpec)
	if err != nil {
		return nil, usageError{fmt.Errorf("--trusted-key: %w", err)}
	}
	counter := ""
	if a.plat.RequireElevation() == nil {
		counter = filepath.Join(a.plat.Paths.StateDir, "mirror-counters.json")
	}
	return &updater.MirrorFeed{Base: feed, Client: client, PublicKey: key, CounterFile: counter}, nil
}

func (a *app) mirrorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mirror",
		Short: "Build a signed mirror feed for air-gapped or controlled sites",
	}
	var keyFile, keyPassword string
	var counter uint64
	var validFor time.Duration
	var bo bundleOptions
	build := &cobra.Command{
		Use:   "build DIR",
		Short: "Write releases.json and its minisign signature for the artifacts in DIR",
		Long: `mirror build scans DIR for ad-ldap-connector-vX.Y.Z.tar.gz (Linux),
adldap-vX.Y.Z.msi (Windows) and adldapctl-OS-ARCH[.exe] builds (with a
.version file beside each), hashes them and writes releases.json and
releases.json.minisig signed with --key. The metadata counter goes up by one
each build (clients refuse a lower one) and expires after --valid-for.

With --bundle it first builds a connector bundle into DIR: the connector
release (the feed's latest stable one, --version, or the --from source
tarball) is staged, npm ci --omit=dev runs once here (through --proxy and
--ca-file), and the tree with its node_modules is written as
ad-ldap-connector-vX.Y.Z-linux-ARCH-nodeN.tar.gz with a manifest naming the
node it was built for (native modules load only under the same node ABI).
The source tarball is kept beside it. install and update on a server prefer
a bundle that fits their node and then need no npm or registry access.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("mirror build takes one folder, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			a.started = true
			if keyFile == "" {
				return usageError{errors.New("mirror build needs --key FILE (a minisign private key)")}
			}
			if err := bo.validate(cmd); err != nil {
				return err
			}
			pw := keyPassword
			if pw == "" {
				pw = os.Getenv("ADLDAPCTL_KEY_PASSWORD")
			}
			key, err := updater.LoadPrivateKey(keyFile, pw)
			if err != nil {
				return err
			}
			if bo.bundle {
				if _, err := a.buildBundle(cmd.Context(), args[0], &bo); err != nil {
					return err
				}
			}
			var exp time.Time
			if validFor > 0 {
				exp = time.Now().Add(validFor)
			}
			meta, err := updater.BuildMirror(args[0], key, updater.BuildOptions{Counter: counter, Expires: exp, Logf: a.logf})
			if err != nil {
				return err
			}
			if a.json {
				return a.writeJSON(meta)
			}
			bundles := 0
			for _, r := range meta.Releases {
				bundles += len(r.Bundles)
			}
			a.printf("signed mirror written to %s: counter %d, expires %s, %d releases, %d bundles, %d tool builds\n",
				args[0], meta.Counter, meta.Expires.Format(time.RFC3339), len(meta.Releases), bundles, len(meta.Tools))
			return nil
		},
	}
	build.Flags().StringVar(&keyFile, "key", "", "minisign private key `FILE`")
	build.Flags().StringVar(&keyPassword, "key-password", "", "password of an encrypted key (or ADLDAPCTL_KEY_PASSWORD)")
	build.Flags().Uint64Var(&counter, "counter", 0, "metadata counter (default: previous + 1)")
	build.Flags().DurationVar(&validFor, "valid-for", updater.DefaultMirrorValidity, "how long the metadata stays valid")
	bo.register(build)
	cmd.AddCommand(build)
	return cmd
}

func (a *app) selfUpdateCmd() *cobra.Command {
	var force bool
	var channel string
	cmd := &cobra.Command{
		Use:   "self-update",
		Short: "Replace adldapctl with the newest signed build from the mirror feed",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.setup(ctx, false); err != nil {
				return err
			}
			exe, err := a.selfUpdateTarget()
			if err != nil {
				return err
			}
			ch, err := updater.ParseChannel(channel)
			if err != nil {
				return usageError{err}
			}
			feed := a.feedURL()
			if updater.IsGitHubFeedURL(feed) {
				return usageError{fmt.Errorf("self-update needs a signed mirror feed (--feed URL|DIR with --trusted-key): adldapctl never replaces itself with an unsigned build")}
			}
			client, err := updater.NewHTTPClient(updater.ClientOptions{})
			if err != nil {
				return err
			}
			mf, err := a.mirrorFeed(feed, client)
			if err != nil {
				return err
			}
			res, err := updater.SelfUpdate(ctx, updater.SelfUpdateOptions{Feed: mf, Current: Version,
				Platform: runtime.GOOS + "-" + runtime.GOARCH, TargetPath: exe, Channel: ch, Force: force, Logf: a.logf})
			if errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("%w: %v", platform.ErrNeedsElevation, err)
			}
			if err != nil {
				return err
			}
			if a.json {
				return a.writeJSON(res)
			}
			if !res.Updated {
				a.printf("adldapctl %s is current\n", res.From)
				return nil
			}
			a.printf("adldapctl updated %s -> %s (%s, signature verified)\n", res.From, res.To, res.Path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace even when the running build is not older (e.g. a dev build)")
	cmd.Flags().StringVar(&channel, "channel", "stable", "stable or prerelease")
	return cmd
}

// selfUpdateTarget is the binary self-update replaces: the running one, or
// under --root the one installed there (its state, such as the mirror
// counters, is under the root too).
func (a *app) selfUpdateTarget() (string, error) {
	if a.root != "" {
		target := a.plat.Paths.ToolBinary
		if fi, err := os.Lstat(target); err != nil || !fi.Mode().IsRegular() {
			return "", usageError{fmt.Errorf("--root: no adldapctl binary at %s to replace", target)}
		}
		return target, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return exe, nil
}
