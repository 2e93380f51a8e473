package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/installer"
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

type updateOptions struct {
	fetch          fetchOptions
	check          bool
	allowDowngrade bool
	dryRun         bool
	grace          time.Duration
}

func (a *app) updateCmd() *cobra.Command {
	opts := &updateOptions{}
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Update the connector: verified download, health-gated switch, automatic rollback",
		Long: `Update compares the installed version with the newest allowed release and
runs the update transaction: resolve, download, verify, stage, stop, switch,
start, health, commit — or roll back automatically. The previous version is
kept for 'adldapctl rollback'. --check only reports (exit 10 when an update
is available).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return a.updateRun(cmd, opts) },
	}
	opts.fetch.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&opts.check, "check", false, "only report whether an update is available (exit 10 when it is)")
	fl.StringVar(&opts.fetch.channel, "channel", "stable", "release channel: stable or prerelease")
	fl.BoolVar(&opts.allowDowngrade, "allow-downgrade", false, "allow --version older than the installed version")
	fl.BoolVar(&opts.dryRun, "dry-run", false, "print the plan and change nothing")
	fl.DurationVar(&opts.grace, "health-grace", 30*time.Second, "how long the service must stay up after the switch")
	return cmd
}

func (a *app) updateRun(cmd *cobra.Command, opts *updateOptions) error {
	ctx := cmd.Context()
	if err := opts.fetch.validate(cmd); err != nil {
		return err
	}
	if opts.check || opts.dryRun {
		if err := a.setupReadOnly(ctx); err != nil {
			return err
		}
	} else if err := a.setup(ctx, true); err != nil {
		return err
	}
	a.useConnectorProxy(&opts.fetch)
	src, err := a.source(&opts.fetch)
	if err != nil {
		return err
	}
	if opts.check {
		return a.updateCheck(cmd, opts, src)
	}
	op := installer.OpUpdate
	if opts.allowDowngrade {
		op = installer.OpDowngrade
	}
	res, err := a.runPlan(cmd, &opts.fetch, opts.grace, installer.Plan{Op: op, Source: src, Version: opts.fetch.version,
		Channel: updater.Channel(opts.fetch.channel), DryRun: opts.dryRun})
	if err != nil {
		return err
	}
	switch {
	case !res.Changed:
		if a.json {
			return a.writeJSON(map[string]any{"op": "update", "version": res.Version, "changed": false})
		}
		a.printf("up to date: %s is installed\n", res.Version)
		return nil
	case res.DryRun:
		return a.printPlan(res, opts.grace)
	}
	return a.finish(ctx, res)
}

func (a *app) printPlan(res *installer.Result, grace time.Duration) error {
	if a.json {
		return a.writeJSON(map[string]any{"op": res.Op, "from": res.PreviousVersion, "to": res.Version, "artifact": res.Artifact,
			"sha256": res.SHA256, "phases": installer.Phases, "health_grace": grace.String(), "dry_run": true})
	}
	a.printf("update plan (dry run, nothing changed):\n")
	a.printf("  from %s to %s\n", res.PreviousVersion, res.Version)
	a.printf("  artifact: %s\n", res.Artifact)
	a.printf("  phases: resolve → download → verify → stage → stop → switch → start → health (%s) → commit, rollback on failure\n", grace)
	a.printf("  keeps: config.json, certs/, lib/profileMapper.js (or PROFILE_MAPPER_FILE), SSL_CA_PATH folder\n")
	return nil
}

func (a *app) updateCheck(cmd *cobra.Command, opts *updateOptions, src updater.Source) error {
	cur, _, err := installer.New(installer.Options{Platform: a.plat}).Current()
	if err != nil {
		return err
	}
	ch := updater.Channel(opts.fetch.channel)
	rel, err := updater.Latest(cmd.Context(), src, ch)
	if err != nil {
		return withProxyHint(fmt.Errorf("check %s: %w", src.Location(), err), opts.fetch.proxy)
	}
	out := checkJSON{Latest: rel.Version.String(), Channel: string(ch), UpdateAvailable: true}
	if cur != nil {
		out.Installed = cur.Version
		iv, err := updater.ParseVersion(cur.Version)
		if err != nil {
			return err
		}
		out.UpdateAvailable = updater.IsNewer(rel.Version, iv)
	}
	if a.plat.RequireElevation() == nil {
		if b, err := json.Marshal(latestCache{Latest: out.Latest, Channel: out.Channel, CheckedAt: time.Now().UTC()}); err == nil {
			if err := platform.WriteFileAtomic(filepath.Join(a.plat.Paths.StateDir, latestFile), b, 0o644); err != nil {
				a.logf("warning: could not remember the latest release: %v", err)
			}
		}
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

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (a *app) rollbackCmd() *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Return to the previous installed version, customer files kept",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(cmd.Context(), true); err != nil {
				return err
			}
			res, err := a.runPlan(cmd, &fetchOptions{}, grace, installer.Plan{Op: installer.OpRollback})
			if err != nil {
				return err
			}
			if a.json {
				return a.writeJSON(res)
			}
			a.printf("rolled back from %s to %s\n", res.PreviousVersion, res.Version)
			a.printf("  service: %s (%s/%s, pid %d)\n", a.plat.Service, res.Service.Active, res.Service.Sub, res.Service.PID)
			a.printf("  kept for rollback: %s\n", res.PreviousVersion)
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "health-grace", 30*time.Second, "how long the service must stay up after the switch")
	return cmd
}
