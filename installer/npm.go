package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
)

// ErrDependencies wraps a failed npm install.
var ErrDependencies = errors.New("installing the connector's dependencies failed")

type packageJSON struct {
	Dependencies map[string]string `json:"dependencies"`
}

func readPackageJSON(dir string) (*packageJSON, error) {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, fmt.Errorf("release has no package.json (is this a connector source tarball?): %w", err)
	}
	b = bytes.TrimPrefix(b, connector.BOM)
	var pj packageJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return nil, fmt.Errorf("release package.json: %w", err)
	}
	return &pj, nil
}

// nodeVersion runs `node --version`.
func nodeVersion(ctx context.Context, node string) (string, error) {
	if node == "" {
		return "", errors.New("node not found on PATH: install Node.js (the version the release's engines.node asks for) and run again")
	}
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", node, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// npmInstall installs production dependencies in dir: `npm ci --omit=dev`
// with a lockfile, `npm install --omit=dev` without, with the proxy and CA
// settings the connector uses. Output goes to logPath; an error quotes its
// tail with secrets scrubbed.
func (in *Installer) npmInstall(ctx context.Context, dir string, pj *packageJSON, logPath string) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		if len(pj.Dependencies) == 0 {
			in.logf("npm not found; release has no dependencies, skipping")
			return nil
		}
		return fmt.Errorf("%w: npm not found on PATH: install npm (it ships with Node.js) and run again", ErrDependencies)
	}
	verb := "install"
	if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err == nil {
		verb = "ci"
	} else if _, err := os.Stat(filepath.Join(dir, "npm-shrinkwrap.json")); err == nil {
		verb = "ci"
	}
	args := []string{verb, "--omit=dev", "--no-audit", "--no-fund", "--loglevel=warn"}
	in.logf("running npm %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_ENV=production", "npm_config_update_notifier=false")
	if in.o.Proxy != "" {
		cmd.Env = append(cmd.Env, "HTTP_PROXY="+in.o.Proxy, "HTTPS_PROXY="+in.o.Proxy,
			"npm_config_proxy="+in.o.Proxy, "npm_config_https_proxy="+in.o.Proxy)
	}
	if len(in.o.CAFiles) > 0 {
		// Node takes one extra-CA file: give it all of them in one bundle.
		bundle, err := caBundle(in.o.CAFiles, filepath.Join(in.p.Paths.StateDir, "npm-ca.pem"))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrDependencies, err)
		}
		cmd.Env = append(cmd.Env, "NODE_EXTRA_CA_CERTS="+bundle)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	os.MkdirAll(filepath.Dir(logPath), 0o755)
	scrub := connector.NewScrubber(nil, in.o.Proxy)
	os.WriteFile(logPath, []byte(scrub.Scrub(out.String())), 0o600)
	if runErr != nil {
		culprit, lines := npmSummary(scrub.Scrub(out.String()))
		what := ""
		if culprit != "" {
			what = " could not fetch " + culprit
		}
		return fmt.Errorf("%w: npm %s%s (%v)\n  %s\n(full output in %s). The install folder was not touched. If this server reaches the npm registry or GitHub only through a proxy, pass --proxy URL (and --ca-file for an intercepting proxy), or set npm's registry/proxy in /root/.npmrc",
			ErrDependencies, verb, what, runErr, strings.Join(lines, "\n  "), logPath)
	}
	return nil
}

var (
	npmURLRe     = regexp.MustCompile(`(?:request to|GET|fetch(?:ing)?)\s+(\S+?)(?:\s+failed|\s|,|$)`)
	npmGitRe     = regexp.MustCompile(`((?:git\+)?(?:ssh|https?)://git@?\S+|git@github\.com:\S+)`)
	npmNoMatchRe = regexp.MustCompile(`No matching version found for (\S+)`)
	npmReasonRe  = regexp.MustCompile(`(?i)(npm (?:error|ERR!) code|FetchError|E404|404 Not Found|notarget|ENOTFOUND|ETIMEDOUT|ECONNREFUSED|ECONNRESET|EAI_AGAIN|certificate|CERT_|SELF_SIGNED|UNABLE_TO_|git dep|Permission denied \(publickey\)|Could not read from remote|ERESOLVE|EBADENGINE|EACCES|ENOSPC)`)
)

// npmSummary picks out of npm's output the dependency it could not fetch
// and the lines that say why (not the stack trace).
func npmSummary(out string) (culprit string, lines []string) {
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.Contains(t, "    at ") || strings.HasPrefix(strings.TrimPrefix(strings.TrimPrefix(t, "npm error"), "npm ERR!"), "     at") {
			continue
		}
		if culprit == "" {
			for _, re := range []*regexp.Regexp{npmNoMatchRe, npmGitRe, npmURLRe} {
				if m := re.FindStringSubmatch(t); m != nil {
					culprit = strings.TrimRight(m[1], ".,;:'\"")
					break
				}
			}
		}
		if npmReasonRe.MatchString(t) && len(lines) < 6 {
			lines = append(lines, t)
		}
	}
	if len(lines) == 0 {
		all := strings.Split(strings.TrimSpace(out), "\n")
		if len(all) > 8 {
			all = all[len(all)-8:]
		}
		lines = all
	}
	return culprit, lines
}

// caBundle concatenates PEM files into one at dst (or returns the only one).
func caBundle(files []string, dst string) (string, error) {
	if len(files) == 1 {
		return files[0], nil
	}
	var all bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("--ca-file: %w", err)
		}
		all.Write(bytes.TrimSpace(b))
		all.WriteString("\n")
	}
	return dst, platform.WriteFileAtomic(dst, all.Bytes(), 0o644)
}
