package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
)

// ErrDependencies wraps a failed npm install.
var ErrDependencies = errors.New("installing the connector's dependencies failed")

// ErrNoNode is wrapped when node cannot be found or run.
var ErrNoNode = errors.New("node not found")

// nodeVersion runs `node --version`.
func (in *Installer) nodeVersion(ctx context.Context) (string, error) {
	node := in.p.NodePath
	if node == "" {
		return "", fmt.Errorf("%w on PATH: install Node.js (the version the release's engines.node asks for) and run again; under sudo, PATH is trimmed: pass --node PATH", ErrNoNode)
	}
	var out bytes.Buffer
	if err := in.run.Run(ctx, &Command{Path: node, Args: []string{"--version"}, Stdout: &out}); err != nil {
		return "", fmt.Errorf("%w: %s --version: %v", ErrNoNode, node, err)
	}
	return strings.TrimSpace(out.String()), nil
}

// npmInstall installs production dependencies in dir: `npm ci --omit=dev`
// with a lockfile, `npm install --omit=dev` without, with the proxy and CA
// settings the connector uses. Output goes to logPath; an error quotes its
// tail with secrets scrubbed.
func (in *Installer) npmInstall(ctx context.Context, dir string, pj *connector.Package, logPath string) error {
	n := npmRun{run: in.run, logf: in.logf, proxy: in.o.Proxy, caFiles: in.o.CAFiles,
		caBundle: filepath.Join(in.p.Paths.StateDir, "npm-ca.pem"), untouched: "The install folder was not touched."}
	return n.install(ctx, dir, pj, logPath)
}

// npmRun is one npm install: for a transaction's staged tree, or for a
// bundle mirror build makes.
type npmRun struct {
	run       Runner
	logf      func(format string, args ...any)
	proxy     string
	caFiles   []string
	caBundle  string // where several --ca-file are joined for node
	untouched string // what a failure left alone, for the message
}

func (n npmRun) install(ctx context.Context, dir string, pj *connector.Package, logPath string) error {
	npm, err := n.run.LookPath("npm")
	if err != nil {
		if len(pj.Dependencies) == 0 {
			n.logf("npm not found; release has no dependencies, skipping")
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
	n.logf("running npm %s", strings.Join(args, " "))
	cmd := &Command{Path: npm, Args: args, Dir: dir}
	cmd.Env = append(os.Environ(), "NODE_ENV=production", "npm_config_update_notifier=false")
	if n.proxy != "" {
		cmd.Env = append(cmd.Env, "HTTP_PROXY="+n.proxy, "HTTPS_PROXY="+n.proxy,
			"npm_config_proxy="+n.proxy, "npm_config_https_proxy="+n.proxy)
	}
	if len(n.caFiles) > 0 {
		// Node takes one extra-CA file: give it all of them in one bundle.
		bundle, err := caBundle(n.caFiles, n.caBundle)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrDependencies, err)
		}
		cmd.Env = append(cmd.Env, "NODE_EXTRA_CA_CERTS="+bundle)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := n.run.Run(ctx, cmd)
	scrub := connector.NewScrubber(nil, n.proxy)
	if err := writeOwnFile(logPath, []byte(scrub.Scrub(out.String()))); err != nil {
		return fmt.Errorf("%w: write %s: %v", ErrDependencies, logPath, err)
	}
	if runErr != nil {
		culprit, lines := npmSummary(scrub.Scrub(out.String()))
		what := ""
		if culprit != "" {
			what = " could not fetch " + culprit
		}
		return fmt.Errorf("%w: npm %s%s (%v)\n  %s\n(full output in %s). %s If this server reaches the npm registry or GitHub only through a proxy, pass --proxy URL (and --ca-file for an intercepting proxy), or set npm's registry/proxy in /root/.npmrc",
			ErrDependencies, verb, what, runErr, strings.Join(lines, "\n  "), logPath, n.untouched)
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

// writeOwnFile replaces a file in adldapctl's state folder (mode 0600),
// never writing through a link planted there.
func writeOwnFile(path string, data []byte) error {
	if err := platform.EnsureOwnDir(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := platform.OpenOwnFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	return errors.Join(werr, f.Chmod(0o600), f.Close())
}
