package installer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
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
	plan, err := validateArchive(bytes.NewReader(a), 1)
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
