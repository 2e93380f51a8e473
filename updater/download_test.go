package updater

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// artifactServer serves body at /a; hits counts requests.
func artifactServer(t *testing.T, body []byte) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/a" {
			http.NotFound(w, r)
			return
		}
		if got := r.Header.Get("Accept-Encoding"); got != "identity" {
			t.Errorf("Accept-Encoding = %q, want identity", got)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// dirEntries lists dir, failing the test on error.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("download dir should be empty after a failure, has %v", names)
	}
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestFetchWithDigest(t *testing.T) {
	body := payload(300_000)
	srv, _ := artifactServer(t, body)
	dir := filepath.Join(t.TempDir(), "cache", "downloads") // created on demand
	var progress bytes.Buffer
	var logs []string
	d := &Downloader{Client: srv.Client(), Progress: &progress, Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }}
	a := Artifact{Name: "adldap-v6.4.1.msi", URL: srv.URL + "/a", Size: int64(len(body)), SHA256: strings.ToUpper(sum(body))}
	res, err := d.Fetch(context.Background(), a, dir, VerifyOptions{RequireDigest: true})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Path: filepath.Join(dir, a.Name), SHA256: sum(body), Size: int64(len(body)), Verified: "digest"}
	if *res != want {
		t.Fatalf("Result = %+v, want %+v", *res, want)
	}
	got, err := os.ReadFile(res.Path)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("downloaded file differs (%v)", err)
	}
	if names := dirEntries(t, dir); len(names) != 1 || names[0] != a.Name {
		t.Errorf("dir holds %v, want only %s (no .partial)", names, a.Name)
	}
	if !strings.Contains(progress.String(), "downloading adldap-v6.4.1.msi: 100% (300 kB / 300 kB)") {
		t.Errorf("progress output:\n%s", progress.String())
	}
	if len(logs) == 0 || !strings.Contains(strings.Join(logs, "\n"), sum(body)) {
		t.Errorf("Logf should report the sha256; got %q", logs)
	}
}

func TestFetchDigestMismatch(t *testing.T) {
	body := payload(5000)
	srv, _ := artifactServer(t, body)
	dir := t.TempDir()
	wrong := strings.Repeat("0", 64)
	a := Artifact{Name: "adldap-v6.4.1.msi", URL: srv.URL + "/a", SHA256: wrong}
	_, err := (&Downloader{}).Fetch(context.Background(), a, dir, VerifyOptions{})
	if !errors.Is(err, ErrVerification) {
		t.Fatalf("err = %v, want ErrVerification", err)
	}
	for _, s := range []string{wrong, sum(body), a.Name} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q should name %q", err, s)
		}
	}
	assertEmpty(t, dir)
}

func TestFetchReplacesStalePartial(t *testing.T) {
	body := payload(100)
	srv, _ := artifactServer(t, body)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.msi.partial"), payload(10_000), 0o644)
	res, err := (&Downloader{}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: srv.URL + "/a", SHA256: sum(body)}, dir, VerifyOptions{})
	if err != nil || res.Size != 100 {
		t.Fatalf("Fetch = %+v, %v", res, err)
	}
	if names := dirEntries(t, dir); len(names) != 1 {
		t.Errorf("dir holds %v", names)
	}
}

func TestFetchTruncated(t *testing.T) {
	body := payload(10_000)
	var hits, ranged atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Range") != "" {
			ranged.Add(1)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)*2))
		w.Write(body) // then the handler returns and the connection is closed short
	}))
	defer srv.Close()
	dir := t.TempDir()
	var progress bytes.Buffer
	d := &Downloader{Progress: &progress, Retry: noWait(nil)}
	_, err := d.Fetch(context.Background(), Artifact{Name: "x.tar.gz", URL: srv.URL + "/a"}, dir, VerifyOptions{})
	if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("err = %v, want ErrVerification (truncated)", err)
	}
	// A cut is transient: retried, each time from the start (the server
	// gives no validator to resume against), and nothing kept.
	if hits.Load() != 3 || ranged.Load() != 0 {
		t.Errorf("%d requests, %d with Range; want 3 whole-file requests", hits.Load(), ranged.Load())
	}
	if !strings.Contains(err.Error(), "10000 of 20000 bytes") || !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("err = %v, want the byte counts and the attempts", err)
	}
	assertEmpty(t, dir)
	if !strings.Contains(progress.String(), "failed") {
		t.Errorf("progress should say the download failed:\n%s", progress.String())
	}
}

func TestFetchSizeMismatch(t *testing.T) {
	body := payload(1000)
	srv, _ := artifactServer(t, body)
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body[:500])
		w.(http.Flusher).Flush() // no Content-Length: chunked
		w.Write(body[500:])
	}))
	defer chunked.Close()
	for _, tc := range []struct {
		name string
		url  string
		size int64
	}{
		{"content-length differs from feed", srv.URL + "/a", 999},
		{"chunked body differs from feed", chunked.URL, 1001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := (&Downloader{}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: tc.url, Size: tc.size}, dir, VerifyOptions{})
			if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), strconv.FormatInt(tc.size, 10)) {
				t.Fatalf("err = %v, want ErrVerification naming the announced size", err)
			}
			assertEmpty(t, dir)
		})
	}
	// The chunked body is fine when the size matches.
	res, err := (&Downloader{}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: chunked.URL, Size: 1000}, t.TempDir(), VerifyOptions{})
	if err != nil || res.Size != 1000 || res.Verified != "none" {
		t.Fatalf("chunked with right size: %+v, %v", res, err)
	}
}

func TestFetchRequireDigest(t *testing.T) {
	body := payload(1000)
	srv, hits := artifactServer(t, body)
	dir := t.TempDir()
	a := (&Release{Tag: "v6.4.1", TarballURL: srv.URL + "/a"}).SourceArtifact()

	_, err := (&Downloader{}).Fetch(context.Background(), a, dir, VerifyOptions{RequireDigest: true})
	if !errors.Is(err, ErrVerification) {
		t.Fatalf("err = %v, want ErrVerification", err)
	}
	for _, s := range []string{"GitHub", "source tarball", "--sha256", "--require-digest"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q should mention %q", err, s)
		}
	}
	if hits.Load() != 0 {
		t.Error("nothing should be downloaded when the digest requirement cannot be met")
	}
	assertEmpty(t, dir)

	// Without --require-digest it downloads, records the sha256 and says
	// nothing was verified.
	res, err := (&Downloader{}).Fetch(context.Background(), a, dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified != "none" || res.SHA256 != sum(body) || filepath.Base(res.Path) != "ad-ldap-connector-v6.4.1.tar.gz" {
		t.Fatalf("Result = %+v", res)
	}
}

func TestFetchUserSHA256(t *testing.T) {
	body := payload(2000)
	srv, hits := artifactServer(t, body)
	good, bad := sum(body), strings.Repeat("f", 64)
	for _, tc := range []struct {
		name         string
		feed, user   string
		require      bool
		wantVerified Trust
		wantErr      string // substring; "" for success
		wantVerifErr bool
	}{
		{name: "user digest matches, no feed digest", user: good, require: true, wantVerified: "user-sha256"},
		{name: "user digest with prefix and upper case", user: "sha256:" + strings.ToUpper(good), wantVerified: "user-sha256"},
		{name: "both match", feed: good, user: good, wantVerified: "user-sha256"},
		{name: "user digest mismatch", user: bad, wantErr: "--sha256", wantVerifErr: true},
		{name: "feed matches, user does not", feed: good, user: bad, wantErr: bad, wantVerifErr: true},
		{name: "user matches, feed does not", feed: bad, user: good, wantErr: bad, wantVerifErr: true},
		{name: "user digest malformed", user: "abc123", wantErr: "64 hex"},
		{name: "user digest wrong algorithm", user: "md5:" + good, wantErr: "sha256"},
		{name: "feed digest malformed", feed: "xyz", wantErr: "feed digest", wantVerifErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			before := hits.Load()
			res, err := (&Downloader{}).Fetch(context.Background(),
				Artifact{Name: "x.tar.gz", URL: srv.URL + "/a", SHA256: tc.feed}, dir,
				VerifyOptions{SHA256: tc.user, RequireDigest: tc.require})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Verified != tc.wantVerified {
					t.Errorf("Verified = %q, want %q", res.Verified, tc.wantVerified)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrVerification) != tc.wantVerifErr {
				t.Errorf("errors.Is(err, ErrVerification) = %v, want %v", !tc.wantVerifErr, tc.wantVerifErr)
			}
			if strings.Contains(tc.name, "malformed") || strings.Contains(tc.name, "algorithm") {
				if hits.Load() != before {
					t.Error("a malformed digest must be refused before downloading")
				}
			}
			assertEmpty(t, dir)
		})
	}
}

func TestFetchRefusedURLs(t *testing.T) {
	d := &Downloader{Client: &http.Client{Transport: failTransport{t}}}
	for _, tc := range []struct{ url, want string }{
		{"http://example.com/adldap-v6.4.1.msi", "use https://"},
		{"http://user:s3cret@10.1.2.3/x.msi", "use https://"},
		{"ftp://example.com/x.msi", "unsupported URL scheme"},
		{"", "empty"},
	} {
		dir := t.TempDir()
		_, err := d.Fetch(context.Background(), Artifact{Name: "x.msi", URL: tc.url}, dir, VerifyOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Fetch(%q) err = %v, want %q", tc.url, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error leaks the password: %v", err)
		}
		assertEmpty(t, dir)
	}
}

func TestFetchRefusesDowngradeRedirect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://objects.example/x.msi", http.StatusFound)
	}))
	defer srv.Close()
	dir := t.TempDir()
	_, err := (&Downloader{}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: srv.URL + "/a"}, dir, VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), "use https://") {
		t.Fatalf("err = %v, want refusal of the http redirect", err)
	}
	assertEmpty(t, dir)
}

func TestFetchFollowsLoopbackRedirect(t *testing.T) {
	body := payload(100)
	srv, _ := artifactServer(t, body)
	redir := httptest.NewServer(http.RedirectHandler(srv.URL+"/a", http.StatusFound))
	defer redir.Close()
	res, err := (&Downloader{}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: redir.URL, SHA256: sum(body)}, t.TempDir(), VerifyOptions{})
	if err != nil || res.Verified != "digest" {
		t.Fatalf("Fetch via redirect = %+v, %v", res, err)
	}
}

func TestFetchHTTPError(t *testing.T) {
	srv, _ := artifactServer(t, nil)
	dir := t.TempDir()
	u := srv.URL + "/missing.msi"
	_, err := (&Downloader{}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: u}, dir, VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), u) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want the URL and 404", err)
	}
	if errors.Is(err, ErrVerification) {
		t.Error("an HTTP error is not a verification failure")
	}
	assertEmpty(t, dir)
}

func TestFetchUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/x.msi"
	srv.Close()
	var waits []time.Duration
	_, err := (&Downloader{Retry: noWait(&waits)}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: u}, t.TempDir(), VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), u) {
		t.Fatalf("err = %v, want the URL", err)
	}
	if len(waits) != 2 {
		t.Errorf("a refused connection is transient: want 2 retries, got %d", len(waits))
	}
}

func TestFetchLocal(t *testing.T) {
	body := payload(4096)
	src := filepath.Join(t.TempDir(), "adldap-v6.4.1.msi")
	if err := os.WriteFile(src, body, 0o644); err != nil {
		t.Fatal(err)
	}
	fileURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(src)}).String()
	if !strings.HasPrefix(filepath.ToSlash(src), "/") { // Windows: C:/...
		fileURL = "file:///" + filepath.ToSlash(src)
	}
	for _, u := range []string{src, fileURL} {
		dir := t.TempDir()
		res, err := (&Downloader{}).Fetch(context.Background(), Artifact{Name: "adldap-v6.4.1.msi", URL: u, Size: 4096, SHA256: sum(body)}, dir, VerifyOptions{})
		if err != nil {
			t.Fatalf("Fetch(%q): %v", u, err)
		}
		if res.Verified != "digest" || res.Size != 4096 {
			t.Errorf("Fetch(%q) = %+v", u, res)
		}
		if got, _ := os.ReadFile(res.Path); !bytes.Equal(got, body) {
			t.Errorf("Fetch(%q) copied different bytes", u)
		}
	}
	// Local files are verified like remote ones.
	dir := t.TempDir()
	_, err := (&Downloader{}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: src, SHA256: strings.Repeat("1", 64)}, dir, VerifyOptions{})
	if !errors.Is(err, ErrVerification) {
		t.Errorf("local digest mismatch: err = %v", err)
	}
	assertEmpty(t, dir)
	_, err = (&Downloader{}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: src, Size: 10}, dir, VerifyOptions{})
	if !errors.Is(err, ErrVerification) {
		t.Errorf("local size mismatch: err = %v", err)
	}
	_, err = (&Downloader{}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: filepath.Join(dir, "nope.msi")}, dir, VerifyOptions{})
	if err == nil {
		t.Error("missing local file accepted")
	}
	_, err = (&Downloader{}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: t.TempDir()}, dir, VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory as artifact: err = %v", err)
	}
	assertEmpty(t, dir)
}

func TestFetchUnsafeName(t *testing.T) {
	d := &Downloader{Client: &http.Client{Transport: failTransport{t}}}
	for _, name := range []string{"", ".", "..", "../x.msi", `..\x.msi`, "a/b.msi", `C:x.msi`, ".hidden", "x\x00.msi"} {
		dir := t.TempDir()
		_, err := d.Fetch(context.Background(), Artifact{Name: name, URL: "https://example.com/x"}, dir, VerifyOptions{})
		if !errors.Is(err, ErrVerification) {
			t.Errorf("name %q: err = %v, want ErrVerification", name, err)
		}
		assertEmpty(t, dir)
	}
}

func TestFetchContextCancelled(t *testing.T) {
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write(payload(1000))
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done()
	}))
	defer srv.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	_, err := (&Downloader{}).Fetch(ctx, Artifact{Name: "x.msi", URL: srv.URL}, dir, VerifyOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrVerification) {
		t.Error("cancellation is not a verification failure")
	}
	assertEmpty(t, dir)

	// Already cancelled: nothing is requested.
	_, err = (&Downloader{Client: &http.Client{Transport: failTransport{t}}}).Fetch(ctx, Artifact{Name: "x.msi", URL: srv.URL}, dir, VerifyOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestFetchThroughExplicitProxy(t *testing.T) {
	proxy := newForwardProxy(t) // answers "via-proxy"
	clearProxyEnv(t)
	c, err := NewHTTPClient(ClientOptions{ProxyURL: proxy.URL})
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Downloader{Client: c}).Fetch(context.Background(),
		Artifact{Name: "x.msi", URL: "http://127.0.0.1:1/x.msi", SHA256: sum([]byte("via-proxy"))}, t.TempDir(), VerifyOptions{})
	if err != nil || res.Verified != "digest" {
		t.Fatalf("Fetch via proxy = %+v, %v", res, err)
	}
}

func TestFetchTTYProgress(t *testing.T) {
	body := payload(200_000)
	srv, _ := artifactServer(t, body)
	var out bytes.Buffer
	d := &Downloader{Progress: &out, TTY: true}
	if _, err := d.Fetch(context.Background(), Artifact{Name: "bar.msi", URL: srv.URL + "/a"}, t.TempDir(), VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "downloading bar.msi") || !strings.Contains(s, "100%") {
		t.Errorf("TTY progress output:\n%q", s)
	}
	if strings.Contains(s, "downloading bar.msi: 10%") {
		t.Error("TTY mode should draw a bar, not plain lines")
	}
}

func TestLineProgress(t *testing.T) {
	var out bytes.Buffer
	p := &lineProgress{w: &out, name: "adldap-v6.4.1.msi", total: 10_000_000}
	chunk := make([]byte, 32*1024)
	for n := 0; n < 10_000_000; n += len(chunk) {
		c := chunk
		if rest := 10_000_000 - n; rest < len(c) {
			c = c[:rest]
		}
		p.Write(c)
	}
	p.done(true)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("want 9 steps + 100%%, got %d lines:\n%s", len(lines), out.String())
	}
	if lines[3] != "downloading adldap-v6.4.1.msi: 40% (4.0 MB / 10 MB)" {
		t.Errorf("line 4 = %q", lines[3])
	}
	if lines[9] != "downloading adldap-v6.4.1.msi: 100% (10 MB / 10 MB)" {
		t.Errorf("last line = %q", lines[9])
	}

	// Unknown size: a line every 10 MB, then a summary.
	out.Reset()
	p = &lineProgress{w: &out, name: "src.tar.gz"}
	big := make([]byte, 1_000_000)
	for i := 0; i < 25; i++ {
		p.Write(big)
	}
	p.done(true)
	want := "downloading src.tar.gz: 10 MB\ndownloading src.tar.gz: 20 MB\ndownloading src.tar.gz: done (25 MB)\n"
	if out.String() != want {
		t.Errorf("unknown size output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {4_000_000, "4.0 MB"}, {10_000_000, "10 MB"},
		{123_456_789, "123 MB"}, {2_500_000_000, "2.5 GB"},
	} {
		if got := formatBytes(tc.n); got != tc.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
