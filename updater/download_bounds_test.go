package updater

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/adldapctl/adldapctl/platform"
)

// endlessServer sends payload(8 KiB) over and over, in chunks, without Content-Length, with
// a strong ETag (so the download would be resumable), until the client
// goes away or limit bytes are sent (limit < 0: never).
func endlessServer(t *testing.T, limit int64) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"endless"`)
		chunk := payload(8 << 10)
		for n := int64(0); limit < 0 || n < limit; {
			m, err := w.Write(chunk)
			n += int64(m)
			sent.Add(int64(m))
			if err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &sent
}

// countingWriter counts what reaches the partial.
func countingWriter(n *atomic.Int64) func(io.Writer) io.Writer {
	return func(w io.Writer) io.Writer {
		return writerFunc(func(p []byte) (int, error) {
			m, err := w.Write(p)
			n.Add(int64(m))
			return m, err
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestFetchStopsAtCapWithoutAnnouncedSize(t *testing.T) {
	srv, _ := endlessServer(t, -1)
	dir := t.TempDir()
	var written atomic.Int64
	const limit = 100_000
	d := &Downloader{MaxBytes: limit, wrapWriter: countingWriter(&written)}
	_, err := d.Fetch(context.Background(), Artifact{Name: "x.tar.gz", URL: srv.URL + "/x"}, dir, VerifyOptions{})
	if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "cap") || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("err = %v, want ErrVerification naming the cap and the URL", err)
	}
	if written.Load() != limit {
		t.Errorf("wrote %d bytes, want exactly the cap %d", written.Load(), limit)
	}
	assertEmpty(t, dir)
}

func TestDefaultMaxDownload(t *testing.T) {
	if DefaultMaxDownload != 2<<30 || (&Downloader{}).maxBytes() != DefaultMaxDownload || (&Downloader{MaxBytes: 5}).maxBytes() != 5 {
		t.Errorf("DefaultMaxDownload = %d, want 2 GiB as the default of MaxBytes", DefaultMaxDownload)
	}
}

// An announced size is the cap, whatever MaxBytes says; a body equal to
// it passes.
func TestFetchRefusesBodyLongerThanAnnounced(t *testing.T) {
	srv, _ := endlessServer(t, 200_000) // chunked: only the feed announces a size
	for _, tc := range []struct {
		name string
		size int64
		max  int64
	}{
		{"feed size under the cap", 50_000, 1 << 30},
		{"feed size over the cap", 50_000, 10_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var written atomic.Int64
			d := &Downloader{MaxBytes: tc.max, wrapWriter: countingWriter(&written)}
			_, err := d.Fetch(context.Background(), Artifact{Name: "x.msi", URL: srv.URL + "/x", Size: tc.size}, dir, VerifyOptions{})
			if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "50000 bytes the feed announces") {
				t.Fatalf("err = %v, want ErrVerification naming the announced size", err)
			}
			if written.Load() > tc.size {
				t.Errorf("wrote %d bytes, more than the %d announced", written.Load(), tc.size)
			}
			assertEmpty(t, dir)
		})
	}

	t.Run("exact size passes", func(t *testing.T) {
		body := bytes.Repeat(payload(8<<10), 3)
		exact, _ := endlessServer(t, int64(len(body)))
		res, err := (&Downloader{MaxBytes: 1}).Fetch(context.Background(), Artifact{Name: "x.msi", URL: exact.URL + "/x", Size: int64(len(body))}, t.TempDir(), VerifyOptions{})
		if err != nil || res.SHA256 != sum(body) {
			t.Fatalf("Fetch = %+v, %v", res, err)
		}
	})

	t.Run("local file grown past its size", func(t *testing.T) {
		// boundedReader is what stops a local copy too; checked directly.
		br := &boundedReader{r: bytes.NewReader(payload(10)), left: 9}
		got, err := io.ReadAll(br)
		if !errors.Is(err, errOverLimit) || len(got) != 9 || !br.over {
			t.Errorf("boundedReader: %d bytes, %v, over=%v", len(got), err, br.over)
		}
		br = &boundedReader{r: bytes.NewReader(payload(10)), left: 10}
		if got, err := io.ReadAll(br); err != nil || len(got) != 10 || br.over {
			t.Errorf("boundedReader at the limit: %d bytes, %v", len(got), err)
		}
	})
}

// symlinkOrSkip plants a symbolic link, or skips where the OS will not.
func symlinkOrSkip(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		if runtime.GOOS == "windows" {
			t.Skipf("cannot create symbolic links here: %v", err)
		}
		t.Fatal(err)
	}
}

// A link planted at any of the names Fetch writes fails the Fetch, names
// the link, and leaves the link and its target as they were.
func TestFetchRefusesPlantedLinks(t *testing.T) {
	body := payload(50_000)
	srv, _ := artifactServer(t, body)
	const victimContent = "root:$6$hash:19000:0:99999:7:::\n"
	for _, suffix := range []string{"", ".partial", ".partial.json"} {
		t.Run("at name"+suffix, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(t.TempDir(), "shadow")
			mtWrite(t, victim, victimContent)
			a := Artifact{Name: "adldap-v6.4.1.msi", URL: srv.URL + "/a", SHA256: sum(body)}
			link := filepath.Join(dir, a.Name+suffix)
			symlinkOrSkip(t, victim, link)
			_, err := (&Downloader{}).Fetch(context.Background(), a, dir, VerifyOptions{})
			if !errors.Is(err, platform.ErrPlantedLink) || !strings.Contains(err.Error(), link) {
				t.Fatalf("err = %v, want ErrPlantedLink naming %s", err, link)
			}
			if got, _ := os.ReadFile(victim); string(got) != victimContent {
				t.Errorf("the link's target was changed: %q", got)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the link itself should be left for the admin to see: %v", err)
			}
			if names := dirEntries(t, dir); len(names) != 1 {
				t.Errorf("dir holds %v, want only the link", names)
			}
		})
	}

	// A link planted at the final name while the download runs: the
	// rename refuses to replace it, and the partial goes.
	t.Run("at name during the download", func(t *testing.T) {
		dir := t.TempDir()
		victim := filepath.Join(t.TempDir(), "shadow")
		mtWrite(t, victim, victimContent)
		a := Artifact{Name: "adldap-v6.4.1.msi", SHA256: sum(body)}
		link := filepath.Join(dir, a.Name)
		racer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(body[:1000])
			w.(http.Flusher).Flush()
			os.Symlink(victim, link)
			w.Write(body[1000:])
		}))
		defer racer.Close()
		a.URL = racer.URL + "/a"
		_, err := (&Downloader{}).Fetch(context.Background(), a, dir, VerifyOptions{})
		if !errors.Is(err, platform.ErrPlantedLink) || !strings.Contains(err.Error(), link) {
			t.Fatalf("err = %v, want ErrPlantedLink naming %s", err, link)
		}
		if got, _ := os.ReadFile(victim); string(got) != victimContent {
			t.Errorf("the link's target was changed: %q", got)
		}
		if names := dirEntries(t, dir); len(names) != 1 {
			t.Errorf("dir holds %v, want only the link", names)
		}
	})
}

// Downloads are adldapctl's own files: 0600 in a 0700 folder, and a
// folder others can write to is refused.
func TestFetchOwnFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix modes")
	}
	body := payload(300_000)
	s, a := startFeed(t, body)
	dir := filepath.Join(t.TempDir(), "cache")
	interrupt(t, s, a, dir, 100_000)
	for _, name := range []string{a.Name + ".partial", a.Name + ".partial.json"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, fi.Mode())
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("download dir: %v, mode %v; want 0700", err, fi.Mode())
	}
	// A partial left 0644 by an older adldapctl becomes 0600 too.
	if err := os.Chmod(filepath.Join(dir, a.Name+".partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := (&Downloader{}).Fetch(context.Background(), a, dir, VerifyOptions{SHA256: sum(body)})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(res.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cached artifact: %v, mode %v; want 0600", err, fi.Mode())
	}

	open := t.TempDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err = (&Downloader{}).Fetch(context.Background(), a, open, VerifyOptions{})
	if !errors.Is(err, platform.ErrUnsafeDir) {
		t.Errorf("world-writable download dir: %v, want ErrUnsafeDir", err)
	}
	assertEmpty(t, open)
}
