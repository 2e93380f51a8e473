package postinstall

import (
	"net/http"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
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

	scrubber *connector.Scrubber
}

// scrub removes secrets from a result: every config.json secret and the
// proxy password, wherever a check may have quoted them.
func (e *Env) scrub(r *Result) {
	if e.scrubber == nil {
		e.scrubber = connector.NewScrubber(e.Config, e.ServiceEnv["HTTP_PROXY"])
	}
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
