package packaging

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"
)

// SysVConfig describes the connector's LSB init script for hosts whose init
// is SysV (Debian family: start-stop-daemon, update-rc.d).
type SysVConfig struct {
	Name        string // service and script name, e.g. auth0-adldap
	Description string
	Exec        string   // absolute path of node
	Args        []string // e.g. ["server.js"]
	WorkingDir  string
	LogFile     string // stdout and stderr are appended here
	PIDFile     string // e.g. /run/auth0-adldap.pid
	Env         map[string]string
	// EnvFile, when set, is sourced at start if it exists (KEY="value"
	// lines, see RenderEnvFile): the proxy set by "adldapctl proxy set".
	EnvFile string
}

var sysvTmpl = template.Must(template.New("sysv").Funcs(template.FuncMap{
	"q": shQuote,
}).Parse(`#!/bin/sh
# Managed by adldapctl: changes here are replaced by "adldapctl install".
### BEGIN INIT INFO
# Provides:          {{.Name}}
# Required-Start:    $remote_fs $network $syslog
# Required-Stop:     $remote_fs $network $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: {{.Description}}
### END INIT INFO

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
NAME={{q .Name}}
EXEC={{q .Exec}}
WORKDIR={{q .WorkingDir}}
LOGFILE={{q .LogFile}}
PIDFILE={{q .PIDFile}}
{{- range .EnvLines}}
export {{.}}
{{- end}}
{{- if .EnvFile}}
ENVFILE={{q .EnvFile}}
# Written by "adldapctl proxy set" (mode 0600): exported to the service.
if [ -r "$ENVFILE" ]; then
	set -a
	. "$ENVFILE"
	set +a
fi
{{- end}}

# start-stop-daemon exits 0 running, 1 dead with a pidfile, 3 not running.
status() {
	start-stop-daemon --status --pidfile "$PIDFILE" --exec "$EXEC"
}

do_start() {
	[ -d "$WORKDIR" ] || { echo "$NAME: $WORKDIR is missing" >&2; return 1; }
	# --output appends (O_APPEND): logrotate's copytruncate keeps it valid.
	start-stop-daemon --start --quiet --oknodo --background \
		--make-pidfile --pidfile "$PIDFILE" --chdir "$WORKDIR" --umask 077 \
		--output "$LOGFILE" --exec "$EXEC" --{{range .Args}} {{q .}}{{end}} || return
	# It returns once the child is forked, before it runs $EXEC: wait for
	# that (5 s at most), so a status right after start tells the truth.
	i=0
	while [ "$i" -lt 50 ]; do
		status >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "$NAME did not start: see $LOGFILE" >&2
	return 1
}

do_stop() {
	start-stop-daemon --stop --quiet --oknodo --retry=TERM/30/KILL/5 \
		--pidfile "$PIDFILE" --exec "$EXEC" --remove-pidfile
	rc=$?
	[ "$rc" -ne 0 ] || rm -f "$PIDFILE"
	return "$rc"
}

case "$1" in
start)
	echo "Starting $NAME"
	do_start
	;;
stop)
	echo "Stopping $NAME"
	do_stop
	;;
restart|force-reload)
	echo "Restarting $NAME"
	do_stop && do_start
	;;
status)
	status
	rc=$?
	case "$rc" in
	0) echo "$NAME is running (pid $(cat "$PIDFILE"))" ;;
	1) echo "$NAME is not running, but $PIDFILE exists (it exited)" ;;
	3) echo "$NAME is not running" ;;
	*) echo "$NAME: status unknown" ;;
	esac
	exit "$rc"
	;;
*)
	echo "Usage: /etc/init.d/$NAME {start|stop|restart|force-reload|status}" >&2
	exit 3
	;;
esac
`))

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
var scriptName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// RenderSysVInit returns the LSB init script for c. Every value is quoted
// for sh; a line break anywhere is refused.
func RenderSysVInit(c SysVConfig) ([]byte, error) {
	if c.Exec == "" || c.WorkingDir == "" || c.LogFile == "" || c.PIDFile == "" {
		return nil, fmt.Errorf("init script: Exec, WorkingDir, LogFile and PIDFile are required")
	}
	if !scriptName.MatchString(c.Name) {
		return nil, fmt.Errorf("init script: bad service name %q", c.Name)
	}
	for _, s := range append([]string{c.Description, c.Exec, c.WorkingDir, c.LogFile, c.PIDFile, c.EnvFile}, c.Args...) {
		if strings.ContainsAny(s, "\n\r") {
			return nil, fmt.Errorf("init script: value %q contains a line break", s)
		}
	}
	if c.Description == "" {
		c.Description = c.Name
	}
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var env []string
	for _, k := range keys {
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("init script: bad environment variable name %q", k)
		}
		if strings.ContainsAny(c.Env[k], "\n\r") {
			return nil, fmt.Errorf("init script: environment %s contains a line break", k)
		}
		env = append(env, k+"="+shQuote(c.Env[k]))
	}
	var b bytes.Buffer
	err := sysvTmpl.Execute(&b, struct {
		SysVConfig
		EnvLines []string
	}{c, env})
	return b.Bytes(), err
}

// shQuote quotes a word for sh when it needs it.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
