package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults of the sample connector and of the real admin UI.
const (
	defaultPort      = 38357
	defaultAdminPort = 8357
	maxFile          = 1 << 20 // bigger script, package.json or config.json is refused
)

// Stamp lines, as testfeed writes them into server.js and admin\server.js.
var (
	versionRe   = regexp.MustCompile(`(?m)^const VERSION = '([^'\r\n]*)';`)
	crashRe     = regexp.MustCompile(`(?m)^const CRASH_ON_START = (true|false);`)
	adminPortRe = regexp.MustCompile(`(?m)^const ADMIN_PORT = ([0-9]+);`)
)

// app is what node.exe was asked to run.
type app struct {
	Admin   bool   // admin\server.js rather than server.js
	Root    string // install folder
	Script  string // absolute path of the script
	Version string
	Crash   bool
	Ticket  bool
	Port    int
	// Mapper is the profile mapper the connector loads ("" for the admin).
	Mapper string
}

// load resolves the script against cwd and reads the stamps, package.json
// and config.json. Errors say what is wrong without quoting file contents
// (config.json holds secrets).
func load(script, cwd string) (*app, error) {
	script = strings.Trim(strings.TrimSpace(script), `"`)
	if script == "" {
		return nil, errors.New("no script given (want server.js or admin\\server.js)")
	}
	if !filepath.IsAbs(script) {
		script = filepath.Join(cwd, script)
	}
	script = filepath.Clean(script)
	a := &app{Script: script, Root: filepath.Dir(script)}
	if !strings.EqualFold(filepath.Base(script), "server.js") {
		return nil, fmt.Errorf("%s: only server.js and admin\\server.js are known", script)
	}
	if strings.EqualFold(filepath.Base(a.Root), "admin") {
		a.Admin = true
		a.Root = filepath.Dir(a.Root)
	}
	src, err := readSmall(script)
	if err != nil {
		return nil, err
	}
	if m := versionRe.FindSubmatch(src); m != nil {
		a.Version = string(m[1])
	}
	if m := crashRe.FindSubmatch(src); m != nil && !a.Admin {
		a.Crash = string(m[1]) == "true"
	}
	if a.Version == "" {
		a.Version, err = packageVersion(filepath.Join(a.Root, "package.json"))
		if err != nil {
			return nil, err
		}
	}
	if a.Crash {
		return a, nil // crashes before reading its configuration, like the sample
	}
	cfg, err := readConfig(filepath.Join(a.Root, "config.json"))
	if err != nil {
		return nil, err
	}
	if s, ok := cfg["PROVISIONING_TICKET"].(string); ok {
		a.Ticket = s != ""
	} else {
		a.Ticket = os.Getenv("PROVISIONING_TICKET") != ""
	}
	if a.Admin {
		a.Port = defaultAdminPort
		if m := adminPortRe.FindSubmatch(src); m != nil {
			if a.Port, err = parsePort(string(m[1])); err != nil {
				return nil, fmt.Errorf("%s: ADMIN_PORT: %w", script, err)
			}
		}
		if raw, ok := cfg["ADMIN_PORT"]; ok {
			if a.Port, err = parsePort(raw); err != nil {
				return nil, fmt.Errorf("config.json ADMIN_PORT: %w", err)
			}
		}
		return a, nil
	}
	a.Port = defaultPort
	if raw, ok := cfg["PORT"]; ok && raw != nil && raw != "" {
		if a.Port, err = parsePort(raw); err != nil {
			return nil, fmt.Errorf("config.json PORT: %w", err)
		}
	} else if env := os.Getenv("PORT"); env != "" {
		if a.Port, err = parsePort(env); err != nil {
			return nil, fmt.Errorf("PORT variable: %w", err)
		}
	}
	a.Mapper = filepath.Join(a.Root, "lib", "profileMapper.js")
	if f, ok := cfg["PROFILE_MAPPER_FILE"].(string); ok && f != "" {
		a.Mapper = f
		if !filepath.IsAbs(f) {
			a.Mapper = filepath.Join(a.Root, f)
		}
	}
	if st, err := os.Stat(a.Mapper); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("cannot load profile mapper %s", a.Mapper)
	}
	return a, nil
}

func readSmall(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxFile)
	}
	return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), nil
}

func packageVersion(name string) (string, error) {
	b, err := readSmall(name)
	if err != nil {
		return "", err
	}
	var p struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.Version == "" {
		return "", fmt.Errorf("%s has no version", name)
	}
	return p.Version, nil
}

// readConfig reads config.json; a missing file is an empty configuration
// (an unprovisioned connector).
func readConfig(name string) (map[string]any, error) {
	b, err := readSmall(name)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil || cfg == nil {
		// No err text: it can quote the input, which may be a secret.
		return nil, fmt.Errorf("%s is not a JSON object", name)
	}
	return cfg, nil
}

func parsePort(raw any) (int, error) {
	var s string
	switch v := raw.(type) {
	case string:
		s = v
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return 0, fmt.Errorf("not a port number")
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return p, nil
}

// proxyVars names the proxy variables set in the environment, and says
// whether a proxy (HTTP_PROXY or HTTPS_PROXY) is among them.
func proxyVars() (names []string, proxy bool) {
	names = []string{}
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"} {
		if os.Getenv(k) != "" || os.Getenv(strings.ToLower(k)) != "" {
			names = append(names, k)
			proxy = proxy || k != "NO_PROXY"
		}
	}
	return names, proxy
}

// answer is the body of GET /.
type answer struct {
	Admin     bool     `json:"admin,omitempty"`
	Version   string   `json:"version"`
	Ticket    bool     `json:"ticket"`
	ProxyEnv  bool     `json:"proxy_env"`
	ProxyVars []string `json:"proxy_vars"`
	PID       int      `json:"pid"`
}

// handler answers like the sample connector (and the admin UI).
func (a *app) handler() http.Handler {
	vars, proxy := proxyVars() // read once at start, as the connector reads its settings
	body, _ := json.Marshal(answer{
		Admin:     a.Admin,
		Version:   a.Version,
		Ticket:    a.Ticket,
		ProxyEnv:  proxy,
		ProxyVars: vars,
		PID:       os.Getpid(),
	})
	body = append(body, '\n')
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not found"}` + "\n"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"error":"method not allowed"}` + "\n"))
			return
		}
		_, _ = w.Write(body)
	})
}

// listen binds 127.0.0.1:Port.
func (a *app) listen() (net.Listener, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	return ln, nil
}

func (a *app) server() *http.Server {
	return &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
}

func (a *app) name() string {
	if a.Admin {
		return "auth0-adldap sample admin " + a.Version
	}
	return "auth0-adldap sample connector " + a.Version
}

func fail(a *app, err error) int {
	who := "auth0-adldap sample connector"
	if a != nil {
		who = a.name()
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", who, err)
	return 1
}

// start loads the script and listens: the part that fails a start.
func start(script string) (*app, *http.Server, func() error, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := load(script, cwd)
	if err != nil {
		return a, nil, nil, err
	}
	if a.Crash {
		return a, nil, nil, errors.New("crashing on start (CrashOnStart sample)")
	}
	ln, err := a.listen()
	if err != nil {
		return a, nil, nil, err
	}
	srv := a.server()
	return a, srv, func() error { return srv.Serve(ln) }, nil
}

// console runs as nssm's child (or by hand) until killed or interrupted.
func console(script string) int {
	a, srv, serve, err := start(script)
	if err != nil {
		return fail(a, err)
	}
	fmt.Printf("%s listening on 127.0.0.1:%d\n", a.name(), a.Port)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return fail(a, err)
	case <-sig:
		fmt.Printf("%s stopping on interrupt\n", a.name())
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		return 0
	}
}
