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
}

var unitTmpl = template.Must(template.New("unit").Funcs(template.FuncMap{
	"q": systemdQuote,
}).Parse(`# Managed by adldapctl: changes here are replaced by "adldapctl install".
[Unit]
Description={{.Description}}
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
WorkingDirectory={{.WorkingDir}}
ExecStart={{q .Exec}}{{range .Args}} {{q .}}{{end}}
Restart=always
RestartSec={{.RestartSecs}}
{{- range .EnvLines}}
Environment={{.}}
{{- end}}
StandardOutput=append:{{.LogFile}}
StandardError=append:{{.LogFile}}
UMask=0077

[Install]
WantedBy=multi-user.target
`))

// RenderSystemdUnit returns the unit file for c.
func RenderSystemdUnit(c UnitConfig) ([]byte, error) {
	if c.Exec == "" || c.WorkingDir == "" || c.LogFile == "" {
		return nil, fmt.Errorf("systemd unit: Exec, WorkingDir and LogFile are required")
	}
	for _, s := range append([]string{c.Description, c.Exec, c.WorkingDir, c.LogFile}, c.Args...) {
		if strings.ContainsAny(s, "\n\r") {
			return nil, fmt.Errorf("systemd unit: value %q contains a line break", s)
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
		if strings.ContainsAny(k+c.Env[k], "\n\r") {
			return nil, fmt.Errorf("systemd unit: environment %s contains a line break", k)
		}
		env = append(env, systemdQuote(k+"="+c.Env[k]))
	}
	var b bytes.Buffer
	err := unitTmpl.Execute(&b, struct {
		UnitConfig
		RestartSecs string
		EnvLines    []string
	}{c, fmt.Sprintf("%g", rs.Seconds()), env})
	return b.Bytes(), err
}

// systemdQuote quotes a word for ExecStart/Environment when it needs it.
func systemdQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\$%;") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`, `%`, `%%`)
	return `"` + r.Replace(s) + `"`
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
