package installer

import (
	"archive/tar"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/updater"
)

// ErrUnsafeArchive is wrapped by every refusal of ExtractTarGz: an entry that
// would land outside the destination, a link pointing out of it, a device or
// fifo, an unexpected layout, an archive over its ArchiveLimits, or a
// corrupt or truncated archive. It is never wrapped for a problem of the
// destination (a full disk wraps updater.ErrNoSpace instead).
var ErrUnsafeArchive = errors.New("unsafe archive")

// maxSymlinkHops bounds symlink expansion while validating link targets, as
// the kernel does (ELOOP).
const maxSymlinkHops = 40

// Bounds on what a hostile archive can make extraction cost: no path or
// link text longer than Linux's PATH_MAX, no path deeper than maxDepth
// folders (os.Root opens every folder on the way to a file; node_modules
// rarely nests past 30), and symlink resolution, whose cost grows with
// path lengths, stops after maxLinkWork bytes of paths looked up in all (a
// real release needs a few MB).
const (
	maxPathLen  = 4096
	maxDepth    = 256
	maxLinkWork = 64 << 20
)

// The connector with its node_modules unpacks to about 150 MB in 20,000 to
// 40,000 files. The defaults leave room for a release many times that size
// (about 25 times the bytes, 12 times the files) while bounding what a
// hostile archive costs before it is refused: validating 500,000 entries
// takes about 4 s of CPU and 100 MB of memory, and the free-space check
// keeps 4 GiB from landing on a disk that cannot hold it.
const (
	DefaultMaxUnpackedBytes int64 = 4 << 30
	DefaultMaxEntries             = 500_000
)

// ArchiveLimits caps what an archive may unpack to. Both are checked
// against what the archive's headers declare, before anything is written.
type ArchiveLimits struct {
	// MaxBytes caps the sum of the sizes of the regular files
	// (--max-unpacked-size, max_unpacked_bytes). Zero means
	// DefaultMaxUnpackedBytes.
	MaxBytes int64
	// MaxEntries caps the number of entries: files, folders and links.
	// Zero means DefaultMaxEntries.
	MaxEntries int
}

// DefaultArchiveLimits are the limits ExtractTarGz applies.
var DefaultArchiveLimits = ArchiveLimits{MaxBytes: DefaultMaxUnpackedBytes, MaxEntries: DefaultMaxEntries}

func (l ArchiveLimits) withDefaults() (ArchiveLimits, error) {
	if l.MaxBytes < 0 || l.MaxEntries < 0 {
		return l, fmt.Errorf("archive limits must not be negative (max bytes %d, max entries %d)", l.MaxBytes, l.MaxEntries)
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxUnpackedBytes
	}
	if l.MaxEntries == 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	return l, nil
}

// Pass 1 reads no more decompressed bytes than the headers seen so far
// account for: their declared sizes, entryOverhead per entry (header block,
// PAX or GNU long-name records, padding) and streamSlack (end-of-archive
// blocks, record padding). Without this bound a small archive of huge PAX
// records or trailing zeros would take minutes to read while declaring
// nothing.
const (
	entryOverhead = 8 << 10
	streamSlack   = 1 << 20
)

// The free space asked for is an estimate of the disk use: every file
// rounded up to whole blocks, a block per folder, plus 5% and spaceMargin
// for what the file system keeps for itself.
const (
	diskBlock   = 4096
	spaceMargin = 1 << 20
)

// ExtractTarGz is ExtractTarGzLimited with DefaultArchiveLimits.
func ExtractTarGz(archivePath, dest string, strip int) error {
	return ExtractTarGzLimited(archivePath, dest, strip, DefaultArchiveLimits)
}

// ExtractTarGzLimited extracts the gzip-compressed tar archive at
// archivePath into dest, removing the first strip path components of every
// entry (1 for a GitHub source tarball, whose entries all live under one
// top folder).
//
// It works in two passes. The first reads the archive and validates every
// entry before anything is created; any refusal wraps ErrUnsafeArchive and
// names the entry and the reason. That includes an archive whose entries
// outnumber lim.MaxEntries or whose declared sizes add up to more than
// lim.MaxBytes: it is refused as soon as the header that crosses the limit
// is read, whatever follows. Then the file system holding dest (or its
// nearest existing parent) must have room for the declared sizes, or the
// error wraps updater.ErrNoSpace and says how much is needed and where.
//
// The second pass extracts into dest, which is created (0755) when missing
// and must be empty when it exists. File modes are kept without
// setuid/setgid/sticky and without group/other write; directories are 0755;
// ownership is ignored. Symbolic links are created last. No file gets more
// bytes than its header declared. A disk that fills anyway gives an error
// wrapping updater.ErrNoSpace, never ErrUnsafeArchive. If the second pass
// fails for any reason, what it created is removed again (dest itself when
// it created it).
func ExtractTarGzLimited(archivePath, dest string, strip int, lim ArchiveLimits) error {
	return extractTarGz(archivePath, dest, strip, lim, updater.CheckFreeSpace)
}

// extractTarGz is ExtractTarGzLimited with the free-space check passed in.
func extractTarGz(archivePath, dest string, strip int, lim ArchiveLimits, checkSpace func(dir string, need int64) error) error {
	if strip < 0 {
		return fmt.Errorf("extract %s: negative strip count %d", archivePath, strip)
	}
	lim, err := lim.withDefaults()
	if err != nil {
		return fmt.Errorf("extract %s: %w", archivePath, err)
	}
	if err := checkDestEmpty(dest); err != nil {
		return err
	}
	f, err := os.Open(archivePath)
	if err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()

	sv, err := validateArchive(f, strip, lim)
	if err != nil {
		return err
	}
	if err := checkRoom(checkSpace, archivePath, dest, sv); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind archive: %w", err)
	}
	return extractPlan(f, sv, dest)
}

// checkRoom refuses to start when dest's file system is known to be too
// small for the archive. When its free space cannot be told, extraction
// goes on and a full disk is reported by the write that hits it.
func checkRoom(checkSpace func(string, int64) error, archivePath, dest string, sv *survey) error {
	need := satAdd(satAdd(sv.disk, sv.disk/20), spaceMargin)
	dir := existingDir(dest)
	if err := checkSpace(dir, need); errors.Is(err, updater.ErrNoSpace) {
		return fmt.Errorf("extract %s to %s (%s in %d entries, about %s on disk): %w",
			filepath.Base(archivePath), dest, formatSize(sv.bytes), sv.entries, formatSize(need), err)
	}
	return nil
}

// existingDir is dest or, when it does not exist yet, its nearest existing
// parent.
func existingDir(dest string) string {
	d := filepath.Clean(dest)
	for {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return d
		}
		d = parent
	}
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

// planEntry is what one header asks for, as validated.
type planEntry struct {
	typ    byte
	skip   bool        // global header, or a directory stripped away
	rel    string      // slash-separated path below dest
	target string      // hardlink: rel of the target; symlink: link text
	mode   os.FileMode // regular files
	size   int64       // regular files
}

type nodeKind int

const (
	kindDir nodeKind = iota + 1
	kindFile
	kindSymlink
)

// validator holds the state of a pass: the tree the archive would produce.
type validator struct {
	strip    int
	prefix   []string // the stripped leading components, as first seen
	tree     map[string]nodeKind
	dirs     int               // directories in tree
	symlinks map[string]string // rel -> link text
	names    map[string]string // symlink rel -> header name, for messages
	order    []string          // symlink rels in archive order
	linkWork int64             // bytes of paths looked up resolving symlinks
}

func newValidator(strip int) *validator {
	return &validator{
		strip:    strip,
		tree:     map[string]nodeKind{},
		symlinks: map[string]string{},
		names:    map[string]string{},
	}
}

// survey is what pass 1 learns of an archive: its size, and a fingerprint
// of every header so that pass 2 can tell it reads the same archive without
// keeping the headers themselves.
type survey struct {
	strip   int
	entries int   // headers, global ones included
	bytes   int64 // declared sizes of the regular files
	disk    int64 // estimated disk use
	read    int64 // decompressed bytes read
	seed    maphash.Seed
	prints  []uint64
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

var errOverBudget = errors.New("archive data beyond what its entries account for")

// meter counts the decompressed bytes the tar reader consumes and fails the
// read that would go past limit.
type meter struct {
	r     io.Reader
	n     int64
	limit int64
	over  bool
}

func (m *meter) Read(p []byte) (int, error) {
	if m.n >= m.limit {
		// At the limit: fine if the stream ends here.
		var b [1]byte
		n, err := m.r.Read(b[:])
		if n == 0 {
			return 0, err
		}
		m.over = true
		return 0, errOverBudget
	}
	if int64(len(p)) > m.limit-m.n {
		p = p[:m.limit-m.n]
	}
	n, err := m.r.Read(p)
	m.n += int64(n)
	return n, err
}

// stream is an archive being read: the file, the gzip layer and the meter
// between gzip and tar.
type stream struct {
	rec *errRecorder
	gz  *gzip.Reader
	m   *meter
	tr  *tar.Reader
}

func openStream(r io.Reader, limit int64) (*stream, error) {
	s := &stream{rec: &errRecorder{r: r}}
	gz, err := gzip.NewReader(s.rec)
	if err != nil {
		return nil, s.error(err)
	}
	s.gz = gz
	s.m = &meter{r: gz, limit: limit}
	s.tr = tar.NewReader(s.m)
	return s, nil
}

// drain reads the rest of the gzip stream: its CRC and length are only
// checked at its end.
func (s *stream) drain() error {
	if _, err := io.Copy(io.Discard, s.m); err != nil {
		return s.error(err)
	}
	return nil
}

// error explains a failure to read the archive: the file could not be
// read (a plain error), or its content is refused.
func (s *stream) error(err error) error {
	switch {
	case s.rec.err != nil:
		return fmt.Errorf("read archive: %w", s.rec.err)
	case s.m != nil && s.m.over:
		return fmt.Errorf("%w: archive holds more data than its entries account for (oversized headers or trailing data); refused unread", ErrUnsafeArchive)
	}
	return fmt.Errorf("%w: archive is corrupt or truncated: %v", ErrUnsafeArchive, err)
}

// validateArchive is pass 1. It reads r to the end (including the gzip
// trailer, so a bad checksum or truncation is caught), or until an entry
// crosses a limit.
func validateArchive(r io.Reader, strip int, lim ArchiveLimits) (*survey, error) {
	s, err := openStream(r, satAdd(streamSlack, entryOverhead))
	if err != nil {
		return nil, err
	}
	defer s.gz.Close()

	v := newValidator(strip)
	sv := &survey{strip: strip, seed: maphash.MakeSeed()}
	for {
		hdr, err := s.tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && hdr != nil && errors.Is(err, tar.ErrInsecurePath) {
			return nil, unsafeEntry(hdr.Name, "path is not local")
		}
		if err != nil {
			return nil, s.error(err)
		}
		sv.entries++
		if sv.entries > lim.MaxEntries {
			return nil, tooManyEntries(lim)
		}
		e, err := v.add(hdr)
		if err != nil {
			return nil, err
		}
		if len(v.tree) > lim.MaxEntries { // folders implied by paths count too
			return nil, tooManyEntries(lim)
		}
		if e.typ == tar.TypeReg && !e.skip {
			if e.size > lim.MaxBytes-sv.bytes {
				return nil, fmt.Errorf("%w: entry %q (%s) takes the archive past %s unpacked (the limit, %d bytes); refused before extracting anything. If this release is genuine, raise the archive limit (--max-unpacked-size, max_unpacked_bytes)",
					ErrUnsafeArchive, hdr.Name, formatSize(e.size), formatSize(lim.MaxBytes), lim.MaxBytes)
			}
			sv.bytes += e.size
			sv.disk = satAdd(sv.disk, roundUp(e.size, diskBlock))
		}
		sv.prints = append(sv.prints, fingerprint(sv.seed, hdr))
		s.m.limit = satAdd(satAdd(streamSlack, sv.bytes), satMul(int64(sv.entries+1), entryOverhead))
	}
	if err := s.drain(); err != nil {
		return nil, err
	}
	if sv.entries == 0 {
		return nil, fmt.Errorf("%w: archive is empty", ErrUnsafeArchive)
	}
	for _, rel := range v.order {
		if err := v.checkSymlink(rel); err != nil {
			return nil, err
		}
	}
	sv.disk = satAdd(sv.disk, satMul(int64(v.dirs), diskBlock))
	sv.read = s.m.n
	return sv, nil
}

func tooManyEntries(lim ArchiveLimits) error {
	return fmt.Errorf("%w: archive has more than %d entries (files, folders and links; the limit); refused before extracting anything. If this release is genuine, raise the archive entry limit", ErrUnsafeArchive, lim.MaxEntries)
}

// fingerprint hashes what pass 2 relies on in a header, with a seed chosen
// at random for this run so that no archive can be made to collide.
func fingerprint(seed maphash.Seed, hdr *tar.Header) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var b [8]byte
	num := func(n int64) {
		binary.LittleEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
	num(int64(len(hdr.Name)))
	h.WriteString(hdr.Name)
	num(int64(len(hdr.Linkname)))
	h.WriteString(hdr.Linkname)
	h.WriteByte(hdr.Typeflag)
	num(hdr.Size)
	num(hdr.Mode)
	return h.Sum64()
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

func roundUp(n, block int64) int64 {
	if n > math.MaxInt64-block {
		return math.MaxInt64
	}
	return (n + block - 1) / block * block
}

// formatSize is a byte count for people, as the downloader prints it.
func formatSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	i := -1
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	suffix := [...]string{"kB", "MB", "GB", "TB", "PB"}[i]
	if f < 10 {
		return fmt.Sprintf("%.1f %s", f, suffix)
	}
	return fmt.Sprintf("%.0f %s", f, suffix)
}

// windowsNames applies Windows' file-name rules to archive paths
// (connector.WindowsNameProblem): on Windows a component such as "NUL",
// "lib.js:stream" or "mapper.js." names another file (a device, a stream,
// the name without its dot) than the one the archive means.
var windowsNames = runtime.GOOS == "windows"

// splitArchivePath splits a slash-separated archive path into its
// components, dropping empty and "." ones. It refuses absolute paths
// (Unix or Windows), backslashes and ".." components, and on Windows the
// names Windows would read as another file.
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
		if windowsNames {
			if r := connector.WindowsNameProblem(c); r != "" {
				return nil, "path " + r
			}
		}
		comps = append(comps, c)
	}
	return comps, ""
}

// truncateName shortens an overlong entry name for an error message.
func truncateName(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
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
	e := planEntry{typ: hdr.Typeflag}
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

	if len(name) > maxPathLen || len(hdr.Linkname) > maxPathLen {
		return e, unsafeEntry(truncateName(name), "path or link target longer than %d bytes", maxPathLen)
	}
	comps, reason := splitArchivePath(name)
	if reason != "" {
		return e, unsafeEntry(name, "%s", reason)
	}
	if len(comps) > maxDepth {
		return e, unsafeEntry(truncateName(name), "path deeper than %d folders", maxDepth)
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
	// Ancestors are prefixes of rel, looked at from the deepest up to the
	// first known directory, whose own ancestors were checked when it was
	// added: an entry costs its new folders, not its depth squared.
	var fresh []string
	for i := strings.LastIndexByte(rel, '/'); i >= 0; i = strings.LastIndexByte(rel[:i], '/') {
		anc := rel[:i]
		k := v.tree[anc]
		if k == kindDir {
			break
		}
		switch k {
		case kindSymlink:
			return e, unsafeEntry(name, "parent %q is a symbolic link", anc)
		case kindFile:
			return e, unsafeEntry(name, "parent %q is not a directory", anc)
		}
		fresh = append(fresh, anc)
	}
	for _, anc := range fresh {
		v.tree[anc] = kindDir
		v.dirs++
	}

	prev, exists := v.tree[rel]
	switch hdr.Typeflag {
	case tar.TypeDir:
		if exists && prev != kindDir {
			return e, unsafeEntry(name, "path already used by an earlier entry")
		}
		if !exists {
			v.dirs++
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
		e.size = hdr.Size
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
		if v.linkWork += int64(len(p)); v.linkWork > maxLinkWork {
			return unsafeEntry(v.names[rel], "symbolic links too many or too deep to check (more than %d MB of paths to resolve)", maxLinkWork>>20)
		}
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

// extractPlan is pass 2: it reads the archive again, validating it afresh
// and checking every header against pass 1's fingerprint before acting on
// it, and writes it below dest.
func extractPlan(r io.Reader, sv *survey, dest string) (err error) {
	_, statErr := os.Lstat(dest)
	created := errors.Is(statErr, os.ErrNotExist)
	var root *os.Root
	defer func() {
		if root != nil {
			if err != nil && !created {
				cleanupDest(root)
			}
			if cerr := root.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil && created {
			// After Close: Windows keeps open directories. Best effort: the
			// extraction's own error is the one to report.
			_ = os.RemoveAll(dest)
		}
	}()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return destError(filepath.Dir(dest), "create", filepath.Base(dest), err)
	}
	if created {
		if err := os.Chmod(dest, 0o755); err != nil { // whatever the umask
			return fmt.Errorf("chmod %s: %w", dest, err)
		}
	}
	root, err = os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("open %s: %w", dest, err)
	}

	s, err := openStream(r, sv.read)
	if err != nil {
		return err
	}
	defer s.gz.Close()
	changed := fmt.Errorf("%w: archive changed while extracting", ErrUnsafeArchive)

	v := newValidator(sv.strip)
	var dirs []string // every directory created, to set its mode exactly
	seenDir := map[string]bool{}
	mkdirAll := func(dir string) error {
		if seenDir[dir] {
			return nil
		}
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return destError(dest, "create directory", dir, err)
		}
		for d := dir; d != "." && !seenDir[d]; d = path.Dir(d) {
			seenDir[d] = true
			dirs = append(dirs, d)
		}
		return nil
	}
	buf := make([]byte, 128<<10)
	var links []planEntry
	for i := 0; ; i++ {
		hdr, err := s.tr.Next()
		if errors.Is(err, io.EOF) {
			if i != len(sv.prints) {
				return changed
			}
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return s.error(err)
		}
		if i >= len(sv.prints) || fingerprint(sv.seed, hdr) != sv.prints[i] {
			return changed
		}
		e, err := v.add(hdr)
		if err != nil {
			return err // pass 1 accepted this very header: cannot happen
		}
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
			if err := writeFile(root, dest, e, s, buf); err != nil {
				return err
			}
		case tar.TypeLink:
			if err := root.Link(e.target, e.rel); err != nil {
				return destError(dest, "create hard link", e.rel, err)
			}
		case tar.TypeSymlink:
			links = append(links, e) // last: nothing is ever written through them
		}
	}
	if err := s.drain(); err != nil {
		return err
	}
	for _, d := range dirs {
		if err := root.Chmod(d, 0o755); err != nil {
			return fmt.Errorf("chmod %s: %w", d, err)
		}
	}
	for _, e := range links {
		if err := v.checkSymlink(e.rel); err != nil {
			return err // pass 1 checked the same tree: cannot happen
		}
		if err := root.Symlink(filepath.FromSlash(e.target), e.rel); err != nil {
			if runtime.GOOS == "windows" {
				return fmt.Errorf("create symbolic link %s: %w (on Windows this needs Developer Mode or administrator rights)", e.rel, err)
			}
			return destError(dest, "create symbolic link", e.rel, err)
		}
	}
	return nil
}

// destError explains a failure to write below dest. A full disk (or quota)
// wraps updater.ErrNoSpace; nothing here is the archive's fault.
func destError(dest, op, rel string, err error) error {
	if isNoSpace(err) {
		return fmt.Errorf("%w: %s %s in %s: %w; free some space there and try again", updater.ErrNoSpace, op, rel, dest, err)
	}
	return fmt.Errorf("%s %s in %s: %w", op, rel, dest, err)
}

// writeFile streams one regular file into root, never more than its
// declared size. A short body is the archive's fault; a failed write is the
// destination's.
func writeFile(root *os.Root, dest string, e planEntry, s *stream, buf []byte) error {
	f, err := root.OpenFile(e.rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, e.mode)
	if err != nil {
		return destError(dest, "create", e.rel, err)
	}
	for left := e.size; left > 0; {
		n := int(min(left, int64(len(buf))))
		n, rerr := io.ReadFull(s.tr, buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return destError(dest, "write", e.rel, err)
		}
		left -= int64(n)
		if rerr != nil {
			f.Close()
			return s.error(rerr)
		}
	}
	// The mode given to OpenFile is subject to the umask; set it exactly.
	if err := f.Chmod(e.mode); err != nil {
		f.Close()
		return fmt.Errorf("chmod %s: %w", e.rel, err)
	}
	if err := f.Close(); err != nil {
		return destError(dest, "write", e.rel, err)
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
		_ = root.RemoveAll(n) // best effort, on a failure path already reported
	}
}
