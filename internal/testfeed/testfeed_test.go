package testfeed

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

type entry struct {
	hdr  *tar.Header
	data []byte
}

func readTarball(t *testing.T, tb []byte) []entry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tb))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	var out []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("tar %s: %v", h.Name, err)
		}
		out = append(out, entry{h, b})
	}
	return out
}

func TestSourceTarballStructure(t *testing.T) {
	tb, err := SourceTarball("v6.4.1", SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	entries := readTarball(t, tb)
	if len(entries) == 0 || entries[0].hdr.Typeflag != tar.TypeXGlobalHeader || entries[0].hdr.Name != "pax_global_header" {
		t.Fatalf("first entry = %+v, want pax_global_header", entries[0].hdr)
	}
	if got := entries[0].hdr.PAXRecords["comment"]; got != CommitID("6.4.1") || len(got) != 40 {
		t.Errorf("global header comment = %q, want commit id %q", got, CommitID("6.4.1"))
	}
	top := TopFolder("6.4.1")
	if !regexp.MustCompile(`^auth0-ad-ldap-connector-[0-9a-f]{7}$`).MatchString(top) {
		t.Errorf("top folder %q has the wrong shape", top)
	}
	if TopFolder("6.5.0") == top {
		t.Errorf("top folder does not depend on the version")
	}
	if entries[1].hdr.Name != top+"/" || entries[1].hdr.Typeflag != tar.TypeDir {
		t.Errorf("second entry = %q, want top folder %q", entries[1].hdr.Name, top+"/")
	}
	files := map[string][]byte{}
	for _, e := range entries[1:] {
		rel, ok := strings.CutPrefix(e.hdr.Name, top+"/")
		if !ok {
			t.Errorf("entry %q outside the top folder", e.hdr.Name)
			continue
		}
		if e.hdr.Typeflag == tar.TypeReg {
			files[rel] = e.data
			if e.hdr.Mode != 0o664 {
				t.Errorf("%s mode %o, want 664", rel, e.hdr.Mode)
			}
		}
		if !e.hdr.ModTime.Equal(CommitTime("6.4.1")) {
			t.Errorf("%s mtime %v, want %v", rel, e.hdr.ModTime, CommitTime("6.4.1"))
		}
	}
	for _, want := range []string{"server.js", "package.json", "package-lock.json", "lib/profileMapper.js"} {
		if _, ok := files[want]; !ok {
			t.Errorf("tarball lacks %s", want)
		}
	}
	if !bytes.Contains(files["server.js"], []byte("const VERSION = '6.4.1';")) {
		t.Errorf("server.js not stamped with the version")
	}
	if !bytes.Contains(files["server.js"], []byte("const CRASH_ON_START = false;")) {
		t.Errorf("server.js should not crash on start")
	}

	var pkg struct {
		Name         string            `json:"name"`
		Version      string            `json:"version"`
		Main         string            `json:"main"`
		Engines      map[string]string `json:"engines"`
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(files["package.json"], &pkg); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	if pkg.Name != "ad-ldap-connector" || pkg.Version != "0.0.0" || pkg.Main != "server.js" || pkg.Engines["node"] != ">=18" || len(pkg.Dependencies) != 0 {
		t.Errorf("package.json = %+v", pkg)
	}
	var lock struct {
		LockfileVersion int                        `json:"lockfileVersion"`
		Packages        map[string]json.RawMessage `json:"packages"`
	}
	if err := json.Unmarshal(files["package-lock.json"], &lock); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	if lock.LockfileVersion != 3 || len(lock.Packages) != 1 {
		t.Errorf("package-lock.json: version %d, %d packages; want 3, 1", lock.LockfileVersion, len(lock.Packages))
	}

	again, err := SourceTarball("6.4.1", SampleOptions{})
	if err != nil || !bytes.Equal(again, tb) {
		t.Errorf("SourceTarball is not deterministic (err %v)", err)
	}
}

func TestSourceTarballOptions(t *testing.T) {
	tb, err := SourceTarball("6.6.0", SampleOptions{CrashOnStart: true, NoLockfile: true})
	if err != nil {
		t.Fatal(err)
	}
	var sawServer bool
	for _, e := range readTarball(t, tb) {
		if strings.HasSuffix(e.hdr.Name, "/package-lock.json") {
			t.Errorf("NoLockfile: tarball still has %s", e.hdr.Name)
		}
		if strings.HasSuffix(e.hdr.Name, "/server.js") {
			sawServer = true
			if !bytes.Contains(e.data, []byte("const CRASH_ON_START = true;")) {
				t.Errorf("CrashOnStart not stamped")
			}
		}
	}
	if !sawServer {
		t.Errorf("no server.js")
	}
	if _, err := SourceTarball("not-a-version", SampleOptions{}); err == nil {
		t.Errorf("bad version accepted")
	}
}

func TestParseReleases(t *testing.T) {
	got, err := ParseReleases("6.4.1, v6.5.0,6.6.0:crash,6.7.0-rc.1:pre,6.8.0:draft:nolock")
	if err != nil {
		t.Fatal(err)
	}
	want := []ReleaseSpec{
		{Version: "6.4.1"},
		{Version: "6.5.0"},
		{Version: "6.6.0", Sample: SampleOptions{CrashOnStart: true}},
		{Version: "6.7.0-rc.1", Prerelease: true},
		{Version: "6.8.0", Draft: true, Sample: SampleOptions{NoLockfile: true}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ParseReleases = %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"", "6.4.1:bogus", "x.y"} {
		if _, err := ParseReleases(bad); err == nil {
			t.Errorf("ParseReleases(%q) accepted", bad)
		}
	}
}

func startServer(t *testing.T, rels []ReleaseSpec) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0", rels)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || !strings.HasSuffix(s.URL, "/repos/auth0/ad-ldap-connector") {
		t.Fatalf("URL = %q", s.URL)
	}
	return s
}

type apiRelease struct {
	TagName     string  `json:"tag_name"`
	Name        string  `json:"name"`
	Draft       bool    `json:"draft"`
	Prerelease  bool    `json:"prerelease"`
	PublishedAt *string `json:"published_at"`
	TarballURL  string  `json:"tarball_url"`
	Assets      []any   `json:"assets"`
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", url, err)
	}
	return resp, b
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, b := get(t, url, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func TestServerReleases(t *testing.T) {
	s := startServer(t, []ReleaseSpec{
		{Version: "6.4.1"},
		{Version: "v6.5.0"},
		{Version: "6.6.0", Draft: true},
		{Version: "6.7.0-rc.1", Prerelease: true},
		{Version: "6.10.0-beta.1", Prerelease: true},
	})

	var latest apiRelease
	getJSON(t, s.URL+"/releases/latest", &latest)
	if latest.TagName != "v6.5.0" || latest.Draft || latest.Prerelease || latest.PublishedAt == nil || latest.Assets == nil {
		t.Errorf("latest = %+v, want v6.5.0", latest)
	}
	if latest.TarballURL != s.TarballURL("6.5.0") || latest.TarballURL != s.URL+"/tarball/v6.5.0" {
		t.Errorf("tarball_url = %q", latest.TarballURL)
	}

	var all []apiRelease
	getJSON(t, s.URL+"/releases", &all)
	var tags []string
	for _, r := range all {
		tags = append(tags, r.TagName)
	}
	if got, want := strings.Join(tags, " "), "v6.10.0-beta.1 v6.7.0-rc.1 v6.6.0 v6.5.0 v6.4.1"; got != want {
		t.Errorf("releases = %s, want %s", got, want)
	}
	if !all[2].Draft || all[2].PublishedAt != nil {
		t.Errorf("draft entry = %+v", all[2])
	}

	resp, _ := get(t, s.URL+"/releases?per_page=2&page=2", nil)
	if !strings.Contains(resp.Header.Get("Link"), `page=3>; rel="next"`) {
		t.Errorf("Link = %q", resp.Header.Get("Link"))
	}
	var page []apiRelease
	getJSON(t, s.URL+"/releases?per_page=2&page=2", &page)
	if len(page) != 2 || page[0].TagName != "v6.6.0" {
		t.Errorf("page 2 = %+v", page)
	}

	var byTag apiRelease
	getJSON(t, s.URL+"/releases/tags/v6.4.1", &byTag)
	if byTag.TagName != "v6.4.1" {
		t.Errorf("tags/v6.4.1 = %+v", byTag)
	}
	if resp, _ := get(t, s.URL+"/releases/tags/v6.6.0", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("draft by tag: %s, want 404", resp.Status)
	}
	if resp, _ := get(t, s.URL+"/releases/tags/v9.9.9", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown tag: %s, want 404", resp.Status)
	}

	resp, body := get(t, latest.TarballURL, nil)
	want, _ := SourceTarball("6.5.0", SampleOptions{})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) || resp.ContentLength != int64(len(want)) {
		t.Errorf("tarball: %s, %d bytes (Content-Length %d), want %d", resp.Status, len(body), resp.ContentLength, len(want))
	}
	if s.Requests(latest.TarballURL) != 1 || s.BytesSent(latest.TarballURL) != int64(len(want)) {
		t.Errorf("counters: %d requests, %d bytes", s.Requests(latest.TarballURL), s.BytesSent(latest.TarballURL))
	}
	if s.Requests(RepoPath+"/releases") != 3 {
		t.Errorf("Requests(/releases) = %d, want 3", s.Requests(RepoPath+"/releases"))
	}

	// Runtime changes.
	if err := s.AddRelease(ReleaseSpec{Version: "6.8.0"}); err != nil {
		t.Fatal(err)
	}
	getJSON(t, s.URL+"/releases/latest", &latest)
	if latest.TagName != "v6.8.0" {
		t.Errorf("after AddRelease latest = %s", latest.TagName)
	}
	if err := s.AddRelease(ReleaseSpec{Version: "6.8.0", Draft: true}); err != nil {
		t.Fatal(err)
	}
	getJSON(t, s.URL+"/releases/latest", &latest)
	if latest.TagName != "v6.5.0" {
		t.Errorf("after replacing 6.8.0 with a draft, latest = %s", latest.TagName)
	}
	custom := []byte("not a tarball")
	if err := s.AddRelease(ReleaseSpec{Version: "6.4.1", Tarball: custom}); err != nil {
		t.Fatal(err)
	}
	if _, b := get(t, s.TarballURL("6.4.1"), nil); !bytes.Equal(b, custom) {
		t.Errorf("override tarball not served")
	}

	// GitHub refuses requests without a User-Agent.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/releases/latest", nil)
	req.Header.Set("User-Agent", "")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusForbidden {
		t.Errorf("no User-Agent: %s, want 403", r2.Status)
	}
}

func TestServerNoLatest(t *testing.T) {
	s := startServer(t, []ReleaseSpec{{Version: "7.0.0-rc.1", Prerelease: true}, {Version: "7.0.0", Draft: true}})
	resp, body := get(t, s.URL+"/releases/latest", nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"Not Found"`) {
		t.Errorf("latest with only drafts/prereleases: %s %s", resp.Status, body)
	}
}

func TestServerRange(t *testing.T) {
	s := startServer(t, []ReleaseSpec{{Version: "6.4.1"}})
	full := s.Tarball("6.4.1")
	url := s.TarballURL("6.4.1")

	resp, body := get(t, url, nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("headers: %v", resp.Header)
	}
	if !bytes.Equal(body, full) {
		t.Fatalf("full body differs")
	}

	resp, body = get(t, url, map[string]string{"Range": "bytes=100-"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, full[100:]) {
		t.Errorf("Range bytes=100-: %s, %d bytes", resp.Status, len(body))
	}
	if want := fmt.Sprintf("bytes 100-%d/%d", len(full)-1, len(full)); resp.Header.Get("Content-Range") != want {
		t.Errorf("Content-Range = %q, want %q", resp.Header.Get("Content-Range"), want)
	}

	resp, body = get(t, url, map[string]string{"Range": "bytes=10-19", "If-Range": etag})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, full[10:20]) {
		t.Errorf("If-Range matching: %s, %d bytes", resp.Status, len(body))
	}
	resp, body = get(t, url, map[string]string{"Range": "bytes=10-19", "If-Range": `"stale"`})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, full) {
		t.Errorf("If-Range stale: %s, %d bytes; want 200 and the whole file", resp.Status, len(body))
	}
	if s.RangeRequests(url) != 3 {
		t.Errorf("RangeRequests = %d, want 3", s.RangeRequests(url))
	}

	// A connection cut mid-body, then a resume.
	s.ResetCounters()
	s.Inject(url, 1, Fault{CutAfter: 50})
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err == nil || len(got) != 50 {
		t.Errorf("cut download: %d bytes, err %v; want 50 bytes and an error", len(got), err)
	}
	resp, body = get(t, url, map[string]string{"Range": "bytes=50-", "If-Range": etag})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(append(got, body...), full) {
		t.Errorf("resume: %s", resp.Status)
	}
	if s.Requests(url) != 2 || s.BytesSent(url) != int64(len(full)) {
		t.Errorf("counters: %d requests, %d bytes; want 2, %d", s.Requests(url), s.BytesSent(url), len(full))
	}

	s.Inject(s.URL+"/releases/latest", 2, Fault{Status: http.StatusServiceUnavailable})
	for i := 0; i < 2; i++ {
		if resp, _ := get(t, s.URL+"/releases/latest", nil); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("fault %d: %s", i, resp.Status)
		}
	}
	if resp, _ := get(t, s.URL+"/releases/latest", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("after faults: %s", resp.Status)
	}
}

// extract unpacks a tarball into dir, stripping the top folder.
func extract(t *testing.T, tb []byte, dir string) {
	t.Helper()
	for _, e := range readTarball(t, tb) {
		if e.hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		_, rel, _ := strings.Cut(e.hdr.Name, "/")
		if rel == "" {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		switch e.hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, e.data, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unexpected entry type %c for %s", e.hdr.Typeflag, e.hdr.Name)
		}
	}
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found on PATH (required when CI=true): %v", name, err)
		}
		t.Skipf("%s not found on PATH: %v (install Node.js to run this test)", name, err)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestSampleRunsUnderNode(t *testing.T) {
	node := lookTool(t, "node")
	const ticket = "https://example.auth0.com/p/ad/Zq8SECRETTICKETv1"

	dir := t.TempDir()
	tb, err := SourceTarball("6.5.0", SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	extract(t, tb, dir)
	port := freePort(t)
	cfg := fmt.Sprintf("\ufeff{\n  \"PROVISIONING_TICKET\": %q,\n  \"PORT\": %d\n}\n", ticket, port)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT=1") // config.json's PORT wins
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	lines := make(chan string, 100)
	var out strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	stop := func() {
		// Stop the node process we started, by its pid.
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
		<-exited
	}

	wantLine := fmt.Sprintf("auth0-adldap sample connector 6.5.0 listening on 127.0.0.1:%d", port)
	deadline := time.After(20 * time.Second)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				stop()
				t.Fatalf("node exited before listening; stderr: %s", stderr.String())
			}
			if l == wantLine {
				break wait
			}
		case <-deadline:
			stop()
			t.Fatalf("no %q line within 20s; stderr: %s", wantLine, stderr.String())
		}
	}

	resp, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	var got struct {
		Version string `json:"version"`
		Ticket  bool   `json:"ticket"`
	}
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /: %s %s (%v)", resp.Status, body, err)
	}
	if got.Version != "6.5.0" || !got.Ticket {
		t.Errorf("GET / = %+v, want version 6.5.0 and ticket true", got)
	}
	if strings.Contains(string(body), "SECRET") {
		t.Errorf("GET / leaks the ticket: %s", body)
	}
	stop()
	for range lines {
	}
	if all := out.String() + stderr.String(); strings.Contains(all, "SECRET") {
		t.Errorf("output leaks the ticket:\n%s", all)
	}
}

func TestSampleCrashOnStart(t *testing.T) {
	node := lookTool(t, "node")
	dir := t.TempDir()
	tb, err := SourceTarball("6.6.0", SampleOptions{CrashOnStart: true})
	if err != nil {
		t.Fatal(err)
	}
	extract(t, tb, dir)
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", freePort(t)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("crash sample: %v, want exit status 1", err)
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill() // our node process, by its pid
		<-done
		t.Fatalf("crash sample still running after 20s")
	}
	if !strings.Contains(stderr.String(), "crashing on start") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestSampleBadConfigDoesNotLeak(t *testing.T) {
	node := lookTool(t, "node")
	dir := t.TempDir()
	tb, err := SourceTarball("6.5.0", SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	extract(t, tb, dir)
	bad := `{"PROVISIONING_TICKET": "SECRETVALUE" "PORT": 1}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("bad config.json accepted")
	}
	if strings.Contains(string(out), "SECRET") || !strings.Contains(string(out), "not valid JSON") {
		t.Errorf("output = %q", out)
	}
}

func TestSampleNpmCiOffline(t *testing.T) {
	lookTool(t, "node")
	npm := lookTool(t, "npm")
	dir := t.TempDir()
	tb, err := SourceTarball("6.5.0", SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	extract(t, tb, filepath.Join(dir, "app"))
	cmd := exec.Command(npm, "ci", "--omit=dev", "--offline", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = filepath.Join(dir, "app")
	cmd.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(dir, "cache"), "npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci --omit=dev: %v\n%s", err, out)
	}
}
