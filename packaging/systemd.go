package packaging

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"time"
)

// UnitConfig describes the connector's systemd service.
type UnitConfig struct {
	Description  string
	Exec         string   // absolute path of node
	Args         []string // e.g. ["server.js"]
	WorkingDir   string
	LogFile      string // stdout and stderr are appended here
	RestartDelay time.Duration
	Env          map[string]string
	// EnvFiles are read by systemd before the service starts; a leading
	// "-" makes a missing file no error.
	EnvFiles []string
}

// Each directive has its own quoting (systemd.syntax(7), systemd.exec(7)):
// %-specifiers are expanded everywhere, so a literal % is %% in every
// value; ExecStart= also expands $VAR, so a literal $ is $$ there and only
// there, and its words are split at spaces unless "quoted" with C escapes;
// Environment= takes "quoted" KEY=value words with C escapes and no $
// expansion; paths (WorkingDirectory=, EnvironmentFile=,
// StandardOutput=append:) are taken as the rest of the line, unquoted.
var unitTmpl = template.Must(template.New("unit").Funcs(template.FuncMap{
	"exec": execWord, "execPath": execPath, "path": pathValue, "text": specifierEscape,
}).Parse(`# Managed by adldapctl: changes here are replaced by "adldapctl install".
[Unit]
Description={{text .Description}}
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
WorkingDirectory={{path .WorkingDir}}
ExecStart={{execPath .Exec}}{{range .Args}} {{exec .}}{{end}}
Restart=always
RestartSec={{.RestartSecs}}
{{- range .EnvLines}}
Environment={{.}}
{{- end}}
{{- range .EnvFiles}}
EnvironmentFile={{path .}}
{{- end}}
StandardOutput=append:{{path .LogFile}}
StandardError=append:{{path .LogFile}}
UMask=0077

[Install]
WantedBy=multi-user.target
`))

// RenderSystemdUnit returns the unit file for c.
func RenderSystemdUnit(c UnitConfig) ([]byte, error) {
	if c.Exec == "" || c.WorkingDir == "" || c.LogFile == "" {
		return nil, fmt.Errorf("systemd unit: Exec, WorkingDir and LogFile are required")
	}
	for _, s := range append([]string{c.Description, c.Exec}, c.Args...) {
		if strings.ContainsAny(s, "\n\r") {
			return nil, fmt.Errorf("systemd unit: value %q contains a line break", s)
		}
	}
	for _, s := range append([]string{c.WorkingDir, c.LogFile}, c.EnvFiles...) {
		if err := checkPathValue(s); err != nil {
			return nil, fmt.Errorf("systemd unit: %w", err)
		}
	}
	rs := c.RestartDelay
	if rs <= 0 {
		rs = 5 * time.Second
	}
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var env []string
	for _, k := range keys {
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("systemd unit: bad environment variable name %q", k)
		}
		if strings.ContainsAny(c.Env[k], "\n\r") {
			return nil, fmt.Errorf("systemd unit: environment %s contains a line break", k)
		}
		env = append(env, envWord(k, c.Env[k]))
	}
	var b bytes.Buffer
	err := unitTmpl.Execute(&b, struct {
		UnitConfig
		RestartSecs string
		EnvLines    []string
	}{c, fmt.Sprintf("%g", rs.Seconds()), env})
	return b.Bytes(), err
}

// specifierEscape doubles % (systemd expands %-specifiers in every value).
func specifierEscape(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// execWord quotes one ExecStart= word: "..." with C escapes when it holds
// a space, quote, backslash or ;, and $ doubled (ExecStart= expands $VAR).
func execWord(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return strings.NewReplacer(`$`, `$$`, `%`, `%%`).Replace(s)
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`, `%`, `%%`)
	return `"` + r.Replace(s) + `"`
}

// execPath renders ExecStart='s executable. systemd expands $VAR in the
// arguments, argv[0] included, but runs the path as written: a $ in it
// stays single, and then argv[0] is given separately ("@path argv0") with
// its $ doubled.
func execPath(s string) string {
	if !strings.Contains(s, "$") {
		return execWord(s)
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`)
	return `@"` + r.Replace(s) + `" ` + execWord(s)
}

// envWord renders one Environment= assignment: "KEY=value" with C
// escapes when the value needs quoting; $ is literal there.
func envWord(k, v string) string {
	w := k + "=" + v
	if v != "" && !strings.ContainsAny(v, " \t\"'\\") {
		return specifierEscape(w)
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`)
	return `"` + r.Replace(w) + `"`
}

// pathValue renders a path directive's value, taken verbatim to the end
// of the line apart from %-specifiers.
func pathValue(s string) string { return specifierEscape(s) }

// checkPathValue refuses what a path directive cannot carry: a line
// break, a trailing backslash (it would continue the line) or space (it
// is trimmed), and a relative path.
func checkPathValue(s string) error {
	p := strings.TrimPrefix(s, "-")
	switch {
	case strings.ContainsAny(s, "\n\r"):
		return fmt.Errorf("value %q contains a line break", s)
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("path %q is not absolute", s)
	case strings.HasSuffix(s, "\\"), strings.TrimRight(s, " \t") != s:
		return fmt.Errorf("path %q ends in a backslash or a space, which a unit file cannot hold", s)
	}
	return nil
}

// RenderDropIn returns a drop-in for the connector's unit that makes
// systemd read envFile (mode 0600, see RenderEnvFile) into the service's
// environment. Values that may hold a password stay out of the unit
// files, which every user can read (systemctl cat).
func RenderDropIn(envFile string) ([]byte, error) {
	if err := checkPathValue(envFile); err != nil {
		return nil, fmt.Errorf("systemd drop-in: %w", err)
	}
	return []byte(`# Managed by adldapctl ("adldapctl proxy set" / "adldapctl proxy clear").
# The values, which may hold a password, are in the root-only file below.
[Service]
EnvironmentFile=` + pathValue(envFile) + "\n"), nil
}

// RenderEnvFile returns an environment file that systemd's
// EnvironmentFile= and sh's "." both read the same way: one KEY="value"
// per line, with \, ", $ and ` escaped by a backslash.
func RenderEnvFile(env map[string]string) ([]byte, error) {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("# Managed by adldapctl. Mode 0600: it may hold a proxy password.\n")
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`")
	for _, k := range keys {
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("environment file: bad variable name %q", k)
		}
		if strings.ContainsAny(env[k], "\n\r\x00") {
			return nil, fmt.Errorf("environment file: %s contains a line break", k)
		}
		fmt.Fprintf(&b, "%s=\"%s\"\n", k, r.Replace(env[k]))
	}
	return b.Bytes(), nil
}

// RenderLogrotate returns a logrotate snippet for the connector's log. The
// service appends to the file, so copytruncate keeps its open handle valid.
func RenderLogrotate(logFile string) []byte {
	return []byte(fmt.Sprintf(`# Managed by adldapctl.
%s {
	weekly
	rotate 8
	maxsize 10M
	missingok
	notifempty
	compress
	delaycompress
	copytruncate
	create 0640 root adm
}
`, logFile))
}

// ParseEnvFile reads what RenderEnvFile wrote (and the simple KEY=value,
// KEY="value" and KEY='value' lines an admin might add): comments and
// blank lines are skipped; in "..." a backslash escapes \, ", $ and `.
func ParseEnvFile(data []byte) (map[string]string, error) {
	env := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || !envName.MatchString(strings.TrimSpace(k)) {
			return nil, fmt.Errorf("environment file line %d: not KEY=value", i+1)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
			var b strings.Builder
			in := v[1 : len(v)-1]
			for j := 0; j < len(in); j++ {
				if in[j] == '\\' && j+1 < len(in) && strings.IndexByte("\\\"$`", in[j+1]) >= 0 {
					j++
				}
				b.WriteByte(in[j])
			}
			v = b.String()
		}
		env[k] = v
	}
	return env, nil
}
