package updater

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/adldapctl/adldapctl/internal/redact"
)

// ClientOptions configures NewHTTPClient.
type ClientOptions struct {
	// ProxyURL, when set, is used for every request, loopback included
	// (http://, https:// or socks5:// with optional user:password). When
	// empty the proxy comes from HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
	ProxyURL string
	// CAFiles are PEM (or DER) certificate files trusted in addition to
	// the system roots.
	CAFiles []string
	// Timeout bounds connecting, the TLS handshake and the wait for
	// response headers. It does not bound reading the body, which for an
	// artifact can legitimately take long: use a context for that. Zero
	// means 30 seconds.
	Timeout time.Duration
}

// NewHTTPClient returns a client for feeds and downloads that uses the
// given proxy and extra CAs. Invalid proxy settings are errors, never a
// silent fallback to a direct connection, and no error shows a password.
func NewHTTPClient(o ClientOptions) (*http.Client, error) {
	proxy, err := proxyFunc(o.ProxyURL)
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(o.CAFiles) > 0 {
		pool, err := certPool(o.CAFiles)
		if err != nil {
			return nil, err
		}
		tlsConf.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = proxy
	tr.OnProxyConnectResponse = onProxyConnectResponse
	tr.TLSClientConfig = tlsConf
	tr.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = timeout
	tr.ResponseHeaderTimeout = timeout
	return &http.Client{Transport: tr}, nil
}

// ParseProxyURL validates a proxy URL the way the connector and adldapctl
// need it: it must parse (a bad %-escape in the password is an error, not a
// silent direct connection), have an http, https, socks5 or socks5h
// scheme and a host, and not be a .pac script. Errors never show the
// password.
func ParseProxyURL(s string) (*url.URL, error) {
	red := redact.URL(s)
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty proxy URL: use http://host:port")
	}
	if !hasScheme(s) {
		return nil, fmt.Errorf("proxy URL %s has no scheme: use http://host:port (or https://, socks5://)", red)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("proxy URL %s cannot be parsed: %s", red, parseErrorReason(err))
	}
	if strings.HasSuffix(strings.ToLower(u.Path), ".pac") {
		return nil, fmt.Errorf("proxy URL %s is a PAC script: neither the connector nor adldapctl can use .pac files; give the proxy's own address, such as http://proxy.example:3128", red)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("proxy URL %s has unsupported scheme %q: use http://, https:// or socks5://", red, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("proxy URL %s has no host: use http://host:port", red)
	}
	return u, nil
}

func proxyFunc(explicit string) (func(*http.Request) (*url.URL, error), error) {
	if explicit != "" {
		u, err := ParseProxyURL(explicit)
		if err != nil {
			return nil, err
		}
		// Unlike the environment proxy, an explicit proxy applies to
		// loopback targets too.
		return http.ProxyURL(u), nil
	}
	cfg := httpproxy.FromEnvironment()
	for _, e := range []struct{ name, val string }{{"HTTPS_PROXY", cfg.HTTPSProxy}, {"HTTP_PROXY", cfg.HTTPProxy}} {
		if e.val == "" {
			continue
		}
		v := e.val
		if !hasScheme(v) {
			v = "http://" + v // as Go does for scheme-less values
		}
		if _, err := ParseProxyURL(v); err != nil {
			return nil, fmt.Errorf("%s environment variable: %w", e.name, err)
		}
	}
	pf := cfg.ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return pf(r.URL) }, nil
}

func certPool(files []string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		n := 0
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("CA file %s: %w", f, err)
			}
			pool.AddCert(c)
			n++
		}
		if n == 0 {
			certs, err := x509.ParseCertificates(data) // DER (.cer)
			if err != nil || len(certs) == 0 {
				return nil, fmt.Errorf("CA file %s: no certificates found (expected PEM or DER)", f)
			}
			for _, c := range certs {
				pool.AddCert(c)
			}
		}
	}
	return pool, nil
}
