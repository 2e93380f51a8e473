//go:build linux

package updater

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
)

// The proxy password holds characters that must be percent-encoded in the
// proxy URL.
const (
	squidUser  = "svc-adldap"
	squidPass  = "s3cret:p@ss/w%rd"
	squidWrong = "wr0ng-pa55"
)

// withPassword returns proxyURL with another password.
func withPassword(t *testing.T, proxyURL, pass string) string {
	t.Helper()
	u, err := url.Parse(proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), pass)
	return u.String()
}

func assertNoPassword(t *testing.T, what, s string) {
	t.Helper()
	for _, p := range []string{squidPass, url.QueryEscape(squidPass), url.UserPassword("", squidPass).String(), squidWrong} {
		if strings.Contains(s, strings.TrimPrefix(p, ":")) {
			t.Errorf("%s shows a password: %s", what, s)
		}
	}
}

// Plain http to a loopback origin through an authenticating squid: Go
// sends Proxy-Authorization from the proxy URL's userinfo; a wrong
// password is a 407 that names neither password and is not retried.
func TestFetchThroughSquidHTTP(t *testing.T) {
	squid := testbed.StartSquidProxy(t, squidUser, squidPass)
	clearProxyEnv(t)
	body := payload(400_000)
	s, a := startFeed(t, body)

	c, err := NewHTTPClient(ClientOptions{ProxyURL: squid.URL})
	if err != nil {
		t.Fatal(err)
	}
	var logs logTo
	d := &Downloader{Client: c, Retry: noWait(nil), Logf: logs.logf}
	res, err := d.Fetch(context.Background(), a, t.TempDir(), VerifyOptions{SHA256: sum(body)})
	if err != nil {
		t.Fatalf("through squid: %v", err)
	}
	if res.Verified != "user-sha256" || s.Requests(a.URL) != 1 {
		t.Errorf("Result %+v, %d origin requests", res, s.Requests(a.URL))
	}
	accessLog, _ := os.ReadFile(squid.AccessLog)
	if !strings.Contains(string(accessLog), a.URL) || !strings.Contains(string(accessLog), squidUser) {
		t.Errorf("squid's access log should show the authenticated request for %s:\n%s", a.URL, accessLog)
	}
	assertNoPassword(t, "logs", logs.String())

	// Wrong password.
	s.ResetCounters()
	bad, err := NewHTTPClient(ClientOptions{ProxyURL: withPassword(t, squid.URL, squidWrong)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var waits []time.Duration
	_, err = (&Downloader{Client: bad, Retry: noWait(&waits), Logf: logs.logf}).Fetch(context.Background(), a, dir, VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), "407") || !strings.Contains(err.Error(), "Proxy Authentication Required") ||
		!strings.Contains(err.Error(), "password") {
		t.Fatalf("wrong password: err = %v, want a 407 that points at the password", err)
	}
	t.Logf("wrong password: %v", err)
	assertNoPassword(t, "error", err.Error())
	assertNoPassword(t, "logs", logs.String())
	if len(waits) != 0 || s.Requests(a.URL) != 0 {
		t.Errorf("407: %d retries, %d requests reached the origin; want none", len(waits), s.Requests(a.URL))
	}
	assertEmpty(t, dir)
}

// A connection cut at the origin reaches the client through squid as a
// short body; the retry resumes through the proxy with Range/If-Range.
func TestFetchThroughSquidResumes(t *testing.T) {
	squid := testbed.StartSquid(t, squidUser, squidPass)
	clearProxyEnv(t)
	body := payload(500_000)
	s, a := startFeed(t, body)
	s.Inject(a.URL, 1, testfeed.Fault{CutAfter: 200_000})
	c, err := NewHTTPClient(ClientOptions{ProxyURL: squid})
	if err != nil {
		t.Fatal(err)
	}
	var logs logTo
	res, err := (&Downloader{Client: c, Retry: noWait(nil), Logf: logs.logf}).Fetch(context.Background(), a, t.TempDir(), VerifyOptions{SHA256: sum(body)})
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, logs.String())
	}
	t.Logf("origin sent %d bytes in %d requests; logs:\n%s", s.BytesSent(a.URL), s.Requests(a.URL), logs.String())
	if res.Size != 500_000 || s.Requests(a.URL) != 2 || s.RangeRequests(a.URL) != 1 {
		t.Errorf("Result %+v after %d origin requests (%d with Range)\nlogs:\n%s", res, s.Requests(a.URL), s.RangeRequests(a.URL), logs.String())
	}
	// squid may have read a little more of the cut response than it
	// passed on, never the whole file twice.
	if sent := s.BytesSent(a.URL); sent >= 2*500_000-200_000 {
		t.Errorf("origin sent %d bytes; the retry should have asked only for the rest", sent)
	}
}

// https:// through squid's CONNECT tunnel, with the origin's CA given as a
// file.
func TestFetchThroughSquidHTTPS(t *testing.T) {
	squid := testbed.StartSquid(t, squidUser, squidPass)
	clearProxyEnv(t)
	body := payload(100_000)
	var hits atomic.Int32
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("ETag", `"tls-1"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}))
	defer origin.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: origin.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	a := Artifact{Name: "adldap-v6.4.1.msi", URL: origin.URL + "/adldap-v6.4.1.msi", Size: int64(len(body)), SHA256: sum(body)}

	c, err := NewHTTPClient(ClientOptions{ProxyURL: squid, CAFiles: []string{caFile}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Downloader{Client: c, Retry: noWait(nil)}).Fetch(context.Background(), a, t.TempDir(), VerifyOptions{})
	if err != nil || res.Verified != "digest" {
		t.Fatalf("https through squid: %+v, %v", res, err)
	}

	hits.Store(0)
	bad, err := NewHTTPClient(ClientOptions{ProxyURL: withPassword(t, squid, squidWrong), CAFiles: []string{caFile}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = (&Downloader{Client: bad, Retry: noWait(nil)}).Fetch(context.Background(), a, dir, VerifyOptions{})
	t.Logf("wrong password over CONNECT: %v", err)
	// net/http reports a refused CONNECT by its status text only.
	if err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Fatalf("wrong password over CONNECT: err = %v", err)
	}
	assertNoPassword(t, "error", err.Error())
	if errors.Is(err, ErrVerification) || hits.Load() != 0 {
		t.Errorf("err = %v, %d origin requests", err, hits.Load())
	}
	assertEmpty(t, dir)

	// With onProxyConnectResponse on the transport (see NewHTTPClient) the
	// error carries the status code and the refusal is not retried.
	bad.Transport.(*http.Transport).OnProxyConnectResponse = onProxyConnectResponse
	var waits []time.Duration
	_, err = (&Downloader{Client: bad, Retry: noWait(&waits)}).Fetch(context.Background(), a, dir, VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), "407 Proxy Authentication Required") || len(waits) != 0 {
		t.Fatalf("wrong password over CONNECT with the hook: err = %v after %d retries", err, len(waits))
	}
	t.Logf("wrong password over CONNECT, with the hook: %v", err)
	assertNoPassword(t, "error", err.Error())
}
