package installer

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// ErrUnsafeArchive is wrapped by every refusal of ExtractTarGz: an entry that
// would land outside the destination, a link pointing out of it, a device or
// fifo, an unexpected layout, or a corrupt or truncated archive.
var ErrUnsafeArchive = errors.New("unsafe archive")

// maxSymlinkHops bounds symlink expansion while validating link targets, as
// the kernel does (ELOOP).
const maxSymlinkHops = 40

// ExtractTarGz extracts the gzip-compressed tar archive at archivePath into
// dest, removing the first strip path components of every entry (1 for a
// GitHub source tarball, whose entries all live under one top folder).
//
// It works in two passes. The first reads the whole archive and validates
// every entry before anything is created; any refusal wraps
// ErrUnsafeArchive and names the entry and the reason. The second pass
// extracts into dest, which is created (0755) when missing and must be empty
// when it exists. File modes are kept without setuid/setgid/sticky and
// without group/other write; directories are 0755; ownership is ignored.
// Symbolic links are created last. If the second pass fails, what it created
// is removed again.
func ExtractTarGz(archivePath, dest string, strip int) error {
	if strip < 0 {
		return fmt.Errorf("extract %s: negative strip count %d", archivePath, strip)
	}
	if err := checkDestEmpty(dest); err != nil {
		return err
	}
	f, err := os.Open(archivePath)
	if err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()

	plan, err := validateArchive(f, strip)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind archive: %w", err)
	}
	return extractPlan(f, plan, dest)
}

// checkDestEmpty reports an error unless dest is missing or an empty directory.
func checkDestEmpty(dest string) error {
	fi, err := os.Stat(dest)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("extract destination: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("extract destination %s exists and is not a directory", dest)
	}
	d, err := os.Open(dest)
	if err != nil {
		return fmt.Errorf("extract destination: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("extract destination: %w", err)
	}
	if len(names) > 0 {
		return fmt.Errorf("extract destination %s is not empty; remove it or choose an empty directory", dest)
	}
	return nil
}

// planEntry is one archive header as validated by pass 1.
type planEntry struct {
	name     string // header name, to recognise the entry in pass 2
	typ      byte
	linkname string // header linkname, as in the archive
	size     int64

	skip   bool        // global header, or a directory stripped away
	rel    string      // slash-separated path below dest
	target string      // hardlink: rel of the target; symlink: link text
	mode   os.FileMode // regular files
}

type nodeKind int

const (
	kindDir nodeKind = iota + 1
	kindFile
	kindSymlink
)

// validator holds the state of pass 1: the tree the archive would produce.
type validator struct {
	strip    int
	prefix   []string // the stripped leading components, as first seen
	tree     map[string]nodeKind
	symlinks map[string]string // rel -> link text
	names    map[string]string // symlink rel -> header name, for messages
	order    []string          // symlink rels in archive order
}

func unsafeEntry(name, format string, args ...any) error {
	return fmt.Errorf("%w: entry %q: %s", ErrUnsafeArchive, name, fmt.Sprintf(format, args...))
}

// errRecorder remembers an I/O error of the underlying file, so that a read
// failure is not reported as a corrupt archive.
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

func streamError(rec *errRecorder, err error) error {
	if rec.err != nil {
		return fmt.Errorf("read archive: %w", rec.err)
	}
	return fmt.Errorf("%w: archive is corrupt or truncated: %v", ErrUnsafeArchive, err)
}

// validateArchive is pass 1. It reads r to the end (including the gzip
// trailer, so a bad checksum or truncation is caught) and returns the plan.
func validateArchive(r io.Reader, strip int) ([]planEntry, error) {
	rec := &errRecorder{r: r}
	gz, err := gzip.NewReader(rec)
	if err != nil {
		return nil, streamError(rec, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)

	v := &validator{
		strip:    strip,
		tree:     map[string]nodeKind{},
		symlinks: map[string]string{},
		names:    map[string]string{},
	}
	var plan []planEntry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && hdr != nil && errors.Is(err, tar.ErrInsecurePath) {
			return nil, unsafeEntry(hdr.Name, "path is not local")
		}
		if err != nil {
			return nil, streamError(rec, err)
		}
		e, err := v.add(hdr)
		if err != nil {
			return nil, err
		}
		plan = append(plan, e)
	}
	// Read the rest of the gzip stream: the CRC and length are only checked
	// at its end.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, streamError(rec, err)
	}
	if len(plan) == 0 {
		return nil, fmt.Errorf("%w: archive is empty", ErrUnsafeArchive)
	}
	for _, rel := range v.order {
		if err := v.checkSymlink(rel); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// splitArchivePath splits a slash-separated archive path into its
// components, dropping empty and "." ones. It refuses absolute paths
// (Unix or Windows), backslashes and ".." components.
func splitArchivePath(p string) ([]string, string) {
	switch {
	case p == "":
		return nil, "empty path"
	case strings.ContainsRune(p, 0):
		return nil, "path contains a NUL byte"
	case strings.HasPrefix(p, "/"):
		return nil, "absolute path"
	case len(p) >= 2 && p[1] == ':' && isASCIILetter(p[0]):
		return nil, "absolute Windows path"
	case strings.ContainsRune(p, '\\'):
		return nil, "path uses backslashes"
	}
	var comps []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return nil, "path contains a .. component"
		}
		comps = append(comps, c)
	}
	return comps, ""
}

func isASCIILetter(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// stripPath removes the leading components, checking that they are the same
// for every entry. ok is false when nothing is left.
func (v *validator) stripPath(name string, comps []string) (rel string, ok bool, err error) {
	for i := 0; i < v.strip && i < len(comps); i++ {
		if i < len(v.prefix) {
			if comps[i] != v.prefix[i] {
				if i == 0 {
					return "", false, unsafeEntry(name, "archive has more than one top-level folder (%q and %q)", v.prefix[0], comps[0])
				}
				return "", false, unsafeEntry(name, "entries do not share the %d leading folders to strip (%q and %q)", v.strip, path.Join(v.prefix[:i+1]...), path.Join(comps[:i+1]...))
			}
			continue
		}
		v.prefix = append(v.prefix, comps[i])
	}
	if len(comps) <= v.strip {
		return "", false, nil
	}
	rel = strings.Join(comps[v.strip:], "/")
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", false, unsafeEntry(name, "path is not a local path on this system")
	}
	return rel, true, nil
}

// add validates one header against everything seen before it.
func (v *validator) add(hdr *tar.Header) (planEntry, error) {
	e := planEntry{name: hdr.Name, typ: hdr.Typeflag, linkname: hdr.Linkname, size: hdr.Size}
	name := hdr.Name
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		e.skip = true
		return e, nil
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
	case tar.TypeChar, tar.TypeBlock:
		return e, unsafeEntry(name, "device files are not allowed")
	case tar.TypeFifo:
		return e, unsafeEntry(name, "fifos are not allowed")
	default:
		return e, unsafeEntry(name, "unsupported entry type %q", hdr.Typeflag)
	}

	comps, reason := splitArchivePath(name)
	if reason != "" {
		return e, unsafeEntry(name, "%s", reason)
	}
	rel, ok, err := v.stripPath(name, comps)
	if err != nil {
		return e, err
	}
	if !ok {
		if hdr.Typeflag == tar.TypeDir {
			e.skip = true // the top folder itself
			return e, nil
		}
		return e, unsafeEntry(name, "path is empty after stripping %d leading folder(s)", v.strip)
	}
	e.rel = rel

	// Every ancestor must be (or become) a directory: never a file, and
	// never a symlink, which would let this entry be written through it.
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		anc := strings.Join(parts[:i], "/")
		switch v.tree[anc] {
		case kindSymlink:
			return e, unsafeEntry(name, "parent %q is a symbolic link", anc)
		case kindFile:
			return e, unsafeEntry(name, "parent %q is not a directory", anc)
		}
		v.tree[anc] = kindDir
	}

	prev, exists := v.tree[rel]
	switch hdr.Typeflag {
	case tar.TypeDir:
		if exists && prev != kindDir {
			return e, unsafeEntry(name, "path already used by an earlier entry")
		}
		v.tree[rel] = kindDir
	case tar.TypeReg:
		if exists {
			return e, unsafeEntry(name, "path already used by an earlier entry")
		}
		if hdr.Size < 0 {
			return e, unsafeEntry(name, "negative size")
		}
		e.mode = os.FileMode(hdr.Mode) & 0o755 // drops setuid/setgid/sticky and group/other write
		v.tree[rel] = kindFile
	case tar.TypeLink:
		if exists {
			return e, unsafeEntry(name, "path already used by an earlier entry")
		}
		target, err := v.hardlinkTarget(name, hdr.Linkname)
		if err != nil {
			return e, err
		}
		e.target = target
		v.tree[rel] = kindFile
	case tar.TypeSymlink:
		if exists {
			return e, unsafeEntry(name, "path already used by an earlier entry")
		}
		if reason := checkLinkText(hdr.Linkname); reason != "" {
			return e, unsafeEntry(name, "symbolic link target %q: %s", hdr.Linkname, reason)
		}
		e.target = hdr.Linkname
		v.tree[rel] = kindSymlink
		v.symlinks[rel] = hdr.Linkname
		v.names[rel] = name
		v.order = append(v.order, rel)
	}
	return e, nil
}

// hardlinkTarget resolves a hardlink's linkname (an archive path) to the rel
// of an earlier regular file.
func (v *validator) hardlinkTarget(name, linkname string) (string, error) {
	comps, reason := splitArchivePath(linkname)
	if reason != "" {
		return "", unsafeEntry(name, "hard link target %q points outside the destination (%s)", linkname, reason)
	}
	if len(comps) <= v.strip || !slices.Equal(comps[:v.strip], v.prefix) {
		return "", unsafeEntry(name, "hard link target %q points outside the destination", linkname)
	}
	rel := strings.Join(comps[v.strip:], "/")
	if v.tree[rel] != kindFile {
		return "", unsafeEntry(name, "hard link target %q is not an earlier regular file in the archive", linkname)
	}
	return rel, nil
}

// checkLinkText refuses symlink texts that are absolute or unusable.
func checkLinkText(t string) string {
	switch {
	case t == "":
		return "empty target"
	case strings.ContainsRune(t, 0):
		return "target contains a NUL byte"
	case strings.HasPrefix(t, "/"):
		return "absolute target"
	case len(t) >= 2 && t[1] == ':' && isASCIILetter(t[0]):
		return "absolute Windows target"
	case strings.ContainsRune(t, '\\'):
		return "target uses backslashes"
	}
	return ""
}

// checkSymlink resolves the symlink at rel the way the kernel would once the
// whole archive is extracted (following other symlinks of the archive) and
// refuses it if the resolution ever climbs above dest.
func (v *validator) checkSymlink(rel string) error {
	stack := strings.Split(rel, "/")
	stack = stack[:len(stack)-1] // the link's own directory
	queue := strings.Split(v.symlinks[rel], "/")
	hops := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return unsafeEntry(v.names[rel], "symbolic link target %q points outside the destination", v.symlinks[rel])
			}
			stack = stack[:len(stack)-1]
			continue
		}
		p := strings.Join(append(stack[:len(stack):len(stack)], c), "/")
		if t, ok := v.symlinks[p]; ok {
			hops++
			if hops > maxSymlinkHops {
				return unsafeEntry(v.names[rel], "symbolic link target %q: too many levels of symbolic links", v.symlinks[rel])
			}
			// Link texts were checked by checkLinkText: relative, so they
			// resolve from the directory holding p, which is stack.
			queue = append(strings.Split(t, "/"), queue...)
			continue
		}
		stack = append(stack, c)
	}
	if len(stack) > 0 && !filepath.IsLocal(filepath.FromSlash(strings.Join(stack, "/"))) {
		return unsafeEntry(v.names[rel], "symbolic link target %q is not a local path on this system", v.symlinks[rel])
	}
	return nil
}

// extractPlan is pass 2: it reads the archive again, checks that it is the
// one validated, and writes it below dest.
func extractPlan(r io.Reader, plan []planEntry, dest string) (err error) {
	_, statErr := os.Lstat(dest)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dest, err)
	}
	if created {
		if err := os.Chmod(dest, 0o755); err != nil { // whatever the umask
			os.RemoveAll(dest)
			return fmt.Errorf("chmod %s: %w", dest, err)
		}
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("open %s: %w", dest, err)
	}
	defer func() {
		if err != nil && !created {
			cleanupDest(root)
		}
		root.Close()
		if err != nil && created {
			os.RemoveAll(dest) // after Close: Windows keeps open directories
		}
	}()

	rec := &errRecorder{r: r}
	gz, err := gzip.NewReader(rec)
	if err != nil {
		return streamError(rec, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)

	var dirs []string // every directory created, to set its mode exactly
	seenDir := map[string]bool{}
	mkdirAll := func(dir string) error {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create directory %s: %w", dir, err)
		}
		for d := dir; d != "." && !seenDir[d]; d = path.Dir(d) {
			seenDir[d] = true
			dirs = append(dirs, d)
		}
		return nil
	}
	var links []planEntry
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if i != len(plan) {
				return fmt.Errorf("%w: archive changed while extracting", ErrUnsafeArchive)
			}
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return streamError(rec, err)
		}
		if i >= len(plan) || !plan[i].matches(hdr) {
			return fmt.Errorf("%w: archive changed while extracting", ErrUnsafeArchive)
		}
		e := plan[i]
		if e.skip {
			continue
		}
		if dir := path.Dir(e.rel); dir != "." {
			if err := mkdirAll(dir); err != nil {
				return err
			}
		}
		switch e.typ {
		case tar.TypeDir:
			if err := mkdirAll(e.rel); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(root, e, tr, rec); err != nil {
				return err
			}
		case tar.TypeLink:
			if err := root.Link(e.target, e.rel); err != nil {
				return fmt.Errorf("create hard link %s: %w", e.rel, err)
			}
		case tar.TypeSymlink:
			links = append(links, e) // last: nothing is ever written through them
		}
	}
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return streamError(rec, err)
	}
	for _, d := range dirs {
		if err := root.Chmod(d, 0o755); err != nil {
			return fmt.Errorf("chmod %s: %w", d, err)
		}
	}
	for _, e := range links {
		if err := root.Symlink(filepath.FromSlash(e.target), e.rel); err != nil {
			if runtime.GOOS == "windows" {
				return fmt.Errorf("create symbolic link %s: %w (on Windows this needs Developer Mode or administrator rights)", e.rel, err)
			}
			return fmt.Errorf("create symbolic link %s: %w", e.rel, err)
		}
	}
	return nil
}

func (e planEntry) matches(hdr *tar.Header) bool {
	return hdr.Name == e.name && hdr.Typeflag == e.typ && hdr.Linkname == e.linkname && hdr.Size == e.size
}

// writeFile streams one regular file into root. A failure reading the
// archive (it changed since pass 1) is reported through streamError.
func writeFile(root *os.Root, e planEntry, r io.Reader, rec *errRecorder) error {
	f, err := root.OpenFile(e.rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, e.mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", e.rel, err)
	}
	src := &errRecorder{r: r}
	n, err := io.Copy(f, src)
	if err == nil && n != e.size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		f.Close()
		if src.err != nil || n != e.size {
			return streamError(rec, err)
		}
		return fmt.Errorf("write %s: %w", e.rel, err)
	}
	// The mode given to OpenFile is subject to the umask; set it exactly.
	if err := f.Chmod(e.mode); err != nil {
		f.Close()
		return fmt.Errorf("chmod %s: %w", e.rel, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", e.rel, err)
	}
	return nil
}

// cleanupDest removes what pass 2 created in a dest that existed (and was
// empty) before.
func cleanupDest(root *os.Root) {
	d, err := root.Open(".")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		root.RemoveAll(n)
	}
}
