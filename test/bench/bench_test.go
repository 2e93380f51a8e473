//go:build bench && linux

package bench

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/internal/testbed"
	"github.com/adldapctl/adldapctl/internal/testfeed"
	"github.com/adldapctl/adldapctl/updater"
)

const artifactMB = 200

// report prints one figure line on stdout (make bench shows them).
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	fmt.Println("BENCH " + line)
	t.Log(line)
}

func verdict(ok bool) string {
	if ok {
		return "target met"
	}
	return "TARGET MISSED"
}

func randomFile(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	buf := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(buf)) {
		r.Read(buf)
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// On disk before anything is timed: whoever syncs first (adldapctl's
	// Fetch does, the hashers do not) would otherwise flush it too.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fastest runs each of fs n times, interleaved so that every contender
// sees the same load on a shared machine, and returns each one's fastest.
func fastest(n int, fs ...func() time.Duration) []time.Duration {
	bests := make([]time.Duration, len(fs))
	for i := 0; i < n; i++ {
		for j, f := range fs {
			if d := f(); i == 0 || d < bests[j] {
				bests[j] = d
			}
		}
	}
	return bests
}

// TestBenchDownloadVerify: adldapctl's streamed download + sha256 verify
// over loopback HTTP against two hashers reading the same file from the
// page cache: `sha256sum` (coreutils) and `openssl dgst -sha256`, which
// uses SHA-NI where the CPU has it and so is this CPU's hashing limit.
func TestBenchDownloadVerify(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "artifact.bin")
	sum := randomFile(t, src, artifactMB<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, src) }))
	defer srv.Close()
	exec.Command("cat", src).Run() // warm the page cache for all

	hasher := func(name string, args ...string) func() time.Duration {
		return func() time.Duration {
			start := time.Now()
			out, err := exec.Command(name, append(args, src)...).Output()
			d := time.Since(start)
			if err != nil || !strings.Contains(string(out), sum) {
				t.Fatalf("%s: %v %s", name, err, out)
			}
			return d
		}
	}
	dl := &updater.Downloader{}
	ours := func() time.Duration {
		out := t.TempDir()
		start := time.Now()
		res, err := dl.Fetch(context.Background(), updater.Artifact{Name: "artifact.bin", URL: srv.URL + "/artifact.bin", Size: artifactMB << 20, SHA256: sum}, out, updater.VerifyOptions{})
		d := time.Since(start)
		if err != nil || res.SHA256 != sum {
			t.Fatalf("fetch: %v", err)
		}
		// Settle the removal (its journal commit and discards) here,
		// untimed, not in the next run's Sync.
		os.RemoveAll(out)
		syscall.Sync()
		return d
	}
	contenders := []func() time.Duration{ours, hasher("sha256sum")}
	_, noOpenSSL := exec.LookPath("openssl")
	if noOpenSSL == nil {
		contenders = append(contenders, hasher("openssl", "dgst", "-sha256"))
	}
	d := fastest(5, contenders...)
	mbps := func(d time.Duration) float64 { return float64(artifactMB) / d.Seconds() }
	line := func(base string, baseD time.Duration) {
		ratio := baseD.Seconds() / d[0].Seconds()
		report(t, "download+verify %d MB: adldapctl %.0f MB/s, %s %.0f MB/s, ratio %.2fx (target >= 0.8x): %s",
			artifactMB, mbps(d[0]), base, mbps(baseD), ratio, verdict(ratio >= 0.8))
	}
	line("sha256sum", d[1])
	if noOpenSSL != nil {
		report(t, "download+verify against openssl dgst -sha256: openssl not found, install it for this baseline")
		return
	}
	line("openssl dgst -sha256 ("+shaNI()+")", d[2])
}

// shaNI says whether this CPU hashes SHA-256 in hardware, which decides
// what openssl's figure means.
func shaNI() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			if slices.Contains(strings.Fields(v), "sha_ni") {
				return "SHA-NI"
			}
			return "no SHA-NI"
		}
	}
	return "SHA-NI unknown"
}

// TestBenchInstallPeakRSS installs a 200 MB artifact with the real binary
// and reads its VmHWM (peak resident set) while it runs.
func TestBenchInstallPeakRSS(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "adldapctl")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/adldapctl/adldapctl/cmd/adldapctl").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	blob := filepath.Join(dir, "blob.bin")
	randomFile(t, blob, artifactMB<<20)
	art := filepath.Join(dir, "ad-ldap-connector-v6.4.1.tar.gz")
	sum := bigTarball(t, art, blob)
	os.Remove(blob)

	cmd := exec.Command(bin, "--root", filepath.Join(dir, "root"), "install", "--from", art, "--sha256", sum, "--ticket", "https://t.example/p/ad/x")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var peak int64
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("install: %v", err)
			}
			running = false
		case <-tick.C:
			if kb := vmHWM(cmd.Process.Pid); kb > peak {
				peak = kb
			}
		}
	}
	mb := float64(peak) / 1024
	report(t, "install of a %d MB artifact: peak RSS %.1f MB (target < 64 MB): %s", artifactMB, mb, verdict(mb < 64))
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

// bigTarball writes a sample connector release with a large blob inside.
func bigTarball(t *testing.T, path, blob string) string {
	t.Helper()
	files, err := testfeed.SampleFiles("6.4.1", testfeed.SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	gz, _ := gzip.NewWriterLevel(io.MultiWriter(f, h), gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	top := testfeed.TopFolder("6.4.1") + "/"
	tw.WriteHeader(&tar.Header{Name: top, Typeflag: tar.TypeDir, Mode: 0o755})
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: top + n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n]))})
		tw.Write(files[n])
	}
	bf, _ := os.Open(blob)
	fi, _ := bf.Stat()
	tw.WriteHeader(&tar.Header{Name: top + "vendor/blob.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: fi.Size()})
	io.Copy(tw, bf)
	bf.Close()
	tw.Close()
	gz.Close()
	f.Close()
	return hex.EncodeToString(h.Sum(nil))
}

// TestBenchUpdateDowntime measures, in real systemd, how long the sample
// connector does not answer during `adldapctl update`, against its own cold
// start (systemctl start until it answers).
func TestBenchUpdateDowntime(t *testing.T) {
	testbed.RequireRoot(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "adldapctl")
	build := exec.Command("go", "build", "-o", bin, "github.com/adldapctl/adldapctl/cmd/adldapctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	feed, err := testfeed.Start("127.0.0.1:0", []testfeed.ReleaseSpec{{Version: "6.4.1"}, {Version: "6.5.0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	c := testbed.StartContainer(t)
	c.CopyIn(t, bin, "/usr/local/bin/adldapctl", 0o755)
	const port = 38431
	c.ExecOK(t, "mkdir", "-p", "/opt/auth0-adldap")
	c.WriteFile(t, "/opt/auth0-adldap/config.json", []byte(fmt.Sprintf("{\"PORT\": %d}\n", port)), 0o600)
	c.ExecOK(t, "adldapctl", "--feed", feed.URL, "install", "--version", "6.4.1", "--ticket", "https://t.example/p/ad/x")
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	client := &http.Client{Timeout: 500 * time.Millisecond}
	up := func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	waitUp := func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if up() {
				return
			}
		}
		t.Fatal("connector never answered")
	}
	waitUp()

	var colds []time.Duration
	for i := 0; i < 3; i++ {
		c.ExecOK(t, "systemctl", "stop", "auth0-adldap")
		start := time.Now()
		c.ExecOK(t, "systemctl", "start", "auth0-adldap")
		waitUp()
		colds = append(colds, time.Since(start))
	}
	var downs []time.Duration
	versions := []string{"6.5.0", "6.4.1", "6.5.0"}
	for _, v := range versions {
		var mu sync.Mutex
		var longest, cur time.Duration
		var downSince time.Time
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ok := up()
				now := time.Now()
				mu.Lock()
				if !ok && downSince.IsZero() {
					downSince = now
				}
				if ok && !downSince.IsZero() {
					cur = now.Sub(downSince)
					if cur > longest {
						longest = cur
					}
					downSince = time.Time{}
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
		c.ExecOK(t, "adldapctl", "--feed", feed.URL, "update", "--version", v, "--allow-downgrade", "--health-grace", "2s")
		waitUp()
		time.Sleep(50 * time.Millisecond)
		close(stop)
		wg.Wait()
		downs = append(downs, longest)
	}
	med := func(ds []time.Duration) time.Duration {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	cold, down := med(colds), med(downs)
	report(t, "update downtime %s (median of %v) vs connector cold start %s (median of %v): +%s (target <= cold start + 100ms): %s",
		down.Round(time.Millisecond), rounded(downs), cold.Round(time.Millisecond), rounded(colds), (down - cold).Round(time.Millisecond), verdict(down <= cold+100*time.Millisecond))
}

func rounded(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
