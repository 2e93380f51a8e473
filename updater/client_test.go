package updater

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseProxyURL(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr string // "" means valid
	}{
		{"http://proxy.example:3128", ""},
		{"http://user:s3cret@proxy.example:3128", ""},
		{"http://user:s3%40cret@proxy.example:3128", ""},
		{"https://proxy.example", ""},
		{"socks5://user:s3cret@127.0.0.1:1080", ""},
		{"socks5h://proxy.example:1080", ""},
		{"http://user:s3cret@proxy.example/wpad.pac", "PAC"},
		{"http://wpad.example/proxy.PAC", "PAC"},
		{"http://user:s3cret%zz@proxy.example:3128", "invalid %-escape"},
		{"http://user:s3%cret@proxy.example:3128", "invalid %-escape"},
		{"ftp://user:s3cret@proxy.example:21", "unsupported scheme"},
		{"socks4://proxy.example:1080", "unsupported scheme"},
		{"user:s3cret@proxy.example:3128", "no scheme"},
		{"proxy.example:3128", "no scheme"},
		{"http://user:s3cret@:3128", "no host"},
		{"http://user:s3/cret@proxy.example:3128", "cannot be parsed"},
		{"", "empty"},
	} {
		u, err := ParseProxyURL(tc.in)
		if tc.wantErr == "" {
			if err != nil || u == nil {
				t.Errorf("ParseProxyURL(%q) = %v, %v; want ok", tc.in, u, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseProxyURL(%q) accepted, want error containing %q", tc.in, tc.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseProxyURL(%q) = %q, want it to contain %q", tc.in, err, tc.wantErr)
		}
		if strings.Contains(err.Error(), "s3") || strings.Contains(err.Error(), "cret") {
			t.Errorf("ParseProxyURL(%q) error leaks the password: %q", tc.in, err)
		}
		// The same error through NewHTTPClient.
		if _, err := NewHTTPClient(ClientOptions{ProxyURL: tc.in}); tc.in != "" && err == nil {
			t.Errorf("NewHTTPClient(ProxyURL=%q) accepted", tc.in)
		} else if err != nil && strings.Contains(err.Error(), "cret") {
			t.Errorf("NewHTTPClient(ProxyURL=%q) error leaks the password: %q", tc.in, err)
		}
	}
}

// forwardProxy is a minimal HTTP forward proxy that answers every request
// itself and records what it saw.
type forwardProxy struct {
	*httptest.Server
	mu    sync.Mutex
	seen  []string
	auths []string
}

func newForwardProxy(t *testing.T) *forwardProxy {
	p := &forwardProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.RequestURI)
		p.auths = append(p.auths, r.Header.Get("Proxy-Authorization"))
		p.mu.Unlock()
		io.WriteString(w, "via-proxy")
	}))
	t.Cleanup(p.Close)
	return p
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestNewHTTPClientExplicitProxyIncludesLoopback(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "direct") }))
	defer target.Close()
	proxy := newForwardProxy(t)

	// Without a proxy the target answers directly.
	clearProxyEnv(t)
	c, err := NewHTTPClient(ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, c, target.URL+"/x"); got != "direct" {
		t.Fatalf("no proxy: got %q", got)
	}

	pu := strings.Replace(proxy.URL, "http://", "http://svc:s3cret@", 1)
	c, err = NewHTTPClient(ClientOptions{ProxyURL: pu})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, c, target.URL+"/x"); got != "via-proxy" {
		t.Fatalf("explicit proxy: got %q, want the loopback request to go through the proxy", got)
	}
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	if len(proxy.seen) != 1 || proxy.seen[0] != target.URL+"/x" {
		t.Errorf("proxy saw %v", proxy.seen)
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:s3cret")); proxy.auths[0] != want {
		t.Errorf("Proxy-Authorization = %q, want %q", proxy.auths[0], want)
	}
}

func clearProxyEnv(t *testing.T) {
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
		t.Setenv(k, "")
	}
}

func TestNewHTTPClientEnvironmentProxy(t *testing.T) {
	proxy := newForwardProxy(t)
	clearProxyEnv(t)
	t.Setenv("HTTP_PROXY", proxy.URL)
	c, err := NewHTTPClient(ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A name that cannot resolve: only the proxy can answer it.
	if got := get(t, c, "http://feed.adldapctl.invalid/x"); got != "via-proxy" {
		t.Fatalf("env proxy: got %q", got)
	}
}

func TestNewHTTPClientRejectsBadEnvironmentProxy(t *testing.T) {
	for _, tc := range []struct{ name, val, want string }{
		{"HTTPS_PROXY", "http://svc:s3cret%zz@proxy.example:3128", "invalid %-escape"},
		{"https_proxy", "http://wpad.example/proxy.pac", "PAC"},
		{"HTTP_PROXY", "ftp://svc:s3cret@proxy.example", "unsupported scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearProxyEnv(t)
			t.Setenv(tc.name, tc.val)
			_, err := NewHTTPClient(ClientOptions{})
			if err == nil {
				t.Fatalf("%s=%s accepted (Go would silently go direct)", tc.name, tc.val)
			}
			msg := err.Error()
			if !strings.Contains(msg, strings.ToUpper(tc.name)) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q should name %s and say %q", msg, strings.ToUpper(tc.name), tc.want)
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("error leaks the password: %q", msg)
			}
		})
	}
	// A scheme-less value is fine, as it is for Go itself.
	clearProxyEnv(t)
	t.Setenv("HTTPS_PROXY", "proxy.example:3128")
	if _, err := NewHTTPClient(ClientOptions{}); err != nil {
		t.Errorf("scheme-less HTTPS_PROXY: %v", err)
	}
}

func TestNewHTTPClientCAFiles(t *testing.T) {
	clearProxyEnv(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	dir := t.TempDir()
	der := srv.Certificate().Raw
	pemFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	derFile := filepath.Join(dir, "ca.cer")
	if err := os.WriteFile(derFile, der, 0o644); err != nil {
		t.Fatal(err)
	}

	c, err := NewHTTPClient(ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(srv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: err = %v, want a certificate error", err)
	}
	for _, f := range []string{pemFile, derFile} {
		c, err := NewHTTPClient(ClientOptions{CAFiles: []string{f}})
		if err != nil {
			t.Fatal(err)
		}
		if got := get(t, c, srv.URL); got != "ok" {
			t.Fatalf("with %s: got %q", filepath.Base(f), got)
		}
	}

	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o644)
	if _, err := NewHTTPClient(ClientOptions{CAFiles: []string{junk}}); err == nil || !strings.Contains(err.Error(), "no certificates") {
		t.Errorf("junk CA file: err = %v", err)
	}
	if _, err := NewHTTPClient(ClientOptions{CAFiles: []string{filepath.Join(dir, "missing.pem")}}); err == nil {
		t.Error("missing CA file accepted")
	}
}

func TestNewHTTPClientTimeout(t *testing.T) {
	clearProxyEnv(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := NewHTTPClient(ClientOptions{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	start := time.Now()
	_, err = c.Do(req)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v, want a header timeout", err, time.Since(start))
	}
}
