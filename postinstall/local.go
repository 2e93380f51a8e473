package postinstall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/installer"
	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// Ids of the local checks.
const (
	IDInstallFiles   = "install.files"
	IDConfigValid    = "config.valid"
	IDConfigPerms    = "config.perms"
	IDServiceRunning = "service.running"
	IDVersionCurrent = "version.current"
	IDNodeRuntime    = "node.runtime"
	IDDiskSpace      = "disk.space"
	IDCacheGroups    = "cache.groups"
	IDKerberosConfig = "kerberos.config"
	IDProxyConfig    = "proxy.config"
)

// HealthGateIDs are the connector-independent checks an update's health
// gate requires: none of them may fail after the switch.
var HealthGateIDs = []string{IDInstallFiles, IDConfigValid, IDNodeRuntime, IDServiceRunning}

// check is a catalogue entry made of a function.
type check struct {
	id, title string
	deps      []string
	run       func(ctx context.Context, env *Env) Outcome
}

func (c check) ID() string                                { return c.id }
func (c check) Title() string                             { return c.title }
func (c check) Deps() []string                            { return c.deps }
func (c check) Run(ctx context.Context, env *Env) Outcome { return c.run(ctx, env) }

var _ Check = check{}

func localChecks() []Check {
	return []Check{
		check{id: IDInstallFiles, title: "connector files installed", run: checkInstallFiles},
		check{id: IDConfigValid, title: "config.json valid", run: checkConfigValid},
		check{id: IDConfigPerms, title: "config.json and certs/ private", run: checkConfigPerms},
		check{id: IDServiceRunning, title: "service running", run: checkServiceRunning},
		check{id: IDVersionCurrent, title: "connector up to date", run: checkVersionCurrent},
		check{id: IDNodeRuntime, title: "Node.js runtime", deps: []string{IDInstallFiles}, run: checkNodeRuntime},
		check{id: IDDiskSpace, title: "disk space for an update", run: checkDiskSpace},
		check{id: IDCacheGroups, title: "groups cache", run: checkCacheGroups},
		check{id: IDKerberosConfig, title: "Kerberos settings", run: checkKerberos},
		check{id: IDProxyConfig, title: "proxy settings", run: checkProxy},
	}
}

const repairFix = "run 'adldapctl install' to repair the install (customer files are kept)"

func checkInstallFiles(_ context.Context, env *Env) Outcome {
	dir := env.Platform.Paths.InstallDir
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return Failed(fmt.Sprintf("the install folder %s is missing", dir),
			"run 'adldapctl install' (add --ticket URL from the Auth0 dashboard on a new server)").With("install_dir", dir)
	}
	var missing []string
	for _, f := range []string{"server.js", "package.json"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || !fi.Mode().IsRegular() {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return Failed(fmt.Sprintf("program files missing in %s: %s", dir, strings.Join(missing, ", ")), repairFix).
			With("install_dir", dir).With("missing", missing)
	}
	if _, err := os.Stat(env.Platform.Paths.ConfigFile); err != nil {
		return Failed(fmt.Sprintf("%s is missing: the connector cannot start without it", env.Platform.Paths.ConfigFile),
			"run 'adldapctl install --ticket URL' with the provisioning ticket URL from the Auth0 dashboard (Connections > Enterprise > Active Directory / LDAP > Setup)").
			With("install_dir", dir)
	}
	rec, err := env.record()
	if err != nil {
		return Warned(fmt.Sprintf("the install record cannot be read: %v", err), repairFix).With("install_dir", dir)
	}
	if rec == nil {
		return Warned("the files are there but adldapctl has no install record, so the installed version is unknown (installed by hand or by another tool)",
			"run 'adldapctl install' once to adopt this install (customer files are kept)").With("install_dir", dir)
	}
	out := Passed(fmt.Sprintf("connector %s in %s", rec.Version, dir)).With("install_dir", dir).With("version", rec.Version)
	if fi, err := os.Stat(filepath.Join(dir, connector.CertsDir)); err != nil || !fi.IsDir() {
		out = Warned(fmt.Sprintf("connector %s in %s, but certs/ is missing: the connector creates it when it is provisioned", rec.Version, dir),
			"finish provisioning: 'adldapctl install --ticket URL', then start the service").With("install_dir", dir).With("version", rec.Version)
	}
	return out
}

// configProblem builds a config.valid failure.
func configFailed(env *Env, diag, fix string) Outcome {
	return Failed(diag, fix).With("config_file", env.Platform.Paths.ConfigFile)
}

func checkConfigValid(_ context.Context, env *Env) Outcome {
	path := env.Platform.Paths.ConfigFile
	cfg := env.Config
	if cfg == nil {
		err := env.ConfigErr
		switch {
		case err == nil || errors.Is(err, os.ErrNotExist):
			return configFailed(env, path+" does not exist",
				"run 'adldapctl install --ticket URL' with the provisioning ticket URL from the Auth0 dashboard")
		case errors.Is(err, connector.ErrConfigInvalid):
			return configFailed(env, fmt.Sprintf("%s does not parse: %v", path, err),
				"fix the JSON syntax (a missing comma or quote is the usual cause; 'python3 -m json.tool "+path+"' points at the line), or restore it from a backup")
		default:
			return configFailed(env, fmt.Sprintf("%s cannot be read: %v", path, err), "run adldapctl as root (or from an elevated prompt)")
		}
	}
	var fails, warns []string
	if d := cfg.Duplicates(); len(d) > 0 {
		warns = append(warns, fmt.Sprintf("keys %s appear more than once (Node uses the last of each)", strings.Join(d, ", ")))
	}
	if cfg.HadBOM {
		warns = append(warns, "the file starts with a UTF-8 byte order mark (some Windows editors add one)")
	}
	// Required keys: a ticket, and once provisioned the LDAP settings.
	if !cfg.Has("PROVISIONING_TICKET") {
		fails = append(fails, "PROVISIONING_TICKET is missing")
	}
	if cfg.Has("LDAP_URL") {
		if !cfg.Has("LDAP_BASE") {
			fails = append(fails, "LDAP_BASE is missing (LDAP_URL is set, so the connector was configured)")
		}
		if anon, _ := cfg.Raw("ANONYMOUS_SEARCH_ENABLED"); string(anon) != "true" {
			if !cfg.Has("LDAP_BIND_USER") {
				fails = append(fails, "LDAP_BIND_USER is missing and ANONYMOUS_SEARCH_ENABLED is not true: the connector exits at start")
			}
			if !cfg.Has("LDAP_BIND_CREDENTIALS") && !cfg.Has("LDAP_BIND_PASSWORD") {
				fails = append(fails, "neither LDAP_BIND_PASSWORD nor LDAP_BIND_CREDENTIALS is set and ANONYMOUS_SEARCH_ENABLED is not true: the connector exits at start")
			}
		}
	} else if cfg.Has("PROVISIONING_TICKET") {
		warns = append(warns, "LDAP_URL is not set: the connector exits at start (\"edit config.json and add your LDAP URL\") until LDAP_URL, LDAP_BASE, LDAP_BIND_USER and LDAP_BIND_PASSWORD are set")
	}
	// Values.
	str := func(k string) (string, bool) {
		raw, ok := cfg.Raw(k)
		if !ok {
			return "", false
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			fails = append(fails, k+" is not a string")
			return "", false
		}
		return s, true
	}
	if t, ok := str("PROVISIONING_TICKET"); ok {
		if u, err := url.Parse(t); err != nil || u.Scheme != "https" || u.Host == "" {
			fails = append(fails, "PROVISIONING_TICKET is not an https:// URL (https://TENANT/p/ad/TICKET)")
		}
	}
	if h, ok := str("AD_HUB"); ok {
		if u, err := url.Parse(h); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			fails = append(fails, fmt.Sprintf("AD_HUB %q is not an http(s) URL", redact.URL(h)))
		}
	}
	if l, ok := str("LDAP_URL"); ok {
		for _, one := range strings.FieldsFunc(l, func(r rune) bool { return r == ',' || r == ' ' }) {
			u, err := url.Parse(one)
			switch {
			case err != nil || u.Host == "":
				fails = append(fails, fmt.Sprintf("LDAP_URL %q does not parse as ldap://host[:port]", redact.URL(one)))
			case u.Scheme != "ldap" && u.Scheme != "ldaps":
				fails = append(fails, fmt.Sprintf("LDAP_URL %q has scheme %q: use ldap:// or ldaps://", redact.URL(one), u.Scheme))
			}
		}
	}
	if raw, ok := cfg.Raw("PORT"); ok {
		p, err := strconv.Atoi(strings.Trim(string(raw), `"`))
		if err != nil || p < 1 || p > 65535 {
			fails = append(fails, fmt.Sprintf("PORT %s is not a port number (1-65535)", string(raw)))
		}
	}
	fix := "edit " + path + " (as root) and restart the service with 'adldapctl service restart'"
	switch {
	case len(fails) > 0:
		if !cfg.Has("PROVISIONING_TICKET") {
			fix = "run 'adldapctl install --ticket URL' with the provisioning ticket URL from the Auth0 dashboard; " + fix
		}
		return configFailed(env, path+": "+strings.Join(append(fails, warns...), "; "), fix)
	case len(warns) > 0:
		if !cfg.Has("LDAP_URL") {
			fix = "add LDAP_URL, LDAP_BASE, LDAP_BIND_USER and LDAP_BIND_PASSWORD to " + path + " (the connector encrypts the password into LDAP_BIND_CREDENTIALS at its next start), then 'adldapctl service restart'"
		}
		if cfg.HadBOM {
			fix = "save " + path + " as UTF-8 without BOM (any 'adldapctl proxy set' rewrites it without one)"
		}
		return Warned(path+": "+strings.Join(warns, "; "), fix).With("config_file", path)
	}
	return Passed(path+" parses and its values are well-formed").With("config_file", path)
}

func checkConfigPerms(_ context.Context, env *Env) Outcome {
	if env.Platform.OS == "windows" {
		return checkConfigACL(env)
	}
	var open []string
	cfgPath := env.Platform.Paths.ConfigFile
	fi, err := os.Stat(cfgPath)
	if err != nil {
		return Skipped(cfgPath + " does not exist (see config.valid)")
	}
	if fi.Mode().Perm()&0o077 != 0 {
		open = append(open, fmt.Sprintf("%s is mode %04o", cfgPath, fi.Mode().Perm()))
	}
	certs := filepath.Join(env.Platform.Paths.InstallDir, connector.CertsDir)
	if fi, err := os.Stat(certs); err == nil && fi.IsDir() {
		if fi.Mode().Perm()&0o007 != 0 {
			open = append(open, fmt.Sprintf("%s/ is mode %04o", certs, fi.Mode().Perm()))
		}
		_ = filepath.WalkDir(certs, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if i, err := d.Info(); err == nil && i.Mode().Perm()&0o077 != 0 {
				open = append(open, fmt.Sprintf("%s is mode %04o", p, i.Mode().Perm()))
			}
			return nil
		})
	}
	if len(open) > 0 {
		return Failed("readable by other users: "+strings.Join(open, "; ")+" (config.json holds the connector's secrets, certs/cert.key decrypts the bind password)",
			fmt.Sprintf("chmod 600 %s && chmod -R go-rwx %s", cfgPath, certs)).With("files", open)
	}
	return Passed("config.json and certs/ are readable by their owner only")
}

// checkConfigACL is config.perms on Windows: no one but SYSTEM (the
// service's account), Administrators and TrustedInstaller may read
// config.json or anything in certs\.
func checkConfigACL(env *Env) Outcome {
	cfgPath := env.Platform.Paths.ConfigFile
	if _, err := os.Stat(cfgPath); err != nil {
		return Skipped(cfgPath + " does not exist (see config.valid)")
	}
	certs := filepath.Join(env.Platform.Paths.InstallDir, connector.CertsDir)
	paths := []string{cfgPath}
	if fi, err := os.Stat(certs); err == nil && fi.IsDir() {
		paths = append(paths, certs)
		_ = filepath.WalkDir(certs, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				paths = append(paths, p)
			}
			return nil
		})
	}
	var open []string
	for _, p := range paths {
		who, err := othersWhoCanRead(p)
		if errors.Is(err, platform.ErrNotSupported) {
			return Skipped("the access lists of " + cfgPath + " can only be read on Windows")
		}
		if err != nil {
			return Warned(fmt.Sprintf("the access list of %s cannot be read: %v", p, err), "run adldapctl from an elevated prompt")
		}
		if len(who) > 0 {
			open = append(open, fmt.Sprintf("%s by %s", p, strings.Join(who, ", ")))
		}
	}
	if len(open) > 0 {
		return Failed("readable by other accounts: "+strings.Join(open, "; ")+" (config.json holds the connector's secrets, certs\\cert.key decrypts the bind password)",
			aclFix(cfgPath, false)+" && "+aclFix(certs, true)).With("files", open)
	}
	return Passed("config.json and certs\\ are readable by SYSTEM and Administrators only")
}

func checkServiceRunning(_ context.Context, env *Env) Outcome {
	if env.Platform.Sandboxed() {
		return Skipped("under --root no host service manager is asked (sandbox): the service files live under " + env.Platform.Root)
	}
	st, err := env.services().Status(env.Platform.Service)
	logHint := "see " + env.Platform.Paths.LogFile
	switch {
	case errors.Is(err, platform.ErrServiceNotInstalled) || (err == nil && !st.Installed):
		return Failed(env.Platform.Service+" is not registered as a service", repairFix+": it registers and starts the service")
	case err != nil:
		return Failed(fmt.Sprintf("the service manager cannot tell the state of %s: %v", env.Platform.Service, err),
			"check the service manager ('systemctl status "+env.Platform.Service+"')")
	}
	out := func(o Outcome) Outcome {
		return o.With("active", st.Active).With("sub", st.Sub).With("pid", st.PID).With("restarts", st.Restarts)
	}
	switch {
	case !st.Running():
		return out(Failed(fmt.Sprintf("%s is not running (state %s/%s)", env.Platform.Service, st.Active, st.Sub),
			"start it with 'adldapctl service start'; if it stops again, "+logHint))
	case st.Restarts >= 3:
		return out(Failed(fmt.Sprintf("%s is restart-looping: restarted %d times", env.Platform.Service, st.Restarts),
			logHint+" for why the connector exits (a bad config.json value, clock skew above 5 s, an unreachable tenant); then 'adldapctl service restart'"))
	case st.Restarts > 0:
		return out(Warned(fmt.Sprintf("%s is running but has restarted %d time(s)", env.Platform.Service, st.Restarts), logHint+" for why the connector exited"))
	}
	return out(Passed(fmt.Sprintf("%s is running (pid %d)", env.Platform.Service, st.PID)))
}

func checkVersionCurrent(_ context.Context, env *Env) Outcome {
	rec, err := env.record()
	if err != nil || rec == nil {
		return Skipped("the installed version is unknown (no install record; see install.files)")
	}
	if env.LatestVersion == nil {
		return Skipped("no release feed to compare with")
	}
	latest, err := env.LatestVersion()
	if err != nil {
		return Skipped(fmt.Sprintf("the release feed cannot be reached: %v", err)).With("installed", rec.Version)
	}
	iv, err1 := updater.ParseVersion(rec.Version)
	lv, err2 := updater.ParseVersion(latest)
	if err := errors.Join(err1, err2); err != nil {
		return Skipped(fmt.Sprintf("cannot compare versions: %v", err))
	}
	o := func(x Outcome) Outcome { return x.With("installed", rec.Version).With("latest", latest) }
	if updater.IsNewer(lv, iv) {
		return o(Warned(fmt.Sprintf("connector %s is installed; %s is available", rec.Version, latest),
			"run 'adldapctl update' (health-gated, rolls back on failure)"))
	}
	return o(Passed(fmt.Sprintf("connector %s is the latest release", rec.Version)))
}

func checkNodeRuntime(ctx context.Context, env *Env) Outcome {
	if env.Platform.OS == "windows" {
		return Skipped("on Windows the connector runs the node.exe its installer ships")
	}
	node := env.Platform.NodePath
	if rec, _ := env.record(); rec != nil && rec.Node != "" && filepath.IsAbs(rec.Node) {
		if _, err := os.Stat(rec.Node); err == nil {
			node = rec.Node
		}
	}
	pkg, err := connector.ReadPackage(filepath.Join(env.Platform.Paths.InstallDir, "package.json"))
	if err != nil {
		return Failed(fmt.Sprintf("the connector's package.json cannot be read: %v", err), repairFix)
	}
	need := pkg.EnginesNode
	if node == "" {
		return Failed("node is not on PATH", fmt.Sprintf("install Node.js %s (NodeSource or your distro), or give its path with 'adldapctl install --node PATH'", orAny(need))).
			With("engines_node", need)
	}
	v, err := env.nodeVersion(ctx, node)
	if err != nil {
		return Failed(fmt.Sprintf("%s --version failed: %v", node, err), "reinstall Node.js "+orAny(need)).With("node", node)
	}
	o := func(x Outcome) Outcome { return x.With("node", node).With("version", v).With("engines_node", need) }
	if err := installer.CheckNodeEngine(v, need); err != nil {
		var ne *installer.NodeEngineError
		fix := "install Node.js " + orAny(need) + ", then 'adldapctl install --node PATH' so the service uses it"
		if errors.As(err, &ne) && ne.Install != "" {
			fix = "install " + ne.Install + ", then 'adldapctl install --node PATH' so the service uses it"
		}
		return o(Failed(fmt.Sprintf("%s is %s; the connector needs node %s", node, v, orAny(need)), fix))
	}
	return o(Passed(fmt.Sprintf("%s %s satisfies engines.node %s", node, v, orAny(need))))
}

func orAny(r string) string {
	if r == "" {
		return "(any version)"
	}
	return r
}

// downloadAllowance is what a connector download and its unpacked tree
// need beside the installed size.
const downloadAllowance = 200 << 20

func checkDiskSpace(_ context.Context, env *Env) Outcome {
	dir := env.Platform.Paths.InstallDir
	var size int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if i, err := d.Info(); err == nil {
				size += i.Size()
			}
		}
		return nil
	})
	need := size + downloadAllowance
	parent := filepath.Dir(dir)
	if _, err := os.Stat(parent); err != nil {
		return Skipped(parent + " does not exist")
	}
	err := env.freeSpace(parent, need)
	mb := func(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }
	o := func(x Outcome) Outcome {
		return x.With("dir", parent).With("needed_bytes", need).With("installed_bytes", size)
	}
	switch {
	case errors.Is(err, updater.ErrNoSpace):
		return o(Failed(fmt.Sprintf("%s has too little room for another version: %v", parent, err),
			fmt.Sprintf("free at least %s on the file system of %s (old logs, package caches), then 'adldapctl update'", mb(need), parent)))
	case err != nil:
		return o(Warned(fmt.Sprintf("free space on %s cannot be determined: %v", parent, err), "check it with 'df -h "+parent+"'"))
	}
	return o(Passed(fmt.Sprintf("%s has room for another version (%s needed)", parent, mb(need))))
}

// defaultGroupsCache is the connector's GROUPS_CACHE_SECONDS default.
const defaultGroupsCache = 600

func checkCacheGroups(_ context.Context, env *Env) Outcome {
	if env.Config == nil {
		return Skipped("config.json is not readable (see config.valid)")
	}
	raw, ok := env.Config.Raw("GROUPS_CACHE_SECONDS")
	if !ok {
		return Passed(fmt.Sprintf("GROUPS_CACHE_SECONDS is not set: the default %d s applies (a change of a user's groups in AD shows at login within 10 minutes)", defaultGroupsCache)).
			With("seconds", defaultGroupsCache)
	}
	n, err := strconv.Atoi(strings.Trim(string(raw), `"`))
	fix := "set GROUPS_CACHE_SECONDS in config.json to a number of seconds (default 600), then 'adldapctl service restart'"
	switch {
	case err != nil || n < 0:
		return Failed(fmt.Sprintf("GROUPS_CACHE_SECONDS is %s, not a number of seconds", string(raw)), fix)
	case n == 0:
		return Warned("GROUPS_CACHE_SECONDS is 0: the group cache is off, so every login queries AD for the user's groups (slower logins, more load on the domain controllers)", fix).With("seconds", n)
	case n > 86400:
		return Warned(fmt.Sprintf("GROUPS_CACHE_SECONDS is %d (%.1f days): a change of a user's groups in AD takes that long to show at login", n, float64(n)/86400), fix).With("seconds", n)
	}
	return Passed(fmt.Sprintf("GROUPS_CACHE_SECONDS is %d: a user's groups are read from AD at most every %d s (a change shows at login within that time)", n, n)).With("seconds", n)
}

func checkKerberos(_ context.Context, env *Env) Outcome {
	if env.Config == nil {
		return Skipped("config.json is not readable (see config.valid)")
	}
	on := func(k string) (bool, string, bool) {
		raw, ok := env.Config.Raw(k)
		if !ok {
			return false, "", true
		}
		switch v := strings.ToLower(strings.Trim(string(raw), `"`)); v {
		case "false", "", "null", "0":
			return false, string(raw), true
		case "true", "1":
			return true, string(raw), true
		default:
			return false, string(raw), false
		}
	}
	kerb, raw, ok := on("KERBEROS_AUTH")
	restart := "then 'adldapctl service restart'"
	if !ok {
		return Failed(fmt.Sprintf("KERBEROS_AUTH is %s: give true or false", raw),
			"set \"KERBEROS_AUTH\": true (or false) in config.json, "+restart)
	}
	if !kerb {
		return Skipped("KERBEROS_AUTH is off")
	}
	hint := "to watch the negotiation, run the service with DEBUG=kerberos-server and read " + env.Platform.Paths.LogFile
	if u := env.Config.String("KERBEROS_DEBUG_USER"); u != "" {
		return Failed("KERBEROS_DEBUG_USER is set: every request to the connector's web endpoint is taken as that user, without any Kerberos ticket",
			"remove KERBEROS_DEBUG_USER from config.json (it is for debugging only), "+restart).With("debug_user", u)
	}
	if env.Platform.OS != "windows" {
		if front, _, _ := on("WITH_KERBEROS_PROXY_FRONTEND"); front {
			return Passed("KERBEROS_AUTH is on behind a Kerberos proxy front end (WITH_KERBEROS_PROXY_FRONTEND): the front end negotiates and passes the user in X-Forwarded-User; make sure only it can reach the connector's PORT (" + hint + ")")
		}
		return Warned("KERBEROS_AUTH is on, but outside Windows the connector only serves Kerberos behind a proxy front end: it logs \"this platform doesn't support it\" and users get the login form",
			"run the connector on a domain-joined Windows server for Kerberos, or put a Kerberos-negotiating proxy in front and set WITH_KERBEROS_PROXY_FRONTEND, or set KERBEROS_AUTH to false; "+hint)
	}
	return Passed("KERBEROS_AUTH is on; the connection's IP ranges in the Auth0 dashboard decide which users get Kerberos (" + hint + ")")
}

func checkProxy(_ context.Context, env *Env) Outcome {
	var raw, from, cfgVal string
	if env.Config != nil {
		cfgVal = env.Config.String(connector.ProxyKey)
	}
	switch {
	case env.ServiceEnv[connector.ProxyKey] != "":
		raw, from = env.ServiceEnv[connector.ProxyKey], "the service environment"
	case cfgVal != "":
		raw, from = cfgVal, "config.json"
	default:
		return Passed("no proxy: the connector connects directly").With("source", "none")
	}
	shown := redact.URL(raw)
	o := func(x Outcome) Outcome {
		x = x.With("proxy", shown).With("source", strings.TrimPrefix(from, "the "))
		if from == "the service environment" && cfgVal != "" && cfgVal != raw {
			x = x.With("overridden_config_json", redact.URL(cfgVal))
		}
		return x
	}
	u, err := connector.ParseProxy(raw)
	switch {
	case errors.Is(err, connector.ErrPACProxy):
		return o(Failed(fmt.Sprintf("the proxy %s (from %s) is a PAC/WPAD script", shown, from), connector.PACAdvice+", with 'adldapctl proxy set http://host:port'"))
	case err != nil:
		return o(Failed(fmt.Sprintf("the proxy from %s cannot be used: %v (the connector would silently connect directly)", from, err),
			"set a valid one with 'adldapctl proxy set http://[user:password@]host:port' (percent-encode special characters in the password)"))
	}
	diag := fmt.Sprintf("proxy %s from %s", shown, from)
	if from == "the service environment" && cfgVal != "" && cfgVal != raw {
		diag += fmt.Sprintf(" (it overrides %s in config.json)", redact.URL(cfgVal))
	}
	if u.User != nil {
		return o(Warned(diag+"; it carries credentials, which the connector's tunnel agent may not send (it passes only host and port)",
			"if the connector's log shows proxy 407 errors, let the proxy admit this server without authentication, then 'adldapctl proxy set http://host:port'"))
	}
	return o(Passed(diag))
}
