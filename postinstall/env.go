package postinstall

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// Env is what the checks read: the platform, the connector's config and
// the seams tests replace. Checks never write.
type Env struct {
	Platform *platform.Platform
	// Config is config.json as read (nil when missing or broken; ConfigErr
	// then says why).
	Config    *connector.Config
	ConfigErr error
	// Services reports the connector's service (nil: Platform.Services()).
	Services platform.ServiceManager
	// HTTPClient is used for feed lookups (version.current); the tenant
	// checks build their own transport from the connector's proxy.
	HTTPClient *http.Client
	// LatestVersion, when set, returns the newest release (version.current).
	LatestVersion func() (string, error)
	// Resolver is a DNS server "host:port" for SRV lookups ("" the
	// system's).
	Resolver string
	// NTPServer is the SNTP server for clock.skew ("" none).
	NTPServer string
	// ServiceEnv is the connector's service environment (HTTP_PROXY there
	// beats config.json).
	ServiceEnv map[string]string
	// CAFiles are extra trusted roots (tests); the checks otherwise trust
	// what the connector trusts.
	CAFiles []string
	Now     func() time.Time

	// NodeVersion runs `<node> --version` (nil: the real process); tests
	// fake it.
	NodeVersion func(ctx context.Context, node string) (string, error)
	// FreeSpace checks that dir's file system has need bytes free (nil:
	// updater.CheckFreeSpace).
	FreeSpace func(dir string, need int64) error

	scrubOnce sync.Once
	scrubber  *connector.Scrubber
}

// scrub removes secrets from a result: every config.json secret and the
// proxy password, wherever a check may have quoted them.
func (e *Env) scrub(r *Result) {
	// Checks finish concurrently: the scrubber is built once.
	e.scrubOnce.Do(func() {
		e.scrubber = connector.NewScrubber(e.Config, proxyPassword(e.ServiceEnv[connector.ProxyKey]))
	})
	s := e.scrubber
	r.Diagnosis, r.Remediation = s.Scrub(r.Diagnosis), s.Scrub(r.Remediation)
	for k, v := range r.Detail {
		if str, ok := v.(string); ok {
			r.Detail[k] = s.Scrub(str)
		}
		if strings.Contains(strings.ToLower(k), "password") || connector.IsSecretKey(k) {
			r.Detail[k] = "[redacted]"
		}
	}
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// LoadConfig reads config.json from p into e.Config (nil and ConfigErr set
// when it is missing or broken).
func (e *Env) LoadConfig() {
	cfg, err := connector.ReadConfig(e.Platform.Paths.ConfigFile)
	if err != nil {
		e.Config, e.ConfigErr = nil, err
		return
	}
	e.Config, e.ConfigErr = cfg, nil
}

func (e *Env) services() platform.ServiceManager {
	if e.Services != nil {
		return e.Services
	}
	return e.Platform.Services()
}

func (e *Env) nodeVersion(ctx context.Context, node string) (string, error) {
	if e.NodeVersion != nil {
		return e.NodeVersion(ctx, node)
	}
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return "", errors.New(strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func (e *Env) freeSpace(dir string, need int64) error {
	if e.FreeSpace != nil {
		return e.FreeSpace(dir, need)
	}
	return updater.CheckFreeSpace(dir, need)
}

// record reads adldapctl's install record (nil when there is none).
func (e *Env) record() (*connector.InstallRecord, error) {
	r, err := connector.ReadRecord(filepath.Join(e.Platform.Paths.StateDir, connector.RecordFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return r, err
}

// proxyPassword is the password inside a proxy URL ("" when none): only it
// is secret, the host stays visible.
func proxyPassword(p string) string {
	if u, err := url.Parse(p); err == nil && u.User != nil {
		pw, _ := u.User.Password()
		return pw
	}
	// Unparsable: take what lies between the first ':' after the scheme
	// and the last '@'.
	if _, rest, ok := strings.Cut(p, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				return pw
			}
		}
	}
	return ""
}
