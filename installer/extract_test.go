package installer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/adldapctl/adldapctl/updater"
)

// tarEntry describes one entry of a test archive.
type tarEntry struct {
	name string
	typ  byte // tar.TypeReg when zero
	body string
	link string
	mode int64 // 0644 (files) or 0755 (dirs) when zero
}

const top = "auth0-ad-ldap-connector-abc1234/"

func file(name, body string) tarEntry { return tarEntry{name: name, body: body} }
func dir(name string) tarEntry        { return tarEntry{name: name, typ: tar.TypeDir} }
func symlink(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeSymlink, link: target}
}
func hardlink(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeLink, link: target}
}

// buildTarGz writes entries as a gzip-compressed tar, preceded by a
// pax_global_header as GitHub's source tarballs are when globalHeader is set.
func buildTarGz(t *testing.T, globalHeader bool, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if globalHeader {
		err := tw.WriteHeader(&tar.Header{
			Typeflag:   tar.TypeXGlobalHeader,
			Name:       "pax_global_header",
			PAXRecords: map[string]string{"comment": "abc1234def5678"},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Uid: 4242, Gid: 4242}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("write header %q: %v", e.name, err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeArchive(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src.tar.gz")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func validArchive(t *testing.T) []byte {
	return buildTarGz(t, true,
		dir(top),
		tarEntry{name: top + "package.json", body: `{"name":"x"}`, mode: 0o664},
		tarEntry{name: top + "bin/run.sh", body: "#!/bin/sh\necho hi\n", mode: 0o775},
		dir(top+"lib/"),
		file(top+"lib/a.js", "module.exports = 1;\n"),
		tarEntry{name: top + "lib/setuid", body: "x", mode: 0o4755},
		tarEntry{name: top + "lib/world", body: "w", mode: 0o666},
		symlink(top+"lib/link.js", "a.js"),
		symlink(top+"lib/self", "."),
		symlink(top+"lib/up", "../package.json"),
		symlink(top+"lib/viaself", "self/self/a.js"),
		hardlink(top+"hard.js", top+"lib/a.js"),
		file(top+"deep/x/y/z.txt", "deep"),
		file(top+"empty", ""),
		file(top+"big.bin", strings.Repeat("0123456789abcdef", 1<<16)),
	)
}

func TestExtractTarGzValid(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	archive := writeArchive(t, validArchive(t))
	for _, existing := range []bool{false, true} {
		dest := filepath.Join(t.TempDir(), "stage", "dest")
		if existing {
			if err := os.MkdirAll(dest, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := ExtractTarGz(archive, dest, 1); err != nil {
			t.Fatalf("ExtractTarGz (dest existing=%v): %v", existing, err)
		}

		wantFiles := map[string]struct {
			body string
			mode os.FileMode
		}{
			"package.json":   {`{"name":"x"}`, 0o644},
			"bin/run.sh":     {"#!/bin/sh\necho hi\n", 0o755},
			"lib/a.js":       {"module.exports = 1;\n", 0o644},
			"lib/setuid":     {"x", 0o755},
			"lib/world":      {"w", 0o644},
			"hard.js":        {"module.exports = 1;\n", 0o644},
			"deep/x/y/z.txt": {"deep", 0o644},
			"empty":          {"", 0o644},
			"big.bin":        {strings.Repeat("0123456789abcdef", 1<<16), 0o644},
		}
		for rel, want := range wantFiles {
			p := filepath.Join(dest, filepath.FromSlash(rel))
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want.body {
				t.Errorf("%s: content %q, want %q", rel, truncate(string(got)), truncate(want.body))
			}
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != want.mode {
				t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), want.mode)
			}
		}
		for _, d := range []string{".", "bin", "lib", "deep", "deep/x", "deep/x/y"} {
			fi, err := os.Lstat(filepath.Join(dest, d))
			if err != nil {
				t.Fatal(err)
			}
			if d == "." && existing {
				continue // dest itself is the caller's
			}
			if fi.Mode() != os.ModeDir|0o755 {
				t.Errorf("dir %s: mode %v, want drwxr-xr-x", d, fi.Mode())
			}
		}
		for link, target := range map[string]string{"lib/link.js": "a.js", "lib/self": ".", "lib/up": "../package.json", "lib/viaself": "self/self/a.js"} {
			got, err := os.Readlink(filepath.Join(dest, link))
			if err != nil {
				t.Fatal(err)
			}
			if got != target {
				t.Errorf("%s -> %q, want %q", link, got, target)
			}
		}
		if b, err := os.ReadFile(filepath.Join(dest, "lib", "viaself")); err != nil || string(b) != "module.exports = 1;\n" {
			t.Errorf("read through lib/viaself: %q, %v", b, err)
		}
		a, _ := os.Stat(filepath.Join(dest, "lib", "a.js"))
		h, _ := os.Stat(filepath.Join(dest, "hard.js"))
		if !os.SameFile(a, h) {
			t.Error("hard.js is not a hard link to lib/a.js")
		}
		for _, name := range []string{"auth0-ad-ldap-connector-abc1234", "pax_global_header"} {
			if _, err := os.Lstat(filepath.Join(dest, name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s should not exist in dest: %v", name, err)
			}
		}
	}
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func TestExtractTarGzNoStrip(t *testing.T) {
	archive := writeArchive(t, buildTarGz(t, true, dir(top), file(top+"a.txt", "a")))
	dest := filepath.Join(t.TempDir(), "dest")
	if err := ExtractTarGz(archive, dest, 0); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, top, "a.txt")); err != nil || string(b) != "a" {
		t.Fatalf("a.txt: %q, %v", b, err)
	}
}

func TestExtractTarGzDestNotEmpty(t *testing.T) {
	archive := writeArchive(t, buildTarGz(t, false, file(top+"a.txt", "new")))
	dest := t.TempDir()
	keep := filepath.Join(dest, "keep")
	if err := os.WriteFile(keep, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := ExtractTarGz(archive, dest, 1)
	if err == nil || errors.Is(err, ErrUnsafeArchive) {
		t.Fatalf("want a plain error for a non-empty dest, got %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dest, "a.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a.txt was written into a non-empty dest")
	}
	if b, _ := os.ReadFile(keep); string(b) != "old" {
		t.Error("existing file changed")
	}
}

func TestExtractTarGzRefusals(t *testing.T) {
	ok := file(top+"ok.txt", "fine")
	valid := validArchive(t)
	tests := []struct {
		name    string
		data    []byte
		wantMsg string
	}{
		{"dotdot", buildTarGz(t, true, dir(top), ok, file(top+"../evil", "x")), ".. component"},
		{"dotdot deep", buildTarGz(t, true, ok, file(top+"a/../../evil", "x")), ".. component"},
		{"dotdot dir", buildTarGz(t, true, ok, dir(top+"a/../../")), ".. component"},
		{"absolute", buildTarGz(t, true, ok, file("/etc/cron.d/evil", "x")), "absolute path"},
		{"windows drive", buildTarGz(t, true, ok, file(`C:\Windows\evil`, "x")), "absolute Windows path"},
		{"windows drive slash", buildTarGz(t, true, ok, file(`c:/evil`, "x")), "absolute Windows path"},
		{"unc", buildTarGz(t, true, ok, file(`\\server\share\evil`, "x")), "backslashes"},
		{"backslash climb", buildTarGz(t, true, ok, file(top+`..\..\evil`, "x")), "backslashes"},
		{"symlink absolute", buildTarGz(t, true, ok, symlink(top+"etc", "/etc")), "absolute target"},
		{"symlink windows absolute", buildTarGz(t, true, ok, symlink(top+"win", `C:\Windows`)), "absolute Windows target"},
		{"symlink climb", buildTarGz(t, true, ok, symlink(top+"a/b/l", "../../../etc")), "outside the destination"},
		{"symlink to parent of dest", buildTarGz(t, true, ok, symlink(top+"l", "..")), "outside the destination"},
		{"symlink chain", buildTarGz(t, true, ok, symlink(top+"d/l", ".."), symlink(top+"d/m", "l/..")), "outside the destination"},
		{"symlink chain declared later", buildTarGz(t, true, ok, symlink(top+"d/m", "l/.."), symlink(top+"d/l", "..")), "outside the destination"},
		{"symlink loop", buildTarGz(t, true, ok, symlink(top+"a", "b"), symlink(top+"b", "a/x")), "too many levels"},
		{"symlink empty", buildTarGz(t, true, ok, symlink(top+"e", "")), "empty target"},
		{"write through symlink", buildTarGz(t, true, ok, dir(top+"sub/"), symlink(top+"x", "sub"), file(top+"x/passwd", "x")), "is a symbolic link"},
		{"write through escaping symlink", buildTarGz(t, true, ok, symlink(top+"x", "/etc"), file(top+"x/passwd", "x")), "absolute target"},
		{"symlink replaces dir", buildTarGz(t, true, ok, file(top+"d/f", "x"), symlink(top+"d", ".")), "already used"},
		{"duplicate file", buildTarGz(t, true, ok, file(top+"ok.txt", "again")), "already used"},
		{"file under file", buildTarGz(t, true, ok, file(top+"ok.txt/x", "x")), "not a directory"},
		{"hardlink absolute", buildTarGz(t, true, ok, hardlink(top+"h", "/etc/shadow")), "outside the destination"},
		{"hardlink climb", buildTarGz(t, true, ok, hardlink(top+"h", top+"../../etc/shadow")), "outside the destination"},
		{"hardlink other top", buildTarGz(t, true, ok, hardlink(top+"h", "elsewhere/ok.txt")), "outside the destination"},
		{"hardlink to top dir", buildTarGz(t, true, ok, hardlink(top+"h", top)), "outside the destination"},
		{"hardlink forward", buildTarGz(t, true, hardlink(top+"h", top+"later.txt"), file(top+"later.txt", "x")), "not an earlier regular file"},
		{"hardlink missing", buildTarGz(t, true, ok, hardlink(top+"h", top+"nope")), "not an earlier regular file"},
		{"hardlink to dir", buildTarGz(t, true, ok, dir(top+"d/"), hardlink(top+"h", top+"d")), "not an earlier regular file"},
		{"hardlink to symlink", buildTarGz(t, true, ok, symlink(top+"s", "ok.txt"), hardlink(top+"h", top+"s")), "not an earlier regular file"},
		{"char device", buildTarGz(t, true, ok, tarEntry{name: top + "null", typ: tar.TypeChar}), "device"},
		{"block device", buildTarGz(t, true, ok, tarEntry{name: top + "sda", typ: tar.TypeBlock}), "device"},
		{"fifo", buildTarGz(t, true, ok, tarEntry{name: top + "pipe", typ: tar.TypeFifo}), "fifo"},
		{"unsupported type", buildTarGz(t, true, ok, tarEntry{name: top + "cont", typ: tar.TypeCont}), "unsupported entry type"},
		{"two top folders", buildTarGz(t, true, dir(top), ok, dir("other/"), file("other/b", "x")), "more than one top-level folder"},
		{"file at top level", buildTarGz(t, true, ok, file("README", "x")), "more than one top-level folder"},
		{"file as top", buildTarGz(t, true, file("README", "x")), "empty after stripping"},
		{"truncated gzip", valid[:len(valid)/2], "corrupt or truncated"},
		{"gzip trailer cut", valid[:len(valid)-4], "corrupt or truncated"},
		{"corrupt byte", flipByte(valid, len(valid)/2), "corrupt or truncated"},
		{"garbage", []byte("this is not a gzip stream at all, just some garbage bytes"), "corrupt or truncated"},
		{"gzip of garbage", gzipBytes(t, bytes.Repeat([]byte("garbage!"), 200)), "corrupt or truncated"},
		{"empty file", nil, "corrupt or truncated"},
		{"empty archive", buildTarGz(t, false), "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := writeArchive(t, tt.data)

			// dest missing: it must not be created.
			dest := filepath.Join(t.TempDir(), "dest")
			err := ExtractTarGz(archive, dest, 1)
			if !errors.Is(err, ErrUnsafeArchive) {
				t.Fatalf("err = %v, want ErrUnsafeArchive", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantMsg)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			if _, err := os.Lstat(dest); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("dest was created: %v", err)
			}

			// dest existing and empty: it must stay empty.
			dest = t.TempDir()
			if err := ExtractTarGz(archive, dest, 1); !errors.Is(err, ErrUnsafeArchive) {
				t.Fatalf("existing dest: err = %v, want ErrUnsafeArchive", err)
			}
			assertEmptyDir(t, dest)
		})
	}
}

func TestExtractTarGzErrorNamesEntry(t *testing.T) {
	archive := writeArchive(t, buildTarGz(t, true, file(top+"ok", "x"), symlink(top+"lib/out", "../../../../etc/passwd")))
	err := ExtractTarGz(archive, filepath.Join(t.TempDir(), "d"), 1)
	if err == nil || !strings.Contains(err.Error(), `"`+top+`lib/out"`) || !strings.Contains(err.Error(), "../../../../etc/passwd") {
		t.Fatalf("error should name the entry and its target: %v", err)
	}
	archive = writeArchive(t, buildTarGz(t, true, file(top+"../evil", "x")))
	err = ExtractTarGz(archive, filepath.Join(t.TempDir(), "d"), 1)
	if err == nil || !strings.Contains(err.Error(), top+"../evil") {
		t.Fatalf("error should name the entry: %v", err)
	}
}

// TestExtractChangedArchive replays pass 2 over a different archive than
// the one pass 1 validated: it must notice, and remove what it wrote.
func TestExtractChangedArchive(t *testing.T) {
	a := buildTarGz(t, false, file(top+"a", "1"), file(top+"b", "2"))
	b := buildTarGz(t, false, file(top+"a", "1"), symlink(top+"b", "/etc"))
	plan, err := validateArchive(bytes.NewReader(a), 1, DefaultArchiveLimits)
	if err != nil {
		t.Fatal(err)
	}
	for _, existing := range []bool{false, true} {
		dest := filepath.Join(t.TempDir(), "dest")
		if existing {
			dest = t.TempDir()
		}
		err = extractPlan(bytes.NewReader(b), plan, dest)
		if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), "changed") {
			t.Fatalf("err = %v, want archive changed", err)
		}
		if existing {
			assertEmptyDir(t, dest)
		} else if _, err := os.Lstat(dest); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dest left behind: %v", err)
		}
	}
}

func TestExtractTarGzNegativeStrip(t *testing.T) {
	archive := writeArchive(t, buildTarGz(t, false, file("a", "1")))
	if err := ExtractTarGz(archive, filepath.Join(t.TempDir(), "d"), -1); err == nil {
		t.Fatal("want an error for strip -1")
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("dest is not empty: %v", names)
	}
}

func flipByte(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if _, err := gz.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hugeDeclared is a small .tar.gz whose one file declares size bytes and is
// followed by body bytes of zeros, then nothing: reading past its header
// would find a truncated archive.
func hugeDeclared(t *testing.T, size int64, body int) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: top + "node_modules/bomb.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(make([]byte, body)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Flush(); err != nil && !strings.Contains(err.Error(), "missed writing") {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// noCheck stands in for a free-space check that finds enough room.
func noCheck(string, int64) error { return nil }

func TestExtractRefusesOverSizeCapBeforeReading(t *testing.T) {
	archive := writeArchive(t, hugeDeclared(t, 10<<30, 2<<20))
	dest := filepath.Join(t.TempDir(), "dest")
	start := time.Now()
	err := ExtractTarGz(archive, dest, 1)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrUnsafeArchive) {
		t.Fatalf("err = %v, want ErrUnsafeArchive", err)
	}
	// Had the body been read, the error would be about truncation.
	for _, s := range []string{"node_modules/bomb.bin", "11 GB", "4.3 GB", "raise the archive limit", "--max-unpacked-size"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("err = %q, want it to mention %q", err, s)
		}
	}
	if _, err := os.Lstat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dest was created: %v", err)
	}
	t.Logf("refused in %v: %v", elapsed, err)
	if elapsed > 2*time.Second {
		t.Errorf("refusal took %v", elapsed)
	}
}

func TestExtractSizeCap(t *testing.T) {
	files := []tarEntry{dir(top), file(top+"a", strings.Repeat("a", 600)), file(top+"b", strings.Repeat("b", 400)), file(top+"c", "")}
	archive := writeArchive(t, buildTarGz(t, true, files...))
	if err := extractTarGz(archive, filepath.Join(t.TempDir(), "d"), 1, ArchiveLimits{MaxBytes: 1000}, noCheck); err != nil {
		t.Fatalf("exactly at the cap: %v", err)
	}
	archive = writeArchive(t, buildTarGz(t, true, append(files, file(top+"d", "x"))...))
	dest := filepath.Join(t.TempDir(), "d")
	err := extractTarGz(archive, dest, 1, ArchiveLimits{MaxBytes: 1000}, noCheck)
	if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), `"`+top+`d"`) || !strings.Contains(err.Error(), "1000 bytes") {
		t.Fatalf("one byte over: err = %v, want ErrUnsafeArchive naming entry d and the cap", err)
	}
	if _, err := os.Lstat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dest was created: %v", err)
	}
}

func TestExtractEntryCap(t *testing.T) {
	entries := []tarEntry{dir(top)}
	for i := range 99 {
		entries = append(entries, file(fmt.Sprintf("%sf%03d", top, i), "x"))
	}
	data := buildTarGz(t, true, entries...) // 101 headers with the global one
	lim := ArchiveLimits{MaxEntries: 101}
	if err := extractTarGz(writeArchive(t, data), filepath.Join(t.TempDir(), "d"), 1, lim, noCheck); err != nil {
		t.Fatalf("exactly at the cap: %v", err)
	}
	lim.MaxEntries = 100
	dest := filepath.Join(t.TempDir(), "d")
	err := extractTarGz(writeArchive(t, data), dest, 1, lim, noCheck)
	if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), "more than 100 entries") || !strings.Contains(err.Error(), "raise") {
		t.Fatalf("err = %v, want ErrUnsafeArchive: more than 100 entries", err)
	}
	if _, err := os.Lstat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dest was created: %v", err)
	}

	// Reading stops at the entry over the cap: what follows is never read.
	cut := buildTarGz(t, true, append(entries, file(top+"over", "x"), tarEntry{name: top + "dev", typ: tar.TypeChar})...)
	lim.MaxEntries = 101
	err = extractTarGz(writeArchive(t, cut[:len(cut)-20]), dest, 1, lim, noCheck)
	if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), "more than 101 entries") {
		t.Fatalf("err = %v, want the entry cap, not a truncation or the device", err)
	}
}

// TestExtractReadBudget: an archive that declares little but decompresses
// to much (huge PAX records, data after the end of the tar) is refused
// once the reading outgrows its entries.
func TestExtractReadBudget(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for i := range 8 {
		h := &tar.Header{Name: fmt.Sprintf("%sf%d", top, i), Typeflag: tar.TypeReg, Mode: 0o644,
			PAXRecords: map[string]string{"comment": strings.Repeat("z", 900<<10)}}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	gz.Close()
	dest := filepath.Join(t.TempDir(), "d")
	err := ExtractTarGz(writeArchive(t, buf.Bytes()), dest, 1)
	if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), "more data than its entries account for") {
		t.Fatalf("huge PAX records: err = %v", err)
	}

	tarball := gunzip(t, buildTarGz(t, true, dir(top), file(top+"a", "a")))
	padded := gzipBytes(t, append(tarball, make([]byte, 10<<10)...)) // record padding, as tar(1) writes
	if err := ExtractTarGz(writeArchive(t, padded), filepath.Join(t.TempDir(), "d"), 1); err != nil {
		t.Fatalf("padding: %v", err)
	}
	trailing := gzipBytes(t, append(tarball, make([]byte, 4<<20)...))
	err = ExtractTarGz(writeArchive(t, trailing), dest, 1)
	if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), "more data than its entries account for") {
		t.Fatalf("4 MiB after the end of the tar: err = %v", err)
	}
	if _, err := os.Lstat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dest was created: %v", err)
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// spaceAsked stands in for updater.CheckFreeSpace.
type spaceAsked struct {
	have      int64
	dir       string
	need      int64
	undecided bool
}

func (s *spaceAsked) check(dir string, need int64) error {
	s.dir, s.need = dir, need
	if s.undecided {
		return errors.New("statfs: not supported")
	}
	if need > s.have {
		return fmt.Errorf("%w: not enough space in %s: need %d, have %d", updater.ErrNoSpace, dir, need, s.have)
	}
	return nil
}

func TestExtractChecksFreeSpace(t *testing.T) {
	body := strings.Repeat("0123456789", 100_000)
	archive := writeArchive(t, buildTarGz(t, true, dir(top), file(top+"lib/big", body), file(top+"lib/small", "x")))
	parent := t.TempDir()
	dest := filepath.Join(parent, "not", "yet", "staging")

	s := &spaceAsked{have: 1_000_000}
	err := extractTarGz(archive, dest, 1, DefaultArchiveLimits, s.check)
	if !errors.Is(err, updater.ErrNoSpace) || errors.Is(err, ErrUnsafeArchive) {
		t.Fatalf("err = %v, want ErrNoSpace and not ErrUnsafeArchive", err)
	}
	for _, want := range []string{dest, parent, "1.0 MB", "need"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to mention %q", err, want)
		}
	}
	// 1,000,001 bytes in 2 files and a folder: whole blocks, 5%, 1 MiB.
	blocks := int64(1_003_520 + 4096 + 4096)
	if s.dir != parent || s.need != blocks+blocks/20+1<<20 {
		t.Errorf("asked for %d bytes in %s, want %d in %s (nearest existing parent)", s.need, s.dir, blocks+blocks/20+1<<20, parent)
	}
	if _, err := os.Lstat(filepath.Join(parent, "not")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("something was created: %v", err)
	}

	s = &spaceAsked{have: 1 << 40}
	if err := extractTarGz(archive, dest, 1, DefaultArchiveLimits, s.check); err != nil {
		t.Fatal(err)
	}
	dest2 := t.TempDir() // existing and empty: asked about itself
	s = &spaceAsked{undecided: true}
	if err := extractTarGz(archive, dest2, 1, DefaultArchiveLimits, s.check); err != nil {
		t.Fatalf("unknown free space must not block: %v", err)
	}
	if s.dir != dest2 {
		t.Errorf("asked about %s, want the existing dest %s", s.dir, dest2)
	}
}

func TestArchiveLimitsDefaults(t *testing.T) {
	lim, err := ArchiveLimits{}.withDefaults()
	if err != nil || lim != DefaultArchiveLimits {
		t.Errorf("zero limits = %+v, %v; want the defaults %+v", lim, err, DefaultArchiveLimits)
	}
	archive := writeArchive(t, buildTarGz(t, false, file(top+"a", "1")))
	if err := ExtractTarGzLimited(archive, filepath.Join(t.TempDir(), "d"), 1, ArchiveLimits{MaxBytes: -1}); err == nil || errors.Is(err, ErrUnsafeArchive) {
		t.Errorf("negative limit: err = %v, want a plain error", err)
	}
}

// TestExtractHostileShapes: paths and links shaped to make validation
// slow or large are refused, or validated, quickly.
func TestExtractHostileShapes(t *testing.T) {
	long := top + strings.Repeat("a/", 2100) + "f"
	deep := top + strings.Repeat("d/", 250)
	var deepFiles []tarEntry
	for i := range 2000 {
		deepFiles = append(deepFiles, file(fmt.Sprintf("%sf%d", deep, i), ""))
	}
	var deepLinks []tarEntry
	for i := range 200 {
		deepLinks = append(deepLinks, symlink(fmt.Sprintf("%sl%d", deep+strings.Repeat("ddddddd/", 1), i), strings.Repeat("x/", 2000)))
	}
	tests := []struct {
		name    string
		entries []tarEntry
		lim     ArchiveLimits
		wantMsg string // "" when it must extract
	}{
		{"path over PATH_MAX", []tarEntry{file(long, "x")}, DefaultArchiveLimits, "longer than 4096 bytes"},
		{"path over maxDepth", []tarEntry{file(top+strings.Repeat("a/", 256)+"f", "x")}, DefaultArchiveLimits, "deeper than 256"},
		{"link over PATH_MAX", []tarEntry{symlink(top+"l", strings.Repeat("b/", 2100))}, DefaultArchiveLimits, "longer than 4096 bytes"},
		{"implied folders count", []tarEntry{file(top+"a/b/c/d/e", "x")}, ArchiveLimits{MaxEntries: 4}, "more than 4 entries"},
		{"many deep files", deepFiles, DefaultArchiveLimits, ""},
		{"many deep links", deepLinks, DefaultArchiveLimits, "too many or too deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := writeArchive(t, buildTarGz(t, false, tt.entries...))
			start := time.Now()
			err := extractTarGz(archive, filepath.Join(t.TempDir(), "d"), 1, tt.lim, noCheck)
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %.300v, want ErrUnsafeArchive mentioning %q", err, tt.wantMsg)
			}
		})
	}
}

// TestExtractWindowsNames: extracting on Windows refuses the names Windows
// reads as another file (reserved devices, alternate data streams, trailing
// dots and spaces); on Linux the same names are plain files.
func TestExtractWindowsNames(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"lib/CON", "reserved Windows device name"},
		{"lib/nul.js", "reserved Windows device name"},
		{"LPT1/x.js", "reserved Windows device name"},
		{"lib/profileMapper.js:evil", "alternate data stream"},
		{"config.json::$DATA", "alternate data stream"},
		{"lib/profileMapper.js.", "ends in a dot or space"},
		{"certs /cert.key", "ends in a dot or space"},
		{"PROGRA~1/x", "short (8.3) name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			archive := writeArchive(t, buildTarGz(t, false, file(top+"server.js", "x"), file(top+tt.name, "y")))
			windowsNames = true
			err := extractTarGz(archive, filepath.Join(t.TempDir(), "d"), 1, DefaultArchiveLimits, noCheck)
			windowsNames = false
			if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("on Windows: err = %v, want ErrUnsafeArchive mentioning %q", err, tt.want)
			}
			if err := extractTarGz(archive, filepath.Join(t.TempDir(), "d"), 1, DefaultArchiveLimits, noCheck); err != nil {
				t.Fatalf("on Linux %q is a plain name: %v", tt.name, err)
			}
		})
	}
}
