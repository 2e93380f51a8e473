package updater

import (
	"archive/tar"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// A connector bundle is a Linux release with its node_modules already
// installed (by `adldapctl mirror build --bundle` on a connected machine),
// so a server that reaches no npm registry can install it without npm. Its
// archive holds one top folder; BundleManifestFile sits in that folder,
// first after it, and says what the node_modules were built for.
const (
	// BundleManifestFile is the manifest's name in the bundle's top folder.
	BundleManifestFile = ".adldapctl-bundle.json"
	// BundleFormat is the manifest format this build reads and writes.
	BundleFormat = "adldapctl-connector-bundle/1"
	// BundleABINote is the manifest's note on why the ABI matters.
	BundleABINote = "node_modules was installed by npm ci --omit=dev under the node named here. " +
		"Native modules in it are compiled for that node's ABI (process.versions.modules), platform and architecture, " +
		"and fail to load under any other: install this bundle only where node has the same major version and ABI; elsewhere install from source with npm."

	maxBundleManifest = 64 << 10
	// bundleManifestEntries is how many archive entries ReadBundleManifest
	// looks at: a pax global header, the top folder, the manifest.
	bundleManifestEntries = 8
	// bundleManifestScan caps the decompressed bytes read while looking.
	bundleManifestScan = 1 << 20
)

// BundleManifest is the content of a bundle's BundleManifestFile.
type BundleManifest struct {
	Format           string `json:"format"`
	ConnectorVersion string `json:"connector_version"`
	Platform         string `json:"platform"`     // GOOS: "linux"
	Arch             string `json:"arch"`         // GOARCH of the node that built it: "amd64", "arm64"
	NodeVersion      string `json:"node_version"` // "v22.11.0"
	NodeMajor        int    `json:"node_major"`
	NodeABI          int    `json:"node_abi"` // process.versions.modules
	Lockfile         string `json:"lockfile,omitempty"`
	LockfileSHA256   string `json:"lockfile_sha256,omitempty"`
	NPMVersion       string `json:"npm_version,omitempty"`
	BuiltBy          string `json:"built_by,omitempty"`
	Note             string `json:"note,omitempty"`
}

var (
	bundleArchRe    = regexp.MustCompile(`^[a-z0-9]{1,16}$`)
	bundleNodeVerRe = regexp.MustCompile(`^v?([0-9]{1,4})\.[0-9]{1,6}\.[0-9]{1,6}(?:-[0-9A-Za-z.-]{1,64})?$`)
	bundleLockRe    = regexp.MustCompile(`^(package-lock|npm-shrinkwrap)\.json$`)
	bundleTextRe    = regexp.MustCompile(`^[\x20-\x7e]{0,200}$`)
	// BundleNameRe matches a bundle's file name:
	// ad-ldap-connector-vX.Y.Z-linux-ARCH-nodeMAJOR.tar.gz.
	bundleNameRe = regexp.MustCompile(`^ad-ldap-connector-v([0-9][0-9A-Za-z.+-]*)-(linux)-([a-z0-9]{1,16})-node([0-9]{1,4})\.tar\.gz$`)
)

// BundleName is the file name of a bundle of version v (without "v") for
// linux/arch built with node major.
func BundleName(v, arch string, major int) string {
	return "ad-ldap-connector-v" + strings.TrimPrefix(v, "v") + "-linux-" + arch + "-node" + strconv.Itoa(major) + ".tar.gz"
}

// ParseBundleName splits a bundle file name into version, os, arch and
// node major; ok is false for any other name.
func ParseBundleName(name string) (ver, goos, arch string, major int, ok bool) {
	m := bundleNameRe.FindStringSubmatch(name)
	if m == nil {
		return "", "", "", 0, false
	}
	major, err := strconv.Atoi(m[4])
	if err != nil {
		return "", "", "", 0, false
	}
	return m[1], m[2], m[3], major, true
}

// ParseBundleManifest decodes and validates a manifest. Anything larger
// than 64 KiB, of the wrong shape, or missing a field is refused with a
// reason; unknown fields are ignored (a later format revision may add
// some).
func ParseBundleManifest(data []byte) (*BundleManifest, error) {
	if len(data) > maxBundleManifest {
		return nil, fmt.Errorf("bundle manifest is larger than %s", formatBytes(maxBundleManifest))
	}
	var m BundleManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("bundle manifest is not valid JSON of the expected shape: %v", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks every field of the manifest.
func (m *BundleManifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("bundle manifest: "+format, args...)
	}
	if m.Format != BundleFormat {
		if strings.HasPrefix(m.Format, "adldapctl-connector-bundle/") && bundleTextRe.MatchString(m.Format) {
			return bad("format %q, this adldapctl reads %q: update adldapctl, or rebuild the bundle with this one", m.Format, BundleFormat)
		}
		return bad("format %q is not %q", truncateText(m.Format), BundleFormat)
	}
	if _, err := ParseVersion(m.ConnectorVersion); err != nil || !bundleTextRe.MatchString(m.ConnectorVersion) {
		return bad("invalid connector_version %q", truncateText(m.ConnectorVersion))
	}
	if m.Platform != PlatformLinux {
		return bad("platform %q: bundles are for %q", truncateText(m.Platform), PlatformLinux)
	}
	if !bundleArchRe.MatchString(m.Arch) {
		return bad("invalid arch %q", truncateText(m.Arch))
	}
	sub := bundleNodeVerRe.FindStringSubmatch(m.NodeVersion)
	if sub == nil {
		return bad("invalid node_version %q", truncateText(m.NodeVersion))
	}
	if m.NodeMajor < 1 || m.NodeMajor > 9999 || strconv.Itoa(m.NodeMajor) != sub[1] {
		return bad("node_major %d does not match node_version %q", m.NodeMajor, m.NodeVersion)
	}
	if m.NodeABI < 1 || m.NodeABI > 99999 {
		return bad("invalid node_abi %d", m.NodeABI)
	}
	if m.Lockfile != "" && !bundleLockRe.MatchString(m.Lockfile) {
		return bad("invalid lockfile %q", truncateText(m.Lockfile))
	}
	if (m.Lockfile == "") != (m.LockfileSHA256 == "") {
		return bad("lockfile and lockfile_sha256 go together")
	}
	if m.LockfileSHA256 != "" {
		if b, err := hex.DecodeString(m.LockfileSHA256); err != nil || len(b) != 32 || strings.ToLower(m.LockfileSHA256) != m.LockfileSHA256 {
			return bad("lockfile_sha256 is not 64 lower-case hex characters")
		}
	}
	for _, s := range []string{m.NPMVersion, m.BuiltBy} {
		if !bundleTextRe.MatchString(s) {
			return bad("a text field holds control characters or is too long")
		}
	}
	if len(m.Note) > 2000 {
		return bad("note is too long")
	}
	return nil
}

// Target is where the bundle runs, as messages name it: "node 20 (ABI 115)
// on linux-amd64".
func (m *BundleManifest) Target() string {
	return fmt.Sprintf("node %d (ABI %d) on %s-%s", m.NodeMajor, m.NodeABI, m.Platform, m.Arch)
}

func truncateText(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// NodeHost is the node that will run the service, as a bundle must match
// it.
type NodeHost struct {
	OS      string // GOOS: "linux"
	Arch    string // GOARCH naming of node's process.arch: "amd64"
	Version string // "v22.11.0"
	Major   int
	ABI     int // process.versions.modules
}

// String names the host's node for messages.
func (h NodeHost) String() string {
	return fmt.Sprintf("node %s (ABI %d) on %s-%s", strings.TrimPrefix(h.Version, "v"), h.ABI, h.OS, h.Arch)
}

// NodeArch maps node's process.arch to Go's GOARCH names, which bundle
// names and manifests use.
func NodeArch(processArch string) string {
	switch processArch {
	case "x64":
		return "amd64"
	case "ia32":
		return "386"
	case "ppc64":
		return "ppc64le" // node on ppc64 is little-endian only
	}
	return processArch
}

// ParseNodeHost reads the answer of `node -p` to
// process.version, process.versions.modules, process.arch and
// process.platform joined by spaces ("v22.11.0 127 x64 linux").
func ParseNodeHost(out string) (NodeHost, error) {
	f := strings.Fields(out)
	if len(f) != 4 {
		return NodeHost{}, fmt.Errorf("unexpected answer from node: %q", truncateText(out))
	}
	sub := bundleNodeVerRe.FindStringSubmatch(f[0])
	if sub == nil {
		return NodeHost{}, fmt.Errorf("unexpected node version %q", truncateText(f[0]))
	}
	major, _ := strconv.Atoi(sub[1])
	abi, err := strconv.Atoi(f[1])
	if err != nil || abi < 1 {
		return NodeHost{}, fmt.Errorf("unexpected node ABI %q", truncateText(f[1]))
	}
	return NodeHost{OS: f[3], Arch: NodeArch(f[2]), Version: f[0], Major: major, ABI: abi}, nil
}

// BundleMismatchError is a bundle that does not fit the host's node.
type BundleMismatchError struct {
	Bundle string // what the bundle was built for (BundleManifest.Target or a feed entry)
	Host   NodeHost
	Reason string
}

// ErrBundleMismatch is wrapped by every BundleMismatchError.
var ErrBundleMismatch = errors.New("bundle does not fit this host")

func (e *BundleMismatchError) Error() string {
	return fmt.Sprintf("bundle built for %s, this host runs %s (%s): rebuild the bundle with node %d (adldapctl mirror build --bundle on a connected machine with that node) or install from source",
		e.Bundle, e.Host, e.Reason, e.Host.Major)
}

// Unwrap makes errors.Is(err, ErrBundleMismatch) true.
func (e *BundleMismatchError) Unwrap() error { return ErrBundleMismatch }

// Fits reports whether the bundle runs on host; the error says why not.
func (m *BundleManifest) Fits(host NodeHost) error {
	return fits(m.Target(), m.Platform, m.Arch, m.NodeMajor, m.NodeABI, host)
}

func fits(target, goos, arch string, major, abi int, host NodeHost) error {
	var reason string
	switch {
	case goos != host.OS:
		reason = "another operating system"
	case arch != host.Arch:
		reason = "another architecture"
	case major != host.Major:
		reason = "another node major version"
	case abi != host.ABI:
		reason = "another node ABI"
	default:
		return nil
	}
	return &BundleMismatchError{Bundle: target, Host: host, Reason: reason}
}

// Bundle is a connector bundle a feed offers for a release, with what it
// was built for.
type Bundle struct {
	Artifact  Artifact
	OS        string
	Arch      string
	NodeMajor int
	NodeABI   int
}

// Target names what the bundle was built for, as BundleManifest.Target.
func (b Bundle) Target() string {
	return fmt.Sprintf("node %d (ABI %d) on %s-%s", b.NodeMajor, b.NodeABI, b.OS, b.Arch)
}

// SelectBundle returns the bundle of bundles that runs on host. When none
// does, the error (a BundleMismatchError when there was any) says why the
// closest one did not fit.
func SelectBundle(bundles []Bundle, host NodeHost) (Bundle, error) {
	var first error
	for _, b := range bundles {
		err := fits(b.Target(), b.OS, b.Arch, b.NodeMajor, b.NodeABI, host)
		if err == nil {
			return b, nil
		}
		// Prefer explaining a bundle for the host's OS and arch.
		if first == nil || (b.OS == host.OS && b.Arch == host.Arch) {
			first = err
		}
	}
	if first == nil {
		return Bundle{}, errors.New("the release has no bundle")
	}
	return Bundle{}, first
}

// ReadBundleManifest reads the manifest of the bundle archive at name:
// BundleManifestFile in the archive's top folder, among its first entries
// (where mirror build writes it). found is false for an archive without one
// (a source tarball); a manifest that is there but invalid is an error.
// Only the first entries are read, so this costs little whatever the
// archive's size.
func ReadBundleManifest(name string) (m *BundleManifest, raw []byte, found bool, err error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, nil, false, err
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s: %w: not a gzip archive: %v", name, ErrVerification, err)
	}
	tr := tar.NewReader(io.LimitReader(zr, bundleManifestScan))
	for i := 0; i < bundleManifestEntries; i++ {
		hdr, err := tr.Next()
		if err != nil {
			// The end, a truncated archive or the scan cap: no manifest up
			// front. The extraction's checks judge the rest.
			return nil, nil, false, nil
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		clean := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if path.Base(clean) != BundleManifestFile || strings.Count(clean, "/") != 1 {
			continue
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size > maxBundleManifest || hdr.Size < 0 {
			return nil, nil, true, fmt.Errorf("%w: %s in %s is not a regular file of at most %s", ErrVerification, BundleManifestFile, name, formatBytes(maxBundleManifest))
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxBundleManifest+1))
		if err != nil {
			return nil, nil, true, fmt.Errorf("%w: read %s in %s: %v", ErrVerification, BundleManifestFile, name, err)
		}
		m, err := ParseBundleManifest(data)
		if err != nil {
			return nil, nil, true, fmt.Errorf("%w: %s: %v", ErrVerification, name, err)
		}
		return m, data, true, nil
	}
	return nil, nil, false, nil
}
