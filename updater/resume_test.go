package updater

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testfeed"
)

func readSidecar(t *testing.T, dir, name string) partialState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".partial.json"))
	if err != nil {
		t.Fatalf("sidecar: %v", err)
	}
	var st partialState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("sidecar: %v", err)
	}
	return st
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// logTo collects Logf lines.
type logTo struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTo) logf(f string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(f, args...))
}

func (l *logTo) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// interrupt runs a Fetch of a into dir that gives up with cut bytes on
// disk: the connection is cut after cut bytes, then the server answers
// 503 to the retry.
func interrupt(t *testing.T, s *testfeed.Server, a Artifact, dir string, cut int64) {
	t.Helper()
	s.Inject(a.URL, 1, testfeed.Fault{CutAfter: cut})
	s.Inject(a.URL, 1, testfeed.Fault{Status: http.StatusServiceUnavailable})
	retry := noWait(nil)
	retry.Attempts = 2
	_, err := (&Downloader{Retry: retry}).Fetch(context.Background(), a, dir, VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), "503") || errors.Is(err, ErrVerification) {
		t.Fatalf("interrupted download: err = %v, want the 503", err)
	}
}

// The first Fetch is cut mid-way and gives up (its retry meets a 503); the
// second one sends only a range request and receives only the rest.
func TestFetchResumesAcrossCalls(t *testing.T) {
	body := payload(300_000)
	s, a := startFeed(t, body)
	dir := t.TempDir()
	interrupt(t, s, a, dir, 120_000)
	if got := fileSize(t, filepath.Join(dir, a.Name+".partial")); got != 120_000 {
		t.Fatalf("kept partial has %d bytes, want 120000", got)
	}
	st := readSidecar(t, dir, a.Name)
	if st.URL != a.URL || st.Size != 300_000 || !strings.HasPrefix(st.Validator, `"`) {
		t.Errorf("sidecar = %+v, want the URL, the ETag and the size", st)
	}

	s.ResetCounters()
	var logs logTo
	var progress bytes.Buffer
	d := &Downloader{Retry: RetryPolicy{Attempts: 1}, Logf: logs.logf, Progress: &progress}
	res, err := d.Fetch(context.Background(), a, dir, VerifyOptions{SHA256: sum(body)})
	if err != nil {
		t.Fatalf("resumed download: %v\nlogs:\n%s", err, logs.String())
	}
	if res.SHA256 != sum(body) || res.Size != 300_000 || res.Verified != "user-sha256" {
		t.Errorf("Result = %+v", res)
	}
	if got, _ := os.ReadFile(res.Path); !bytes.Equal(got, body) {
		t.Error("resumed file differs from the artifact")
	}
	if s.Requests(a.URL) != 1 || s.RangeRequests(a.URL) != 1 || s.BytesSent(a.URL) != 180_000 {
		t.Errorf("second Fetch: %d requests (%d with Range), %d bytes sent; want 1 range request for the remaining 180000",
			s.Requests(a.URL), s.RangeRequests(a.URL), s.BytesSent(a.URL))
	}
	if names := dirEntries(t, dir); len(names) != 1 || names[0] != a.Name {
		t.Errorf("dir holds %v, want only %s", names, a.Name)
	}
	if !strings.Contains(logs.String(), "resuming") {
		t.Errorf("logs should say it resumes:\n%s", logs.String())
	}
	// Progress counts the kept bytes: it reaches 100% of the whole file
	// and does not report the early steps again.
	if p := progress.String(); !strings.Contains(p, "100% (300 kB / 300 kB)") || strings.Contains(p, ": 10%") {
		t.Errorf("progress:\n%s", p)
	}
}

// Within one Fetch, a cut connection is retried from where it stopped.
func TestFetchRetryResumesWithinOneCall(t *testing.T) {
	body := payload(200_000)
	s, a := startFeed(t, body)
	s.Inject(a.URL, 2, testfeed.Fault{CutAfter: 50_000})
	var waits []time.Duration
	res, err := (&Downloader{Retry: noWait(&waits)}).Fetch(context.Background(), a, t.TempDir(), VerifyOptions{SHA256: sum(body)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != 200_000 || len(waits) != 2 {
		t.Errorf("Result %+v after %d waits", res, len(waits))
	}
	// 50000 + 50000 (cut again, from byte 50000) + the last 100000.
	if s.Requests(a.URL) != 3 || s.RangeRequests(a.URL) != 2 || s.BytesSent(a.URL) != 200_000 {
		t.Errorf("%d requests (%d with Range), %d bytes sent; want 3 (2 ranged), 200000",
			s.Requests(a.URL), s.RangeRequests(a.URL), s.BytesSent(a.URL))
	}
}

// The file changed on the server between the two calls: If-Range does not
// match, the server sends the whole new file and the kept bytes go.
func TestFetchResumeContentChanged(t *testing.T) {
	old, cur := payload(100_000), bytes.Repeat([]byte("new content "), 10_000)
	s, a := startFeed(t, old)
	dir := t.TempDir()
	d := &Downloader{Retry: RetryPolicy{Attempts: 1}}
	interrupt(t, s, a, dir, 40_000)
	if err := s.AddRelease(testfeed.ReleaseSpec{Version: "6.4.1", Tarball: cur}); err != nil {
		t.Fatal(err)
	}
	s.ResetCounters()
	var logs logTo
	d.Logf = logs.logf
	res, err := d.Fetch(context.Background(), a, dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 != sum(cur) || res.Size != int64(len(cur)) {
		t.Fatalf("Result = %+v, want the new file (sha256 %s)", res, sum(cur))
	}
	if s.RangeRequests(a.URL) != 1 || s.BytesSent(a.URL) != int64(len(cur)) {
		t.Errorf("%d range requests, %d bytes sent; want 1 and the whole new file", s.RangeRequests(a.URL), s.BytesSent(a.URL))
	}
	if !strings.Contains(logs.String(), "starting again") {
		t.Errorf("logs:\n%s", logs.String())
	}
	if names := dirEntries(t, dir); len(names) != 1 {
		t.Errorf("dir holds %v", names)
	}
}

// rangeBlindServer sends an ETag but ignores Range (always 200 and the
// whole file); its first answer is cut after cut bytes, its second is a
// 503.
func rangeBlindServer(t *testing.T, body []byte, cut int) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		n := len(ranges)
		mu.Unlock()
		if n == 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if n == 1 {
			w.Write(body[:cut])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &ranges
}

func TestFetchServerIgnoresRange(t *testing.T) {
	body := payload(80_000)
	srv, ranges := rangeBlindServer(t, body, 30_000)
	dir := t.TempDir()
	a := Artifact{Name: "x.msi", URL: srv.URL + "/x.msi", SHA256: sum(body)}
	d := &Downloader{Retry: noWait(nil)}
	d.Retry.Attempts = 2
	if _, err := d.Fetch(context.Background(), a, dir, VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want the 503", err)
	}
	if readSidecar(t, dir, "x.msi").SHA256 != sum(body) {
		t.Error("the sidecar should record the feed digest")
	}
	res, err := d.Fetch(context.Background(), a, dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified != "digest" || res.Size != 80_000 {
		t.Errorf("Result = %+v", res)
	}
	if want := []string{"", "bytes=30000-", "bytes=30000-"}; fmt.Sprint(*ranges) != fmt.Sprint(want) {
		t.Errorf("Range headers = %q, want %q", *ranges, want)
	}
	if names := dirEntries(t, dir); len(names) != 1 {
		t.Errorf("dir holds %v", names)
	}
}

// A kept partial longer than the file: the server answers 416 and the
// download starts again at once.
func TestFetchRange416(t *testing.T) {
	body := payload(10_000)
	s, a := startFeed(t, body)
	dir := t.TempDir()
	resp, err := http.Head(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	os.WriteFile(filepath.Join(dir, a.Name+".partial"), payload(20_000), 0o644)
	writePartialState(filepath.Join(dir, a.Name+".partial.json"), &partialState{URL: a.URL, Validator: etag, Size: -1})

	s.ResetCounters()
	res, err := (&Downloader{Retry: RetryPolicy{Attempts: 1}}).Fetch(context.Background(), a, dir, VerifyOptions{SHA256: sum(body)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != 10_000 || s.Requests(a.URL) != 2 || s.RangeRequests(a.URL) != 1 {
		t.Errorf("Result %+v after %d requests (%d with Range); want a 416 then the whole file", res, s.Requests(a.URL), s.RangeRequests(a.URL))
	}
}

// Bytes that fail verification are never kept, even when they came from a
// resumed download.
func TestFetchResumedThenVerificationFails(t *testing.T) {
	body := payload(60_000)
	s, a := startFeed(t, body)
	dir := t.TempDir()
	interrupt(t, s, a, dir, 20_000)
	if len(dirEntries(t, dir)) != 2 {
		t.Fatalf("dir holds %v, want the partial and its sidecar", dirEntries(t, dir))
	}
	s.ResetCounters()
	_, err := (&Downloader{}).Fetch(context.Background(), a, dir, VerifyOptions{SHA256: strings.Repeat("a", 64)})
	if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("err = %v", err)
	}
	if s.RangeRequests(a.URL) != 1 {
		t.Errorf("the second Fetch should have resumed")
	}
	assertEmpty(t, dir)
}

// Partials that are not this artifact's are not resumed: another URL,
// another feed digest, no sidecar, a sidecar without a validator.
func TestFetchDoesNotResumeForeignPartial(t *testing.T) {
	body := payload(5000)
	for _, tc := range []struct {
		name string
		st   *partialState // nil: no sidecar
		raw  string        // sidecar text instead of st
	}{
		{name: "no sidecar"},
		{name: "other URL", st: &partialState{URL: "http://127.0.0.1:1/other", Validator: `"x"`, Size: 5000}},
		{name: "other digest", st: &partialState{URL: "SELF", Validator: `"x"`, Size: 5000, SHA256: strings.Repeat("b", 64)}},
		{name: "other size", st: &partialState{URL: "SELF", Validator: `"x"`, Size: 4000}},
		{name: "no validator", raw: `{"url":"SELF","size":5000}`},
		{name: "garbage", raw: `{`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, a := startFeed(t, body)
			a.Size = 5000
			dir := t.TempDir()
			partial := filepath.Join(dir, a.Name+".partial")
			os.WriteFile(partial, []byte("not the artifact"), 0o644)
			switch {
			case tc.st != nil:
				if tc.st.URL == "SELF" {
					tc.st.URL = a.URL
				}
				writePartialState(partial+".json", tc.st)
			case tc.raw != "":
				os.WriteFile(partial+".json", []byte(strings.ReplaceAll(tc.raw, "SELF", a.URL)), 0o644)
			}
			res, err := (&Downloader{}).Fetch(context.Background(), a, dir, VerifyOptions{})
			if err != nil || res.SHA256 != sum(body) {
				t.Fatalf("Fetch = %+v, %v", res, err)
			}
			if s.RangeRequests(a.URL) != 0 {
				t.Error("a foreign partial was resumed")
			}
			if names := dirEntries(t, dir); len(names) != 1 {
				t.Errorf("dir holds %v", names)
			}
		})
	}
}

// Cancelling keeps a resumable partial; the next Fetch continues it.
func TestFetchResumeAfterCancel(t *testing.T) {
	body := payload(100_000)
	started := make(chan struct{})
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		n := len(ranges)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Last-Modified", "Tue, 01 Sep 2026 10:00:00 GMT")
			w.Header().Set("Content-Length", "100000")
			w.Write(body[:25_000])
			w.(http.Flusher).Flush()
			close(started)
			<-r.Context().Done()
			return
		}
		http.ServeContent(w, r, "", time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC), bytes.NewReader(body))
	}))
	defer srv.Close()
	dir := t.TempDir()
	a := Artifact{Name: "x.msi", URL: srv.URL + "/x.msi"}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, err := (&Downloader{}).Fetch(ctx, a, dir, VerifyOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := fileSize(t, filepath.Join(dir, "x.msi.partial")); got != 25_000 {
		t.Fatalf("kept %d bytes, want 25000", got)
	}
	if v := readSidecar(t, dir, "x.msi").Validator; v != "Tue, 01 Sep 2026 10:00:00 GMT" {
		t.Errorf("validator = %q, want the Last-Modified date (no ETag)", v)
	}
	res, err := (&Downloader{}).Fetch(context.Background(), a, dir, VerifyOptions{SHA256: sum(body)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != 100_000 || fmt.Sprint(ranges) != "[ bytes=25000-]" {
		t.Errorf("Result %+v, Range headers %q", res, ranges)
	}
}

func TestValidatorOf(t *testing.T) {
	for _, tc := range []struct {
		etag, lm, want string
	}{
		{`"abc"`, "", `"abc"`},
		{`"abc"`, "Tue, 01 Sep 2026 10:00:00 GMT", `"abc"`},
		{`W/"abc"`, "Tue, 01 Sep 2026 10:00:00 GMT", "Tue, 01 Sep 2026 10:00:00 GMT"},
		{`W/"abc"`, "", ""},
		{"", "yesterday", ""},
		{"", "", ""},
	} {
		h := http.Header{}
		if tc.etag != "" {
			h.Set("ETag", tc.etag)
		}
		if tc.lm != "" {
			h.Set("Last-Modified", tc.lm)
		}
		if got := validatorOf(&http.Response{Header: h}); got != tc.want {
			t.Errorf("ETag %q, Last-Modified %q: %q, want %q", tc.etag, tc.lm, got, tc.want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 100-999/1000", 100, 999, 1000, true},
		{"bytes 0-0/1", 0, 0, 1, true},
		{"bytes 5-9/*", 5, 9, -1, true},
		{"bytes */1000", 0, 0, 0, false},
		{"bytes 10-5/100", 0, 0, 0, false},
		{"bytes 0-99/50", 0, 0, 0, false},
		{"items 0-9/10", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		f, l, tot, ok := parseContentRange(tc.in)
		if ok != tc.ok || ok && (f != tc.first || l != tc.last || tot != tc.total) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", tc.in, f, l, tot, ok)
		}
	}
}

// Retries that run out on 5xx keep the partial; a 404 drops it.
func TestFetchPartialKeptOn5xxDroppedOn404(t *testing.T) {
	body := payload(90_000)
	s, a := startFeed(t, body)
	dir := t.TempDir()
	var waits []time.Duration
	d := &Downloader{Retry: noWait(&waits)}
	s.Inject(a.URL, 1, testfeed.Fault{CutAfter: 30_000})
	s.Inject(a.URL, 2, testfeed.Fault{Status: http.StatusBadGateway})
	_, err := d.Fetch(context.Background(), a, dir, VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "3 attempts") || errors.Is(err, ErrVerification) {
		t.Fatalf("err = %v, want 502 after 3 attempts", err)
	}
	if got := fileSize(t, filepath.Join(dir, a.Name+".partial")); got != 30_000 {
		t.Fatalf("kept %d bytes, want 30000", got)
	}

	s.Inject(a.URL, 1, testfeed.Fault{Status: http.StatusNotFound})
	_, err = d.Fetch(context.Background(), a, dir, VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want 404", err)
	}
	assertEmpty(t, dir)
}

// A body still cut short on the last attempt is a truncated download:
// refused, and its bytes are not kept.
func TestFetchCutOnLastAttemptKeepsPartialForNextRun(t *testing.T) {
	body := payload(50_000)
	s, a := startFeed(t, body)
	a.SHA256 = sum(body)
	s.Inject(a.URL, 3, testfeed.Fault{CutAfter: 10_000})
	dir := t.TempDir()
	_, err := (&Downloader{Retry: noWait(nil)}).Fetch(context.Background(), a, dir, VerifyOptions{})
	if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "truncated after") || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("err = %v, want a truncated download after 3 attempts", err)
	}
	// Each retry resumed the previous one: 10000 bytes each time.
	if s.RangeRequests(a.URL) != 2 || !strings.Contains(err.Error(), "30000 of 50000") {
		t.Errorf("%d range requests, err %v", s.RangeRequests(a.URL), err)
	}
	// What arrived is kept (never as the final file) and the next run
	// fetches only the rest.
	if _, err := os.Stat(filepath.Join(dir, a.Name)); !os.IsNotExist(err) {
		t.Fatal("a truncated download became the final file")
	}
	s.ResetCounters()
	res, err := (&Downloader{Retry: noWait(nil)}).Fetch(context.Background(), a, dir, VerifyOptions{})
	if err != nil || res.SHA256 != a.SHA256 {
		t.Fatalf("next run: %v", err)
	}
	if sent := s.BytesSent(a.URL); sent != 20_000 {
		t.Errorf("next run was sent %d bytes, want the missing 20000", sent)
	}
}
