//go:build linux

package testbed

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestAPR1(t *testing.T) {
	// Vectors from `openssl passwd -apr1 -salt SALT PASSWORD`.
	for _, tc := range []struct{ pass, salt, want string }{
		{"password", "abcdefgh", "$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1"},
		{"p@ss:w/rd%é longer than sixteen bytes", "0123abcd", "$apr1$0123abcd$oXa484S/UfuXW1an43WHR/"},
	} {
		if got := apr1(tc.pass, tc.salt); got != tc.want {
			t.Errorf("apr1(%q, %q) = %q, want %q", tc.pass, tc.salt, got, tc.want)
		}
	}
}

func TestStartSquid(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from origin, via "+r.Header.Get("Via"))
	}))
	defer origin.Close()
	const pass = "p@ss:w/rd% 1"
	s := StartSquidProxy(t, "svc", pass)
	if !strings.Contains(s.URL, "svc:") || strings.Contains(s.URL, pass) {
		t.Errorf("proxy URL %q should carry the percent-encoded credentials", s.URL)
	}

	get := func(proxy string) (*http.Response, string) {
		t.Helper()
		pu, err := url.Parse(proxy)
		if err != nil {
			t.Fatal(err)
		}
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
		resp, err := c.Get(origin.URL + "/x")
		if err != nil {
			t.Fatalf("GET via %s: %v", pu.Redacted(), err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get(s.URL)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "hello from origin, via") || !strings.Contains(body, "squid") {
		t.Fatalf("right password: %s %q", resp.Status, body)
	}
	for _, proxy := range []string{
		"http://svc:wrong@" + s.Addr,
		"http://" + s.Addr,
	} {
		if resp, _ := get(proxy); resp.StatusCode != http.StatusProxyAuthRequired {
			t.Errorf("%s: %s, want 407", proxy, resp.Status)
		}
	}
	log, _ := os.ReadFile(s.AccessLog)
	if !strings.Contains(string(log), "/407") || !strings.Contains(string(log), "/200") {
		t.Errorf("access log:\n%s", log)
	}
}
