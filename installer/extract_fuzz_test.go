package installer

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// fileID returns a file's identity and link count where the platform tells
// them (set by extract_linux_test.go), to check that hard links stay
// inside dest.
var fileID func(fi os.FileInfo) (id [2]uint64, nlink uint64, ok bool)

// FuzzExtractTarGz extracts arbitrary bytes, as a .tar.gz or (gz false) as
// a tar the harness compresses, and checks that nothing lands outside the
// destination: nothing else appears beside it, no symlink in it resolves
// outside it, no hard link reaches a file outside it, no device, fifo or
// setuid file is created, and a refusal leaves no destination behind.
//
//	go test -run='^$' -fuzz=FuzzExtractTarGz -fuzztime=120s ./installer/
//
// Seeds and every input that once failed live in
// testdata/fuzz/FuzzExtractTarGz.
func FuzzExtractTarGz(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, gz bool, strip uint8) {
		if !gz {
			data = gzipBytes(t, data)
		}
		archive := filepath.Join(t.TempDir(), "in.tar.gz")
		if err := os.WriteFile(archive, data, 0o644); err != nil {
			t.Fatal(err)
		}
		parent := t.TempDir()
		outside := filepath.Join(parent, "outside")
		if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(parent, "dest")
		lim := ArchiveLimits{MaxBytes: 1 << 20, MaxEntries: 1000}
		err := extractTarGz(archive, dest, int(strip%3), lim, noCheck)

		ents, rerr := os.ReadDir(parent)
		if rerr != nil {
			t.Fatal(rerr)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		want := "dest outside"
		if err != nil {
			want = "outside"
		}
		if got := strings.Join(names, " "); got != want {
			t.Fatalf("extract err = %v; beside dest: %q, want %q", err, got, want)
		}
		if b, rerr := os.ReadFile(outside); rerr != nil || string(b) != "keep" {
			t.Fatalf("file beside dest changed: %q, %v", b, rerr)
		}
		if err != nil {
			return
		}
		checkInside(t, dest)
	})
}

// checkInside walks dest and fails on anything that reaches outside it.
func checkInside(t *testing.T, dest string) {
	t.Helper()
	links := map[[2]uint64]uint64{} // file id -> names seen in dest
	nlinks := map[[2]uint64]uint64{}
	err := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dest, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch m := fi.Mode(); {
		case m&os.ModeSymlink != 0:
			if reason := symlinkEscapes(dest, filepath.ToSlash(rel)); reason != "" {
				t.Errorf("symlink %s: %s", rel, reason)
			}
		case m.IsDir():
			if m.Perm() != 0o755 && rel != "." && runtime.GOOS != "windows" {
				t.Errorf("dir %s: mode %v", rel, m)
			}
		case m.IsRegular():
			if m&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != 0 || m.Perm()&0o022 != 0 && runtime.GOOS != "windows" {
				t.Errorf("file %s: mode %v", rel, m)
			}
			if fileID != nil {
				if id, n, ok := fileID(fi); ok {
					links[id]++
					nlinks[id] = n
				}
			}
		default:
			t.Errorf("%s: unexpected file type %v", rel, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range nlinks {
		if links[id] != n {
			t.Errorf("file %v has %d links but %d of them in dest: a hard link reaches outside", id, n, links[id])
		}
	}
}

// symlinkEscapes resolves the symlink at rel on the file system, the way
// the kernel would, and says how it gets out of dest, if it does.
func symlinkEscapes(dest, rel string) string {
	stack := strings.Split(rel, "/")
	stack = stack[:len(stack)-1]
	text, err := os.Readlink(filepath.Join(dest, filepath.FromSlash(rel)))
	if err != nil {
		return err.Error()
	}
	queue := strings.Split(filepath.ToSlash(text), "/")
	if filepath.IsAbs(text) || strings.HasPrefix(text, "/") {
		return "absolute target " + text
	}
	for hops := 0; len(queue) > 0; {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return "target " + text + " climbs out of dest"
			}
			stack = stack[:len(stack)-1]
			continue
		}
		p := filepath.Join(dest, filepath.FromSlash(strings.Join(append(stack[:len(stack):len(stack)], c), "/")))
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			stack = append(stack, c) // dangling below dest: harmless
			continue
		}
		if err != nil {
			return err.Error()
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			stack = append(stack, c)
			continue
		}
		if hops++; hops > 255 {
			return "" // a loop: the kernel says ELOOP, nothing is reached
		}
		t, err := os.Readlink(p)
		if err != nil {
			return err.Error()
		}
		if filepath.IsAbs(t) || strings.HasPrefix(t, "/") {
			return "goes through " + p + " to absolute " + t
		}
		queue = append(strings.Split(filepath.ToSlash(t), "/"), queue...)
	}
	return ""
}

var updateSeeds = flag.Bool("update-seeds", false, "write the generated seeds of FuzzExtractTarGz to testdata/fuzz")

// TestFuzzSeeds writes the generated part of FuzzExtractTarGz's seed corpus
// with -update-seeds (inputs kept from failures are left alone), and checks
// that the valid seeds extract.
func TestFuzzSeeds(t *testing.T) {
	ok := file(top+"ok.txt", "fine")
	seeds := []struct {
		name  string
		valid bool
		gz    bool
		strip uint8
		data  []byte
	}{
		{"valid-gz", true, true, 1, buildTarGz(t, true, dir(top), file(top+"package.json", `{"name":"x"}`),
			file(top+"lib/a.js", "1"), symlink(top+"lib/l.js", "a.js"), hardlink(top+"h.js", top+"lib/a.js"))},
		{"valid-tar", true, false, 1, gunzip(t, buildTarGz(t, true, dir(top), ok, dir(top+"lib/"),
			tarEntry{name: top + "lib/x.sh", body: "#!/bin/sh\n", mode: 0o4777}, symlink(top+"lib/up", "../ok.txt"),
			symlink(top+"lib/self", "."), symlink(top+"lib/via", "self/up"), hardlink(top+"h", top+"ok.txt")))},
		{"valid-nostrip", true, false, 0, gunzip(t, buildTarGz(t, false, file("a", "1"), dir("d/"), file("d/b", "2"), symlink("d/l", "../a")))},
		{"valid-strip2", true, false, 2, gunzip(t, buildTarGz(t, false, dir("a/"), dir("a/b/"), file("a/b/c", "1"), hardlink("a/b/h", "a/b/c")))},
		{"valid-long-names", true, false, 1, gunzip(t, buildTarGz(t, false, file(top+strings.Repeat("n", 150)+"/"+strings.Repeat("m", 120), "long"),
			symlink(top+"s", strings.Repeat("x/", 80)+"y")))},
		{"dotdot", false, false, 1, gunzip(t, buildTarGz(t, true, ok, file(top+"../evil", "x"), file(top+"a/../../evil2", "x")))},
		{"absolute", false, false, 1, gunzip(t, buildTarGz(t, true, ok, file("/tmp/evil", "x")))},
		{"symlink-escape", false, false, 1, gunzip(t, buildTarGz(t, true, ok, symlink(top+"d/l", ".."), symlink(top+"d/m", "l/..")))},
		{"symlink-absolute", false, false, 1, gunzip(t, buildTarGz(t, true, ok, symlink(top+"etc", "/etc")))},
		{"write-through-symlink", false, false, 1, gunzip(t, buildTarGz(t, true, ok, dir(top+"sub/"), symlink(top+"x", "sub"), file(top+"x/passwd", "x")))},
		{"hardlink-escape", false, false, 1, gunzip(t, buildTarGz(t, true, ok, hardlink(top+"h", "/etc/passwd"), hardlink(top+"g", top+"../../etc/passwd")))},
		{"device", false, false, 1, gunzip(t, buildTarGz(t, true, ok, tarEntry{name: top + "null", typ: tar.TypeChar}, tarEntry{name: top + "p", typ: tar.TypeFifo}))},
		{"over-size-cap", false, true, 1, hugeDeclared(t, 2<<20, 0)},
	}
	for _, s := range seeds {
		if *updateSeeds {
			var b bytes.Buffer
			fmt.Fprintf(&b, "go test fuzz v1\n[]byte(%s)\nbool(%v)\nuint8(%d)\n", strconv.Quote(string(s.data)), s.gz, s.strip)
			p := filepath.Join("testdata", "fuzz", "FuzzExtractTarGz", "seed-"+s.name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		data := s.data
		if !s.gz {
			data = gzipBytes(t, data)
		}
		dest := filepath.Join(t.TempDir(), "dest")
		err := extractTarGz(writeArchive(t, data), dest, int(s.strip), ArchiveLimits{MaxBytes: 1 << 20, MaxEntries: 1000}, noCheck)
		if s.valid && err != nil && runtime.GOOS != "windows" { // symbolic links need privileges there
			t.Errorf("seed %s: %v", s.name, err)
		}
		if !s.valid && !errors.Is(err, ErrUnsafeArchive) {
			t.Errorf("seed %s: err = %v, want ErrUnsafeArchive", s.name, err)
		}
	}
}
