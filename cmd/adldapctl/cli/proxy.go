package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/platform"
)

// Where the connector's proxy comes from (proxy show, status).
const (
	proxyFromServiceEnv = "service environment"
	proxyFromConfig     = "config.json"
	proxyFromNone       = "none"
)

// proxyShowJSON is `proxy show --json` (a stable contract). Every URL is
// redacted.
type proxyShowJSON struct {
	Effective   string `json:"effective,omitempty"`
	Source      string `json:"source"`
	ServiceEnv  string `json:"service_environment,omitempty"`
	ConfigJSON  string `json:"config_json,omitempty"`
	EnvFile     string `json:"env_file"`
	ConfigFile  string `json:"config_file"`
	Problem     string `json:"problem,omitempty"`
	ConfigError string `json:"config_error,omitempty"`

	raw string // the effective URL unredacted: never printed
}

// proxyChangeJSON is what `proxy set` and `proxy clear` did (--json).
type proxyChangeJSON struct {
	Proxy         string   `json:"proxy,omitempty"` // redacted; empty after clear
	ConfigFile    string   `json:"config_file"`
	ConfigChanged bool     `json:"config_changed"`
	BOMRemoved    bool     `json:"bom_removed,omitempty"`
	ServiceFiles  []string `json:"service_files,omitempty"`
	Reloaded      bool     `json:"daemon_reload"`
	Restarted     bool     `json:"restarted"`
	Notes         []string `json:"notes,omitempty"`

	registry bool // ServiceFiles are registry values (Windows)
}

type proxySetOptions struct {
	probe     bool
	noRestart bool
}

func (a *app) proxyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Set, show or clear the proxy the connector uses (HTTP_PROXY)",
		Long: `The connector takes its proxy from HTTP_PROXY: in the service's environment
first, then in config.json. "proxy set" writes both (the service environment
through a root-only file, never the unit file; on Windows the service's
registry environment: nssm's AppEnvironmentExtra, or the service's
Environment value) and restarts the service; the password is never shown.`,
	}
	set := &proxySetOptions{}
	setCmd := &cobra.Command{
		Use:   "set URL",
		Short: "Validate URL and make the connector use it (config.json and the service environment), then restart",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("proxy set takes one URL: http://[user:password@]host:port")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return a.proxySetRun(cmd, set, args[0]) },
	}
	setCmd.Flags().BoolVar(&set.probe, "probe", false, "fetch URL first and refuse it when it serves a PAC/WPAD script")
	setCmd.Flags().BoolVar(&set.noRestart, "no-restart", false, "write the settings but do not restart the service")
	var noRestart bool
	clearCmd := &cobra.Command{
		Use:   "clear",
		Short: "Remove the proxy from config.json and the service environment, then restart",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(cmd.Context(), true); err != nil {
				return err
			}
			res, err := a.applyProxy(cmd.Context(), "", !noRestart)
			if err != nil {
				return err
			}
			return a.printProxyChange(res)
		},
	}
	clearCmd.Flags().BoolVar(&noRestart, "no-restart", false, "remove the settings but do not restart the service")
	showCmd := &cobra.Command{
		Use:   "show",
		Short: "Show the connector's effective proxy and where it comes from (password redacted)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setupReadOnly(cmd.Context()); err != nil {
				return err
			}
			s := a.effectiveProxy()
			if a.json {
				return a.writeJSON(s)
			}
			if s.Source == proxyFromNone {
				a.printf("proxy: none (the connector connects directly)\n")
			} else {
				a.printf("proxy: %s (from %s)\n", s.Effective, s.Source)
			}
			if s.ServiceEnv != "" && s.ConfigJSON != "" && s.ServiceEnv != s.ConfigJSON {
				a.printf("  config.json says %s, which the service environment overrides\n", s.ConfigJSON)
			}
			a.printf("  service environment: %s\n", orDefault(s.ServiceEnv, "not set")+" ("+s.EnvFile+")")
			a.printf("  config.json:         %s\n", orDefault(s.ConfigJSON, "not set")+" ("+s.ConfigFile+")")
			if s.ConfigError != "" {
				a.printf("  warning: %s\n", s.ConfigError)
			}
			if s.Problem != "" {
				a.printf("  problem: %s\n", s.Problem)
			}
			return nil
		},
	}
	cmd.AddCommand(setCmd, showCmd, clearCmd)
	return cmd
}

func (a *app) proxySetRun(cmd *cobra.Command, opts *proxySetOptions, raw string) error {
	u, err := connector.ParseProxy(raw)
	if err != nil {
		return usageError{err}
	}
	if opts.probe {
		if err := probePAC(cmd.Context(), u.String()); err != nil {
			return err
		}
	}
	if err := a.setup(cmd.Context(), true); err != nil {
		return err
	}
	res, err := a.applyProxy(cmd.Context(), u.String(), !opts.noRestart)
	if err != nil {
		return err
	}
	return a.printProxyChange(res)
}

// probePAC fetches u directly (no proxy, no credentials) and refuses it
// when what it serves is a PAC/WPAD script. A URL that cannot be fetched
// is not refused: a proxy need not answer plain GETs.
func probePAC(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return usageError{fmt.Errorf("%w %s: %v", connector.ErrBadProxy, redact.URL(u), err)}
	}
	req.URL.User = nil
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20)) // a short read still shows a PAC
	if connector.IsPACBody(body) {
		return usageError{fmt.Errorf("%w %s: it serves a script with FindProxyForURL: %w: %s",
			connector.ErrBadProxy, redact.URL(u), connector.ErrPACProxy, connector.PACAdvice)}
	}
	return nil
}

// applyProxy makes proxy (a URL ParseProxy accepted, or "" to clear) the
// connector's proxy: config.json through connector.EditConfig, the
// service environment through the platform, then a restart of the
// service when it is installed and restart is set. Nothing here prints
// the password.
func (a *app) applyProxy(ctx context.Context, proxy string, restart bool) (*proxyChangeJSON, error) {
	p := a.plat
	res := &proxyChangeJSON{Proxy: redact.URL(proxy), ConfigFile: p.Paths.ConfigFile}
	edit, err := connector.EditConfig(p.Paths.ConfigFile, func(c *connector.Config) error {
		if proxy == "" {
			c.Delete(connector.ProxyKey)
			return nil
		}
		_, err := c.Set(connector.ProxyKey, proxy)
		return err
	})
	if err != nil {
		return nil, err // names the duplicate key or the parse error, and the fix
	}
	res.ConfigChanged, res.BOMRemoved = edit.Changed, edit.BOMRemoved
	if edit.BOMRemoved {
		res.Notes = append(res.Notes, "config.json started with a UTF-8 byte order mark, which Node cannot parse: removed")
	}
	// (Windows: the folder's ACL governs config.json, not a file mode.)
	if proxy != "" && edit.OthersCanRead && p.OS != "windows" {
		res.Notes = append(res.Notes, fmt.Sprintf("config.json is mode %04o: other users can read the proxy password; chmod 600 %s", edit.Mode, p.Paths.ConfigFile))
	}
	senv, err := p.SetServiceEnv(connector.ProxyEnv(proxy))
	switch {
	case errors.Is(err, platform.ErrNotSupported):
		// --root on Windows: the service environment is in the registry,
		// which a folder cannot hold; config.json alone sets the proxy.
		res.Notes = append(res.Notes, "service environment not set: "+err.Error()+"; the connector reads config.json")
	case err != nil:
		return res, fmt.Errorf("config.json is updated, but the service environment is not: %w", err)
	default:
		res.ServiceFiles, res.Reloaded, res.registry = senv.Files, senv.Reloaded, senv.Registry
		if senv.Note != "" {
			res.Notes = append(res.Notes, senv.Note)
		}
	}
	if !restart {
		res.Notes = append(res.Notes, "service not restarted: the connector reads its proxy at start; run 'adldapctl service restart' when ready")
		return res, nil
	}
	if !res.ConfigChanged && len(res.ServiceFiles) == 0 {
		res.Notes = append(res.Notes, "nothing changed: service not restarted")
		return res, nil
	}
	svc := p.Services()
	st, err := svc.Status(p.Service)
	if err != nil || !st.Installed {
		res.Notes = append(res.Notes, "the connector's service is not installed: nothing to restart")
		return res, nil
	}
	if p.Sandboxed() {
		return res, nil // the note from SetServiceEnv says it
	}
	a.logf("restarting %s", p.Service)
	if err := svc.Restart(p.Service); err != nil {
		return res, fmt.Errorf("the proxy is set, but restarting %s failed: %w", p.Service, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := svc.WaitRunning(wctx, p.Service, 2*time.Second); err != nil {
		return res, fmt.Errorf("the proxy is set, but %s did not stay up after the restart (see %s): %w", p.Service, p.Paths.LogFile, err)
	}
	res.Restarted = true
	return res, nil
}

func (a *app) printProxyChange(res *proxyChangeJSON) error {
	if a.json {
		return a.writeJSON(res)
	}
	if res.Proxy != "" {
		a.printf("proxy set: %s\n", res.Proxy)
	} else {
		a.printf("proxy cleared: the connector connects directly\n")
	}
	a.printf("  config.json:   %s (%s)\n", changedText(res.ConfigChanged), res.ConfigFile)
	label := "service file: "
	switch {
	case res.registry && res.Proxy == "":
		label = "removed value:"
	case res.registry:
		label = "registry:     "
	case res.Proxy == "":
		label = "removed:      "
	}
	for _, f := range res.ServiceFiles {
		a.printf("  %s %s\n", label, f)
	}
	if res.Reloaded {
		a.printf("  systemd:       daemon-reload done\n")
	}
	if res.Restarted {
		a.printf("  service:       %s restarted\n", a.plat.Service)
	}
	for _, n := range res.Notes {
		a.printf("  note: %s\n", n)
	}
	return nil
}

func changedText(changed bool) string {
	if changed {
		return "written"
	}
	return "unchanged"
}

// effectiveProxy says which proxy the connector uses and from where: the
// service environment (the file adldapctl writes, in effect when systemd
// reads it through the drop-in, or the init script sources it) wins over
// config.json. Every URL is redacted.
func (a *app) effectiveProxy() proxyShowJSON {
	p := a.plat
	s := proxyShowJSON{Source: proxyFromNone, EnvFile: p.ServiceEnvLocation(), ConfigFile: p.Paths.ConfigFile}
	var raw string
	if env, err := p.ServiceEnv(); err != nil {
		s.Problem = fmt.Sprintf("%s: %v", s.EnvFile, err)
	} else if v := env["HTTP_PROXY"]; v != "" && a.serviceEnvInEffect() {
		s.ServiceEnv, raw, s.Source = redact.URL(v), v, proxyFromServiceEnv
	}
	cfg, err := connector.ReadConfig(p.Paths.ConfigFile)
	switch {
	case err == nil:
		if v := cfg.String(connector.ProxyKey); v != "" {
			s.ConfigJSON = redact.URL(v)
			if raw == "" {
				raw, s.Source = v, proxyFromConfig
			}
		}
		if d := cfg.Duplicates(); len(d) > 0 {
			s.ConfigError = fmt.Sprintf("config.json has duplicate keys %q: Node uses the last of each", d)
		}
	case !errors.Is(err, os.ErrNotExist):
		s.ConfigError = err.Error()
	}
	if raw != "" {
		s.raw = raw
		s.Effective = redact.URL(raw)
		if _, err := connector.ParseProxy(raw); err != nil {
			s.Problem = err.Error()
		}
	}
	return s
}

// serviceEnvInEffect reports whether the service reads the env file: on
// systemd (and under --root) only through the drop-in.
func (a *app) serviceEnvInEffect() bool {
	p := a.plat
	if p.Init != "systemd" && !p.Sandboxed() {
		return true
	}
	_, err := os.Stat(p.Paths.ServiceDropIn)
	return err == nil
}

// useConnectorProxy makes downloads and npm go through the connector's own
// proxy when neither --proxy nor the environment names one: a server that
// needs a proxy has it set there, and sudo drops HTTPS_PROXY from the
// admin's environment.
func (a *app) useConnectorProxy(f *fetchOptions) {
	if f.proxy != "" {
		return
	}
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if os.Getenv(k) != "" {
			return
		}
	}
	ep := a.effectiveProxy()
	if ep.raw == "" {
		return
	}
	if ep.Problem != "" {
		a.logf("warning: not using the connector's proxy for downloads: %s", ep.Problem)
		return
	}
	f.proxy = ep.raw
	a.logf("downloading through the connector's proxy %s (from %s)", ep.Effective, ep.Source)
}
