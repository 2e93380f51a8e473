package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/installer"
	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// checkJSON is `update --check --json` (a stable contract).
type checkJSON struct {
	Installed       string `json:"installed"`
	Latest          string `json:"latest"`
	UpdateAvailable bool   `json:"update_available"`
	Channel         string `json:"channel"`
}

// latestFile caches the last feed answer for `status`.
const latestFile = "latest.json"

type latestCache struct {
	Latest    string    `json:"latest"`
	Channel   string    `json:"channel"`
	CheckedAt time.Time `json:"checked_at"`
}

func (a *app) updateCmd() *cobra.Command {
	var ff fetchFlags
	var check, allowDowngrade, dryRun bool
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Update the connector: verified download, health-gated switch, automatic rollback",
		Long: `Update compares the installed version with the newest allowed release and
runs the update transaction: resolve, download, verify, stage, stop, switch,
start, health, commit — or roll back automatically. The previous version is
kept for 'adldapctl rollback'. --check only reports (exit 10 when an update
is available).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if _, err := updater.ParseChannel(ff.channel); err != nil {
				return usageError{err}
			}
			if check || dryRun {
				if err := a.setupReadOnly(ctx); err != nil {
					return err
				}
			} else if err := a.setup(ctx, true); err != nil {
				return err
			}
			if err := a.requireInstallSupport(); err != nil {
				return err
			}
			in := a.installer()
			cur, err := in.Installed()
			if err != nil {
				return err
			}
			if check {
				return a.updateCheck(ctx, &ff, cur)
			}
			if cur == nil {
				return fmt.Errorf("the connector is not installed (no install record in %s): run adldapctl install first", a.plat.Paths.StateDir)
			}
			return a.update(ctx, &ff, cur, allowDowngrade, dryRun, grace)
		},
	}
	ff.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&check, "check", false, "only report whether an update is available (exit 10 when it is)")
	fl.StringVar(&ff.channel, "channel", "stable", "release channel: stable or prerelease")
	fl.BoolVar(&allowDowngrade, "allow-downgrade", false, "allow --version older than the installed version")
	fl.BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	fl.DurationVar(&grace, "health-grace", 30*time.Second, "how long the service must stay up after the switch")
	return cmd
}

func (a *app) updateCheck(ctx context.Context, ff *fetchFlags, cur *connector.InstallRecord) error {
	src, feedURL, err := a.sourceFor(ff)
	if err != nil {
		return err
	}
	ch, _ := updater.ParseChannel(ff.channel)
	rel, err := updater.Latest(ctx, src, ch)
	if err != nil {
		return withProxyHint(fmt.Errorf("check %s: %w", redact.URL(feedURL), err), ff.proxy)
	}
	out := checkJSON{Latest: rel.Version.String(), Channel: string(ch)}
	if cur != nil {
		out.Installed = cur.Version
		iv, err := updater.ParseVersion(cur.Version)
		if err != nil {
			return err
		}
		out.UpdateAvailable = updater.IsNewer(rel.Version, iv)
	} else {
		out.UpdateAvailable = true
	}
	if a.plat.RequireElevation() == nil {
		b, _ := json.Marshal(latestCache{Latest: out.Latest, Channel: out.Channel, CheckedAt: time.Now().UTC()})
		platform.WriteFileAtomic(filepath.Join(a.plat.Paths.StateDir, latestFile), b, 0o644)
	}
	if a.json {
		if err := a.writeJSON(out); err != nil {
			return err
		}
	} else if out.UpdateAvailable {
		a.printf("update available: %s -> %s (%s channel)\n", orDefault(out.Installed, "not installed"), out.Latest, out.Channel)
	} else {
		a.printf("up to date: %s is the latest %s release\n", out.Installed, out.Channel)
	}
	if out.UpdateAvailable {
		return exitError{code: ExitUpdateAvailable}
	}
	return nil
}

func (a *app) update(ctx context.Context, ff *fetchFlags, cur *connector.InstallRecord, allowDowngrade, dryRun bool, grace time.Duration) error {
	var src updater.Source
	var feedURL string
	var err error
	if ff.from == "" {
		if src, feedURL, err = a.sourceFor(ff); err != nil {
			return err
		}
	}
	ch, _ := updater.ParseChannel(ff.channel)
	var txn *installer.Txn
	in := a.healthInstaller(ff, grace)
	if !dryRun {
		if txn, err = in.Begin(installer.OpUpdate); err != nil {
			return err
		}
	}
	abort := func(err error) error {
		if txn != nil {
			txn.Abort()
		}
		return err
	}
	var rel *updater.Release
	var art updater.Artifact
	switch {
	case ff.from != "": // offline: a file the admin brought
		var v *version.Version
		var abs string
		if v, abs, err = fromFile(ff); err == nil {
			rel = &updater.Release{Version: v, Tag: "v" + v.String()}
			art = updater.Artifact{Name: "ad-ldap-connector-v" + v.String() + ".tar.gz", URL: abs}
		}
	case ff.version != "":
		rel, err = src.Release(ctx, ff.version)
	default:
		rel, err = updater.Latest(ctx, src, ch)
	}
	if err != nil {
		return abort(withProxyHint(fmt.Errorf("resolve from %s: %w", redact.URL(feedURL), err), ff.proxy))
	}
	iv, err := updater.ParseVersion(cur.Version)
	if err != nil {
		return abort(err)
	}
	switch {
	case rel.Version.Equal(iv):
		if !a.json {
			a.printf("up to date: %s is installed\n", cur.Version)
		} else {
			a.writeJSON(map[string]any{"op": "update", "version": cur.Version, "changed": false})
		}
		return abort(nil)
	case rel.Version.LessThan(iv) && !allowDowngrade:
		return abort(fmt.Errorf("%s is older than the installed %s: refusing to downgrade; pass --allow-downgrade to do it anyway", rel.Version, cur.Version))
	}
	if src != nil {
		if art, err = a.artifactOf(rel, src); err != nil {
			return abort(err)
		}
	}
	if dryRun {
		plan := map[string]any{"op": "update", "from": cur.Version, "to": rel.Version.String(), "artifact": redact.URL(art.URL),
			"sha256": art.SHA256, "phases": installer.Phases, "health_grace": grace.String(), "dry_run": true}
		if a.json {
			return a.writeJSON(plan)
		}
		a.printf("update plan (dry run, nothing changed):\n")
		a.printf("  from %s to %s\n", cur.Version, rel.Version)
		a.printf("  artifact: %s\n", redact.URL(art.URL))
		a.printf("  phases: resolve → download → verify → stage → stop → switch → start → health (%s) → commit, rollback on failure\n", grace)
		a.printf("  keeps: config.json, certs/, lib/profileMapper.js (or PROFILE_MAPPER_FILE), SSL_CA_PATH folder\n")
		return nil
	}
	if err := txn.Enter(installer.PhaseDownload); err != nil {
		return abort(err)
	}
	dl, err := a.downloader(ff)
	if err != nil {
		return abort(err)
	}
	res, err := dl.Fetch(ctx, art, a.plat.Paths.CacheDir, updater.VerifyOptions{SHA256: ff.sha256, RequireDigest: ff.requireDigest})
	if err != nil {
		return abort(withProxyHint(err, ff.proxy))
	}
	if err := txn.Enter(installer.PhaseVerify); err != nil {
		return abort(err)
	}
	if err := a.checkStagingSpace(res.Path); err != nil {
		return abort(err)
	}
	verified := string(res.Verified)
	result, err := in.Apply(ctx, installer.Request{Op: installer.OpUpdate, Txn: txn, Artifact: installer.Artifact{
		Path: res.Path, Version: rel.Version.String(), Tag: rel.Tag, Source: art.URL, SHA256: res.SHA256, Verified: verified}})
	if err != nil {
		var rb *installer.RolledBackError
		if errors.As(err, &rb) {
			return fmt.Errorf("update to %s failed and was rolled back: %w", rel.Version, err)
		}
		return err
	}
	os.Remove(res.Path)
	return a.printInstallResult(result)
}

// healthInstaller is an installer whose health gate waits grace and, when
// config.json names a PORT, for the connector to answer on it.
func (a *app) healthInstaller(ff *fetchFlags, grace time.Duration) *installer.Installer {
	cfgPath := a.plat.Paths.ConfigFile
	probe := func(ctx context.Context) error {
		cfg, err := connector.ReadConfig(cfgPath)
		if err != nil {
			return nil // nothing to probe
		}
		raw, ok := cfg.Raw("PORT")
		if !ok {
			return nil
		}
		port, err := strconv.Atoi(string(trimQuotes(raw)))
		if err != nil || port <= 0 {
			return nil
		}
		c := http.Client{Timeout: 2 * time.Second}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			return fmt.Errorf("connector answered %s", resp.Status)
		}
		return nil
	}
	o := installer.Options{Platform: a.plat, Logf: a.logf, Proxy: ff.proxy, CAFiles: ff.caFiles, Stable: grace, Probe: probe}
	return installer.New(o)
}

func trimQuotes(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}

func (a *app) rollbackCmd() *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Return to the previous installed version, customer files kept",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.setup(ctx, true); err != nil {
				return err
			}
			if err := a.requireInstallSupport(); err != nil {
				return err
			}
			res, err := a.healthInstaller(&fetchFlags{}, grace).Rollback(ctx)
			if err != nil {
				return err
			}
			if a.json {
				return a.writeJSON(res)
			}
			a.printf("rolled back from %s to %s\n", res.PreviousVersion, res.Version)
			a.printf("  service: auth0-adldap (%s/%s, pid %d)\n", res.Service.Active, res.Service.Sub, res.Service.PID)
			a.printf("  kept for rollback: %s\n", res.PreviousVersion)
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "health-grace", 30*time.Second, "how long the service must stay up after the switch")
	return cmd
}
