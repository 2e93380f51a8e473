package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
)

// statusJSON is `status --json` (a stable contract).
type statusJSON struct {
	Installed       bool                  `json:"installed"`
	Version         string                `json:"version,omitempty"`
	Tag             string                `json:"tag,omitempty"`
	InstalledAt     string                `json:"installed_at,omitempty"`
	SHA256          string                `json:"sha256,omitempty"`
	Verified        string                `json:"verified,omitempty"`
	PreviousVersion string                `json:"previous_version,omitempty"`
	Latest          string                `json:"latest,omitempty"`
	LatestChannel   string                `json:"latest_channel,omitempty"`
	LatestCheckedAt string                `json:"latest_checked_at,omitempty"`
	LastResult      string                `json:"last_result,omitempty"`
	PackageVersion  string                `json:"package_json_version,omitempty"`
	Service         platform.ServiceState `json:"service"`
	Proxy           string                `json:"proxy,omitempty"`
	ProxySource     string                `json:"proxy_source,omitempty"`
	// Product is the connector's MSI product as Windows registers it
	// (Windows only).
	Product *platform.ConnectorProduct `json:"product,omitempty"`
	// AdminService is the admin console service's state (Windows only).
	AdminService *platform.ServiceState `json:"admin_service,omitempty"`
	Paths        map[string]string      `json:"paths"`
	Platform     map[string]string      `json:"platform"`
}

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the installed version, service state, paths and proxy",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setupReadOnly(cmd.Context()); err != nil {
				return err
			}
			p := a.plat
			in := a.installer()
			s := statusJSON{
				Paths: map[string]string{"install_dir": p.Paths.InstallDir, "config": p.Paths.ConfigFile,
					"log": p.Paths.LogFile, "unit": p.Paths.UnitFile, "state": p.Paths.StateDir, "cache": p.Paths.CacheDir},
				Platform: map[string]string{"os": p.OS, "distro": p.Distro, "family": p.Family, "init": p.Init},
			}
			if p.OS == "windows" {
				delete(s.Paths, "unit")
				prod, err := p.FindConnector()
				switch {
				case err == nil:
					s.Product = prod
				case !errors.Is(err, platform.ErrNotSupported):
					a.logf("warning: finding the installed connector: %v", err)
				}
				if p.AdminService != "" {
					if ast, err := p.Services().Status(p.AdminService); err == nil {
						s.AdminService = &ast
					}
				}
			}
			rec, adopted, err := in.Current()
			if err != nil {
				// The MSI product could not be taken over: show the record.
				var rerr error
				if rec, rerr = in.Installed(); rerr != nil {
					return rerr
				}
				a.logf("warning: %v", err)
			}
			if rec != nil {
				s.Installed = true
				s.Version, s.Tag, s.SHA256, s.Verified = rec.Version, rec.Tag, rec.SHA256, rec.Verified
				if !adopted { // the MSI installed it at a time adldapctl does not know
					s.InstalledAt = rec.InstalledAt.Format("2006-01-02 15:04:05 MST")
				}
				s.LastResult = rec.LastResult
			}
			if prev, _ := in.PreviousVersion(); prev != nil {
				s.PreviousVersion = prev.Version
			}
			if b, err := os.ReadFile(filepath.Join(p.Paths.StateDir, latestFile)); err == nil {
				var lc latestCache
				if json.Unmarshal(b, &lc) == nil {
					s.Latest, s.LatestChannel = lc.Latest, lc.Channel
					s.LatestCheckedAt = lc.CheckedAt.Format("2006-01-02 15:04:05 MST")
				}
			}
			if pj, err := os.ReadFile(filepath.Join(p.Paths.InstallDir, "package.json")); err == nil {
				s.PackageVersion = packageVersion(pj)
			}
			st, serr := p.Services().Status(p.Service)
			s.Service = st
			if ep := a.effectiveProxy(); ep.Source != proxyFromNone {
				s.Proxy, s.ProxySource = ep.Effective, ep.Source
			}
			if a.json {
				return a.writeJSON(s)
			}
			if !s.Installed {
				a.printf("Auth0 AD/LDAP Connector: not installed (no install record in %s)\n", p.Paths.StateDir)
			} else {
				a.printf("Auth0 AD/LDAP Connector %s\n", s.Version)
				if adopted {
					a.printf("  installed:   with its MSI, not by adldapctl (no install record yet; the next install or update writes one)\n")
				} else {
					a.printf("  installed:   %s (%s)\n", s.InstalledAt, orDefault(s.LastResult, "ok"))
					a.printf("  sha256:      %s (%s)\n", s.SHA256, verifiedText(s.Verified))
				}
				if s.PreviousVersion != "" {
					a.printf("  previous:    %s (adldapctl rollback returns to it)\n", s.PreviousVersion)
				}
				if s.Latest != "" {
					a.printf("  latest:      %s (%s channel, checked %s)\n", s.Latest, s.LatestChannel, s.LatestCheckedAt)
				}
			}
			svcLine := fmt.Sprintf("%s/%s", st.Active, st.Sub)
			if st.PID > 0 {
				svcLine += fmt.Sprintf(", pid %d", st.PID)
			}
			if st.Restarts > 0 {
				svcLine += fmt.Sprintf(", %d restarts", st.Restarts)
			}
			if st.Note != "" {
				svcLine = st.Note
			}
			if serr != nil {
				svcLine = serr.Error()
			}
			glyph := a.paintOut(colorYellow, "●")
			switch {
			case st.Running():
				glyph = a.paintOut(colorGreen, "●")
			case st.Active == "failed" || serr != nil:
				glyph = a.paintOut(colorRed, "●")
			}
			a.printf("  service:     %s %s: %s\n", glyph, p.Service, svcLine)
			if s.AdminService != nil {
				a.printf("  admin:       %s: %s/%s\n", p.AdminService, s.AdminService.Active, s.AdminService.Sub)
			}
			if pr := s.Product; pr != nil {
				a.printf("  MSI product: %s %s %s\n", orDefault(pr.DisplayName, "(no name)"), orDefault(pr.DisplayVersion, "(no version)"), pr.ProductCode)
				if pr.InstallLocation != "" {
					a.printf("  installed in: %s\n", pr.InstallLocation)
				}
				if pr.ServiceImagePath != "" {
					a.printf("  service runs: %s (%s)\n", pr.ServiceImagePath, orDefault(pr.Host, "unknown host"))
				}
			} else if p.OS == "windows" {
				a.printf("  MSI product: none registered\n")
			}
			a.printf("  install dir: %s\n", p.Paths.InstallDir)
			a.printf("  config:      %s\n", p.Paths.ConfigFile)
			a.printf("  log:         %s\n", p.Paths.LogFile)
			a.printf("  state:       %s\n", p.Paths.StateDir)
			if s.Proxy != "" {
				a.printf("  proxy:       %s (from %s)\n", s.Proxy, s.ProxySource)
			} else {
				a.printf("  proxy:       none\n")
			}
			return nil
		},
	}
}

func packageVersion(b []byte) string {
	cfg, err := connector.ParseConfig(b)
	if err != nil {
		return ""
	}
	return cfg.String("version")
}

func (a *app) serviceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Start, stop, restart or show the connector's service",
	}
	for _, action := range []string{"start", "stop", "restart"} {
		action := action
		cmd.AddCommand(&cobra.Command{
			Use:   action,
			Short: action + " the connector's service",
			Args:  noArgs,
			RunE: func(c *cobra.Command, args []string) error {
				if err := a.setup(c.Context(), true); err != nil {
					return err
				}
				svc := a.plat.Services()
				var err error
				switch action {
				case "start":
					err = svc.Start(a.plat.Service)
				case "stop":
					err = svc.Stop(a.plat.Service)
				case "restart":
					err = svc.Restart(a.plat.Service)
				}
				if err != nil {
					return fmt.Errorf("%s %s: %w", action, a.plat.Service, err)
				}
				return a.printService()
			},
		})
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "show the connector's service state",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := a.setupReadOnly(c.Context()); err != nil {
				return err
			}
			return a.printService()
		},
	})
	return cmd
}

func (a *app) printService() error {
	st, err := a.plat.Services().Status(a.plat.Service)
	if err != nil {
		return err
	}
	if a.json {
		return a.writeJSON(st)
	}
	if st.Note != "" {
		a.printf("%s: %s\n", a.plat.Service, st.Note)
		return nil
	}
	a.printf("%s: %s/%s pid %d restarts %d\n", a.plat.Service, st.Active, st.Sub, st.PID, st.Restarts)
	return nil
}

func (a *app) uninstallCmd() *cobra.Command {
	var purge bool
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the service and program files (customer files stay unless --purge)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(cmd.Context(), true); err != nil {
				return err
			}
			if purge && !a.yes {
				if !a.io.InTTY {
					return usageError{fmt.Errorf("uninstall --purge deletes config.json and certs/ (cert.key decrypts LDAP_BIND_CREDENTIALS): pass --yes to confirm")}
				}
				fmt.Fprintf(a.io.ErrOut, "This deletes config.json and certs/ in %s. Type 'purge' to confirm: ", a.plat.Paths.InstallDir)
				var answer string
				if _, err := fmt.Fscanln(a.io.In, &answer); err != nil {
					answer = ""
				}
				if answer != "purge" {
					return exitError{code: ExitFailed, msg: "not confirmed; nothing removed"}
				}
			}
			res, err := a.installer().Uninstall(purge)
			if err != nil {
				return err
			}
			if a.json {
				return a.writeJSON(res)
			}
			a.printf("Auth0 AD/LDAP Connector uninstalled\n")
			for _, k := range res.Kept {
				a.printf("  kept:    %s\n", k)
			}
			for _, r := range res.Removed {
				a.printf("  removed: %s\n", r)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&purge, "purge", false, "also delete the customer files (config.json, certs/, profile mapper), state and log")
	return cmd
}
