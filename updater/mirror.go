package updater

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"aead.dev/minisign"

	"github.com/adldapctl/adldapctl/internal/redact"
)

// Mirror file names and limits.
const (
	// MirrorMetaFile is the signed metadata at the root of a mirror.
	MirrorMetaFile = "releases.json"
	// MirrorSigFile is the minisign signature of MirrorMetaFile.
	MirrorSigFile = MirrorMetaFile + ".minisig"
	// MirrorSchema is the metadata schema this build reads and writes.
	MirrorSchema = 1

	maxMirrorMeta = 10 << 20 // releases.json
	maxMinisig    = 4 << 10  // any .minisig

	// MaxMirrorValidity is how far ahead a mirror's expiry may lie.
	// Further is refused: an expiry that never comes disables the freeze
	// protection (a signer's mistake, or metadata made to outlive a key
	// compromise). BuildMirror refuses to write such metadata.
	MaxMirrorValidity = 400 * 24 * time.Hour
)

// Platforms of connector artifacts in a mirror.
const (
	PlatformLinux   = "linux"
	PlatformWindows = "windows"
)

// MirrorMeta is the content of a mirror's releases.json.
type MirrorMeta struct {
	Schema   int             `json:"schema"`
	Counter  uint64          `json:"counter"` // raised on every publication; clients refuse a lower one
	Expires  time.Time       `json:"expires"` // clients refuse the metadata after this
	Releases []MirrorRelease `json:"releases"`
	Tools    []MirrorTool    `json:"tools,omitempty"`
}

// MirrorRelease is one connector release in a mirror.
type MirrorRelease struct {
	Version    string           `json:"version"`
	Prerelease bool             `json:"prerelease"`
	Artifacts  []MirrorArtifact `json:"artifacts"`
	// Bundles are the release with its node_modules built (mirror build
	// --bundle), one per OS, architecture and node major. An adldapctl
	// older than bundles ignores the field.
	Bundles []MirrorBundle `json:"bundles,omitempty"`
}

// MirrorBundle is one connector bundle of a release: the file and what
// its node_modules were built for (copied from its manifest).
type MirrorBundle struct {
	File        string `json:"file"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	OS          string `json:"os"`   // "linux"
	Arch        string `json:"arch"` // GOARCH: "amd64", "arm64"
	NodeMajor   int    `json:"node_major"`
	NodeABI     int    `json:"node_abi"`               // process.versions.modules
	NodeVersion string `json:"node_version,omitempty"` // the node that built it, "v22.11.0"
}

// MirrorArtifact is one file of a connector release.
type MirrorArtifact struct {
	Platform string `json:"platform"` // "linux" (source tarball) or "windows" (MSI)
	File     string `json:"file"`     // relative to the mirror base, "/"-separated
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"` // lower-case hex
}

// MirrorTool is one adldapctl build in a mirror, for self-update. Its
// signature is File + ".minisig".
type MirrorTool struct {
	Version  string `json:"version"`
	Platform string `json:"platform"` // GOOS-GOARCH, e.g. "linux-amd64"
	File     string `json:"file"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// MirrorFeed reads releases from a signed mirror: a folder (local, UNC,
// file://) or an https:// (or loopback http://) URL holding releases.json
// and releases.json.minisig. Nothing in releases.json is used before its
// signature has been checked against PublicKey, its expiry against Now and
// its counter against the highest one accepted so far (CounterFile).
type MirrorFeed struct {
	// Base is the mirror: a URL or a local folder. A trailing
	// "/releases.json" is tolerated.
	Base string
	// Client is used for http(s) mirrors; nil means http.DefaultClient.
	Client *http.Client
	// PublicKey is the trusted minisign key (see LoadPublicKey).
	PublicKey minisign.PublicKey
	// CounterFile records, per key ID, the highest metadata counter
	// accepted and the sha256 of the releases.json accepted with it, so a
	// mirror can neither be rolled back to older metadata nor serve other
	// metadata under the same counter. It is written 0600, atomically.
	// "" means no memory across runs.
	CounterFile string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	meta *MirrorMeta // verified, cached after the first successful load
}

var _ Source = (*MirrorFeed)(nil)

// Location is the mirror's URL or folder without credentials.
func (f *MirrorFeed) Location() string { return f.where() }

// Artifact returns rel's artifact for goos with its signed sha256 and size.
func (f *MirrorFeed) Artifact(rel *Release, goos string) (Artifact, error) {
	var a Artifact
	var err error
	if goos == "windows" {
		a, err = rel.MSIArtifact()
	} else {
		a, err = rel.LinuxArtifact()
	}
	if err != nil {
		return Artifact{}, err
	}
	return f.signed(a, a.Name)
}

// signed is a listed artifact as the signed releases.json vouches for it:
// its sha256 required, its origin checked against the mirror's.
func (f *MirrorFeed) signed(a Artifact, what string) (Artifact, error) {
	if a.SHA256 == "" {
		return Artifact{}, fmt.Errorf("%w: mirror %s lists %s without a sha256", ErrVerification, f.where(), what)
	}
	a.Trust = TrustSignature
	remote, local, err := f.base()
	if err != nil {
		return Artifact{}, err
	}
	feed := local
	if remote != nil {
		feed = remote.String()
	}
	return originChecked(feed, a)
}

// BundleSource is a Source whose releases may offer connector bundles.
type BundleSource interface {
	// BundleArtifact returns what to download for b, one of rel.Bundles,
	// with the digest the feed vouches for.
	BundleArtifact(rel *Release, b Bundle) (Artifact, error)
}

var _ BundleSource = (*MirrorFeed)(nil)

// BundleArtifact returns bundle b with its signed sha256 and size.
func (f *MirrorFeed) BundleArtifact(rel *Release, b Bundle) (Artifact, error) {
	return f.signed(b.Artifact, "bundle "+b.Artifact.Name)
}

// IsMirrorFeed reports whether a --feed value names a signed mirror rather
// than a GitHub releases API URL. It does not check that u is acceptable
// (see CheckFeedURL).
func IsMirrorFeed(u string) bool { return strings.TrimSpace(u) != "" && !IsGitHubFeedURL(u) }

// LoadPublicKey reads a trusted minisign public key given as the key itself
// (the base64 line "RWQ…", or the whole text of a .pub file) or as the path
// of a minisign .pub file.
func LoadPublicKey(s string) (minisign.PublicKey, error) {
	var key minisign.PublicKey
	t := strings.TrimSpace(s)
	if t == "" {
		return key, errors.New("empty trusted key: give the mirror's minisign public key (RWQ…) or the path of its .pub file")
	}
	if st, err := os.Stat(t); err == nil && st.Mode().IsRegular() {
		data, err := readCapped(t, maxMinisig)
		if err != nil {
			return key, fmt.Errorf("trusted key file %s: %w", t, err)
		}
		if err := key.UnmarshalText(trimSpaceLines(data)); err != nil {
			return key, fmt.Errorf("trusted key file %s is not a minisign public key: %v", t, err)
		}
		return key, nil
	}
	if err := key.UnmarshalText(trimSpaceLines([]byte(t))); err == nil {
		return key, nil
	}
	return key, fmt.Errorf("trusted key %q is neither a minisign public key (a base64 string starting with RW) nor a readable .pub file", t)
}

// trimSpaceLines trims each line, so keys pasted with stray blanks or CRLF
// line ends still parse.
func trimSpaceLines(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return []byte(strings.Join(lines, "\n"))
}

// Meta returns the mirror's verified metadata, loading it on first use.
// Callers must not modify it.
func (f *MirrorFeed) Meta(ctx context.Context) (*MirrorMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.meta != nil {
		return f.meta, nil
	}
	m, err := f.load(ctx)
	if err != nil {
		return nil, err
	}
	f.meta = m
	return m, nil
}

// Release returns the release whose version equals v.
func (f *MirrorFeed) Release(ctx context.Context, v string) (*Release, error) {
	if _, err := ParseVersion(v); err != nil {
		return nil, err
	}
	rels, err := f.Releases(ctx)
	if err != nil {
		return nil, err
	}
	return findRelease(rels, v, f.where())
}

// Releases returns every release of the mirror, newest version first. Each
// release's Assets are its linux and windows artifacts with their sha256
// digests and absolute URLs (absolute paths for a local mirror);
// TarballURL is the linux artifact's.
func (f *MirrorFeed) Releases(ctx context.Context) ([]*Release, error) {
	m, err := f.Meta(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Release, 0, len(m.Releases))
	for _, mr := range m.Releases {
		v, err := ParseVersion(mr.Version) // validated by load
		if err != nil {
			return nil, err
		}
		r := &Release{Version: v, Tag: tagFor(v), Prerelease: mr.Prerelease || v.Prerelease() != ""}
		for _, a := range mr.Artifacts {
			if a.Platform != PlatformLinux && a.Platform != PlatformWindows {
				continue // a platform this build does not install
			}
			u, err := f.resolve(a.File)
			if err != nil {
				return nil, err
			}
			r.Assets = append(r.Assets, Asset{Name: path.Base(a.File), URL: u, Size: a.Size, Digest: "sha256:" + a.SHA256})
			if a.Platform == PlatformLinux {
				r.TarballURL = u
			}
		}
		for _, b := range mr.Bundles {
			u, err := f.resolve(b.File)
			if err != nil {
				return nil, err
			}
			a := Artifact{Name: path.Base(b.File), URL: u, Size: b.Size, SHA256: b.SHA256}
			r.Bundles = append(r.Bundles, Bundle{Artifact: a, OS: b.OS, Arch: b.Arch, NodeMajor: b.NodeMajor, NodeABI: b.NodeABI})
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version.GreaterThan(out[j].Version) })
	return out, nil
}

// LinuxArtifact returns a mirror release's Linux artifact (the connector's
// source tarball) with its size and sha256. GitHub releases have no such
// verified artifact: use SourceArtifact for them.
func (r *Release) LinuxArtifact() (Artifact, error) {
	if r.TarballURL != "" {
		for _, a := range r.Assets {
			if a.URL == r.TarballURL && digestHex(a.Digest) != "" {
				return a.artifact(), nil
			}
		}
	}
	return Artifact{}, fmt.Errorf("release %s has no Linux artifact with a digest (a signed mirror lists one as platform %q; a GitHub release only has its source tarball)", r.Tag, PlatformLinux)
}

// where is the mirror location for messages, without any password.
func (f *MirrorFeed) where() string { return redact.URL(f.Base) }

// base returns the mirror root as a parsed URL or as an absolute local
// folder.
func (f *MirrorFeed) base() (remote *url.URL, local string, err error) {
	b := strings.TrimSpace(f.Base)
	for _, suffix := range []string{"/" + MirrorMetaFile, `\` + MirrorMetaFile} {
		if strings.HasSuffix(b, suffix) {
			b = strings.TrimSuffix(b, suffix)
			break
		}
	}
	remote, local, err = classifyURL(b)
	if err != nil {
		return nil, "", fmt.Errorf("mirror feed: %w", err)
	}
	if remote != nil {
		return remote, "", nil
	}
	abs, err := filepath.Abs(local)
	if err != nil {
		return nil, "", fmt.Errorf("mirror feed %s: %w", local, err)
	}
	return nil, abs, nil
}

// resolve turns a file name from the metadata (already checked by
// checkMirrorFile) into an absolute URL or local path.
func (f *MirrorFeed) resolve(file string) (string, error) {
	remote, local, err := f.base()
	if err != nil {
		return "", err
	}
	if remote != nil {
		return remote.JoinPath(strings.Split(file, "/")...).String(), nil
	}
	return filepath.Join(local, filepath.FromSlash(file)), nil
}

// errMirrorTooLarge is wrapped when a mirror file exceeds its cap.
var errMirrorTooLarge = errors.New("file too large")

// fetch reads the mirror file rel (at most max bytes). A file the mirror
// does not have wraps fs.ErrNotExist; one larger than max wraps
// errMirrorTooLarge.
func (f *MirrorFeed) fetch(ctx context.Context, rel string, max int64) ([]byte, error) {
	loc, err := f.resolve(rel)
	if err != nil {
		return nil, err
	}
	if !hasScheme(loc) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return readCapped(loc, max)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, errors.New(parseErrorReason(err))
	}
	red := req.URL.Redacted()
	req.Header.Set("User-Agent", "adldapctl")
	resp, err := guardRedirects(f.Client).Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("%s cannot be reached: %w", red, unwrapURLError(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, notFoundError(fmt.Sprintf("%s: not found (HTTP %s)", red, resp.Status))
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: HTTP %s", red, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("%s: %w", red, unwrapURLError(err))
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %s: %w", red, formatBytes(max), errMirrorTooLarge)
	}
	return data, nil
}

// notFoundError is an HTTP 404 from a mirror; it matches fs.ErrNotExist.
type notFoundError string

func (e notFoundError) Error() string        { return string(e) }
func (e notFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// readCapped reads a regular local file of at most max bytes.
func readCapped(name string, max int64) ([]byte, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %s: %w", name, formatBytes(max), errMirrorTooLarge)
	}
	return data, nil
}

// load fetches, verifies and checks the metadata, then records its counter.
func (f *MirrorFeed) load(ctx context.Context) (*MirrorMeta, error) {
	if f.PublicKey.Equal(minisign.PublicKey{}) {
		return nil, fmt.Errorf("mirror %s: no trusted key: give the mirror's minisign public key (--trusted-key)", f.where())
	}
	if _, _, err := f.base(); err != nil {
		return nil, err
	}
	data, err := f.fetch(ctx, MirrorMetaFile, maxMirrorMeta)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("mirror %s has no %s: check --feed (a signed mirror holds %s and %s; adldapctl mirror build makes one)", f.where(), MirrorMetaFile, MirrorMetaFile, MirrorSigFile)
		}
		return nil, fmt.Errorf("mirror %s: %w", f.where(), err)
	}
	sig, err := f.fetch(ctx, MirrorSigFile, maxMinisig)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("mirror %s: %w: it has no %s: the metadata is not signed", f.where(), ErrVerification, MirrorSigFile)
		case errors.Is(err, errMirrorTooLarge):
			return nil, fmt.Errorf("mirror %s: %w: %s is malformed (%v)", f.where(), ErrVerification, MirrorSigFile, err)
		}
		return nil, fmt.Errorf("mirror %s: %w", f.where(), err)
	}
	if err := verifyMinisig(f.PublicKey, data, sig, MirrorMetaFile); err != nil {
		return nil, fmt.Errorf("mirror %s: %w", f.where(), err)
	}

	// From here on the bytes are the signer's.
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	m, err := parseMirrorMeta(data, now())
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", f.where(), err)
	}
	if err := f.checkCounter(m.Counter, data); err != nil {
		return nil, fmt.Errorf("mirror %s: %w", f.where(), err)
	}
	return m, nil
}

// parseMirrorMeta decodes and checks the content of a releases.json whose
// signature has been verified: schema, expiry (set, not past, not more
// than MaxMirrorValidity after now) and every entry (validate). Refusals
// of the expiry or of an entry wrap ErrVerification; malformed JSON and a
// schema this build cannot read do not (a broken mirror or an old
// adldapctl, not a verification failure).
func parseMirrorMeta(data []byte, now time.Time) (*MirrorMeta, error) {
	var m MirrorMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s is signed but not valid metadata: %v", MirrorMetaFile, err)
	}
	if m.Schema != MirrorSchema {
		return nil, fmt.Errorf("%s has schema %d, this adldapctl reads schema %d: update adldapctl", MirrorMetaFile, m.Schema, MirrorSchema)
	}
	if m.Expires.IsZero() {
		return nil, fmt.Errorf("%w: metadata has no expiry (freeze attack or broken mirror: rebuild it with adldapctl mirror build)", ErrVerification)
	}
	if !now.Before(m.Expires) {
		return nil, fmt.Errorf("%w: metadata expired at %s (freeze attack or stale mirror: refresh the mirror)", ErrVerification, m.Expires.UTC().Format(time.RFC3339))
	}
	if m.Expires.Sub(now) > MaxMirrorValidity {
		return nil, fmt.Errorf("%w: metadata expires at %s, more than %d days ahead (a signer's mistake, or metadata made to outlive its key: rebuild the mirror with an expiry within %d days)",
			ErrVerification, m.Expires.UTC().Format(time.RFC3339), int(MaxMirrorValidity.Hours()/24), int(MaxMirrorValidity.Hours()/24))
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVerification, err)
	}
	return &m, nil
}

// verifyMinisig checks that sig is a valid minisign signature of msg by
// pub. Every failure wraps ErrVerification and says which check failed.
func verifyMinisig(pub minisign.PublicKey, msg, sig []byte, what string) error {
	var s minisign.Signature
	if err := s.UnmarshalText(sig); err != nil {
		return fmt.Errorf("%w: the signature of %s is malformed (%v)", ErrVerification, what, err)
	}
	if s.KeyID != pub.ID() {
		return fmt.Errorf("%w: %s is signed by key %s, not by the trusted key %s: check --trusted-key, or the files were signed by someone else",
			ErrVerification, what, keyIDHex(s.KeyID), keyIDHex(pub.ID()))
	}
	if !minisign.Verify(pub, msg, sig) {
		return fmt.Errorf("%w: %s does not match its signature: it was altered or corrupted after signing (or caught while the mirror was being rebuilt: try again)", ErrVerification, what)
	}
	return nil
}

// keyIDHex spells a key ID as minisign prints it.
func keyIDHex(id uint64) string { return fmt.Sprintf("%016X", id) }

// validate checks the metadata's entries. The metadata is authentic by
// now, but a mistake in it must not send bytes anywhere unexpected.
func (m *MirrorMeta) validate() error {
	seen := map[string]bool{}
	for i, r := range m.Releases {
		v, err := ParseVersion(r.Version)
		if err != nil {
			return fmt.Errorf("release #%d: invalid version %q", i+1, r.Version)
		}
		if seen[v.String()] {
			return fmt.Errorf("release %s is listed twice", v)
		}
		seen[v.String()] = true
		plats := map[string]bool{}
		for _, a := range r.Artifacts {
			if a.Platform == "" {
				return fmt.Errorf("release %s: artifact %q has no platform", v, a.File)
			}
			if plats[a.Platform] {
				return fmt.Errorf("release %s has two %s artifacts", v, a.Platform)
			}
			plats[a.Platform] = true
			if err := checkMirrorEntry(a.File, a.Size, a.SHA256); err != nil {
				return fmt.Errorf("release %s: %w", v, err)
			}
		}
		targets := map[string]bool{}
		for _, b := range r.Bundles {
			if err := checkMirrorEntry(b.File, b.Size, b.SHA256); err != nil {
				return fmt.Errorf("release %s: bundle: %w", v, err)
			}
			if b.OS != PlatformLinux || !bundleArchRe.MatchString(b.Arch) || b.NodeMajor < 1 || b.NodeMajor > 9999 || b.NodeABI < 1 || b.NodeABI > 99999 {
				return fmt.Errorf("release %s: bundle %q: invalid os, arch, node_major or node_abi", v, b.File)
			}
			t := fmt.Sprintf("%s-%s-node%d", b.OS, b.Arch, b.NodeMajor)
			if targets[t] {
				return fmt.Errorf("release %s has two bundles for %s", v, t)
			}
			targets[t] = true
		}
	}
	for _, t := range m.Tools {
		if _, err := ParseVersion(t.Version); err != nil {
			return fmt.Errorf("tool %q: invalid version %q", t.File, t.Version)
		}
		if goos, arch, ok := strings.Cut(t.Platform, "-"); !ok || goos == "" || arch == "" {
			return fmt.Errorf("tool %q: invalid platform %q (want os-arch, such as linux-amd64)", t.File, t.Platform)
		}
		if err := checkMirrorEntry(t.File, t.Size, t.SHA256); err != nil {
			return fmt.Errorf("tool: %w", err)
		}
	}
	return nil
}

func checkMirrorEntry(file string, size int64, sum string) error {
	if err := checkMirrorFile(file); err != nil {
		return err
	}
	if size <= 0 {
		return fmt.Errorf("%s: invalid size %d", file, size)
	}
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size || strings.ToLower(sum) != sum {
		return fmt.Errorf("%s: sha256 %q is not 64 lower-case hex characters", file, sum)
	}
	return nil
}

// checkMirrorFile refuses a metadata file name that is not a plain
// relative "/"-separated path inside the mirror. '%' is refused too: in a
// remote mirror's URL "%2e%2e" is ".." to the server, and a bad escape
// made the URL the mirror's root (found by FuzzMirrorMeta).
func checkMirrorFile(file string) error {
	bad := file == "" ||
		strings.HasPrefix(file, "/") ||
		strings.ContainsAny(file, `\:%`) ||
		strings.ContainsFunc(file, func(r rune) bool { return r < ' ' || r == 0x7f })
	if !bad {
		for _, seg := range strings.Split(file, "/") {
			if seg == "" || seg == "." || seg == ".." {
				bad = true
				break
			}
		}
	}
	if !bad {
		bad = checkArtifactName(path.Base(file)) != nil
	}
	if bad {
		return fmt.Errorf("unsafe file name %q (must be a relative path inside the mirror)", file)
	}
	return nil
}

// counterEntry is what the counter file keeps per key ID: the highest
// metadata counter accepted and the sha256 of the releases.json accepted
// with it. Files written before the digest was kept hold the bare counter
// ({"<key ID>": 7}); they still load, and gain the digest on next use.
type counterEntry struct {
	Counter uint64 `json:"counter"`
	SHA256  string `json:"sha256,omitempty"`
}

// checkCounter refuses a metadata counter lower than the highest one
// accepted for this key, or equal to it with other content (data is the
// verified releases.json), and records a higher one with data's digest.
func (f *MirrorFeed) checkCounter(counter uint64, data []byte) error {
	if f.CounterFile == "" {
		return nil
	}
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	id := keyIDHex(f.PublicKey.ID())
	counters, err := readCounters(f.CounterFile)
	if err != nil {
		return err
	}
	if prev, ok := counters[id]; ok {
		if counter < prev.Counter {
			return fmt.Errorf("%w: metadata counter %d is lower than %d already accepted (rollback attack or stale mirror)", ErrVerification, counter, prev.Counter)
		}
		if counter == prev.Counter && prev.SHA256 != "" {
			if prev.SHA256 != sum {
				return fmt.Errorf("%w: metadata counter %d was already accepted with other content (%s sha256 %s, accepted %s): "+
					"a mirror must raise the counter on every publication (replayed or mixed metadata, or a mirror rebuilt with the same --counter: rebuild it without --counter)",
					ErrVerification, counter, MirrorMetaFile, sum, prev.SHA256)
			}
			return nil
		}
	}
	counters[id] = counterEntry{Counter: counter, SHA256: sum}
	out, err := json.MarshalIndent(counters, "", "  ")
	if err != nil {
		return err
	}
	if err := writeOwnFile(f.CounterFile, append(out, '\n')); err != nil {
		return fmt.Errorf("record mirror metadata counter in %s: %w", f.CounterFile, err)
	}
	return nil
}

// readCounters reads the counter file; a missing file is an empty map.
func readCounters(name string) (map[string]counterEntry, error) {
	counters := map[string]counterEntry{}
	data, err := readOwnFile(name, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return counters, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read mirror counter file: %w", err)
	}
	corrupt := func(err error) error {
		return fmt.Errorf("mirror counter file %s is corrupt (%v): restore it, or delete it to accept the mirror's current metadata", name, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, corrupt(err)
	}
	for id, v := range raw {
		var e counterEntry
		if err := json.Unmarshal(v, &e.Counter); err != nil { // the older format: the bare counter
			if err := json.Unmarshal(v, &e); err != nil {
				return nil, corrupt(fmt.Errorf("key %s: %v", id, err))
			}
		}
		counters[id] = e
	}
	return counters, nil
}
