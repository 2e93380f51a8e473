package updater

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"aead.dev/minisign"
	"github.com/hashicorp/go-version"

	"github.com/adldapctl/adldapctl/platform"
)

// DefaultMirrorValidity is how long metadata built without an explicit
// expiry stays valid.
const DefaultMirrorValidity = 90 * 24 * time.Hour

// BuildOptions configures BuildMirror.
type BuildOptions struct {
	// Counter is the metadata counter to publish. 0 means one more than
	// the counter of the releases.json already in the folder, or 1.
	Counter uint64
	// Expires is when clients stop accepting the metadata. Zero means
	// now + DefaultMirrorValidity.
	Expires time.Time
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logf, when set, receives one line per file added.
	Logf func(format string, args ...any)
}

// Names BuildMirror recognises.
var (
	mirrorLinuxRe   = regexp.MustCompile(`^ad-ldap-connector-v([0-9][0-9A-Za-z.+-]*)\.tar\.gz$`)
	mirrorWindowsRe = regexp.MustCompile(`^adldap-v([0-9][0-9A-Za-z.+-]*)\.msi$`)
	mirrorToolRe    = regexp.MustCompile(`^adldapctl-([a-z0-9]+)-([a-z0-9]+)(\.exe)?$`)
)

// BuildMirror turns a folder of downloaded artifacts into a signed mirror.
// It reads the folder's top level:
//
//   - ad-ldap-connector-vX.Y.Z.tar.gz: the connector's Linux source tarball
//   - adldap-vX.Y.Z.msi: the connector's Windows installer
//   - ad-ldap-connector-vX.Y.Z-linux-ARCH-nodeN.tar.gz: a connector bundle
//     (BuildBundle in package installer), listed under the release's
//     "bundles" with what its manifest says it was built for
//   - adldapctl-OS-ARCH[.exe]: an adldapctl build, whose version is the
//     content of adldapctl-OS-ARCH.version next to it
//
// hashes every file (streaming), signs each adldapctl build into
// <file>.minisig, and writes releases.json and releases.json.minisig
// atomically. A release whose version has a prerelease part (6.5.0-rc.1)
// is marked prerelease.
func BuildMirror(dir string, key minisign.PrivateKey, o BuildOptions) (*MirrorMeta, error) {
	if key.Equal(minisign.PrivateKey{}) {
		return nil, errors.New("mirror build: no signing key")
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	t := now()

	counter, err := nextCounter(dir, key.ID(), o.Counter)
	if err != nil {
		return nil, err
	}
	expires := o.Expires
	if expires.IsZero() {
		expires = t.Add(DefaultMirrorValidity)
	}
	expires = expires.UTC().Truncate(time.Second)
	if !expires.After(t) {
		return nil, fmt.Errorf("mirror build: expiry %s is not in the future", expires.Format(time.RFC3339))
	}
	if expires.Sub(t) > MaxMirrorValidity {
		return nil, fmt.Errorf("mirror build: expiry %s is more than %d days ahead: clients would refuse the metadata", expires.Format(time.RFC3339), int(MaxMirrorValidity.Hours()/24))
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("mirror build: %w", err)
	}
	meta := &MirrorMeta{Schema: MirrorSchema, Counter: counter, Expires: expires, Releases: []MirrorRelease{}}
	versions := map[string]*mirrorVersion{}
	type toolSig struct{ name, sig string }
	var sigs []toolSig
	for _, e := range entries {
		name := e.Name()
		var plat, ver string
		var tool bool
		var bundle *BundleManifest
		if bver, bos, barch, bmajor, ok := ParseBundleName(name); ok {
			m, _, found, err := ReadBundleManifest(filepath.Join(dir, name))
			if err == nil && !found {
				err = fmt.Errorf("it has no %s at the top: build bundles with adldapctl mirror build --bundle", BundleManifestFile)
			}
			if err != nil {
				return nil, fmt.Errorf("mirror build: bundle %s: %w", name, err)
			}
			if c, err := CompareVersions(m.ConnectorVersion, bver); err != nil || c != 0 || m.Platform != bos || m.Arch != barch || m.NodeMajor != bmajor {
				return nil, fmt.Errorf("mirror build: bundle %s: its manifest says connector %s for %s: the name and the manifest disagree (renamed?)", name, m.ConnectorVersion, m.Target())
			}
			bundle, plat, ver = m, "bundle", bver
		} else if m := mirrorLinuxRe.FindStringSubmatch(name); m != nil {
			plat, ver = PlatformLinux, m[1]
		} else if m := mirrorWindowsRe.FindStringSubmatch(name); m != nil {
			plat, ver = PlatformWindows, m[1]
		} else if m := mirrorToolRe.FindStringSubmatch(name); m != nil {
			tool, plat = true, m[1]+"-"+m[2]
			sidecar := "adldapctl-" + plat + ".version"
			b, err := readCapped(filepath.Join(dir, sidecar), 256)
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("mirror build: %s has no version: write it (such as 0.3.0) to %s", name, sidecar)
			}
			if err != nil {
				return nil, fmt.Errorf("mirror build: %w", err)
			}
			ver = strings.TrimSpace(string(b))
		} else {
			continue
		}
		v, err := ParseVersion(ver)
		if err != nil {
			return nil, fmt.Errorf("mirror build: %s: %w", name, err)
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			return nil, fmt.Errorf("mirror build: %s is not a regular file", name)
		}
		size, sum, sig, err := hashMirrorFile(p, key, tool, t)
		if err != nil {
			return nil, fmt.Errorf("mirror build: %w", err)
		}
		logf("%s: %s %s, %d bytes, sha256 %s", name, plat, v, size, sum)
		if tool {
			meta.Tools = append(meta.Tools, MirrorTool{Version: v.String(), Platform: plat, File: name, Size: size, SHA256: sum})
			sigs = append(sigs, toolSig{name + ".minisig", sig})
			continue
		}
		mv := versions[v.String()]
		if mv == nil {
			mv = &mirrorVersion{v, &MirrorRelease{Version: v.String(), Prerelease: v.Prerelease() != ""}}
			versions[v.String()] = mv
		}
		r := mv.r
		if bundle != nil {
			for _, b := range r.Bundles {
				if b.OS == bundle.Platform && b.Arch == bundle.Arch && b.NodeMajor == bundle.NodeMajor {
					return nil, fmt.Errorf("mirror build: %s and %s are both the bundle of %s for %s-%s node %d: keep one", b.File, name, v, b.OS, b.Arch, b.NodeMajor)
				}
			}
			r.Bundles = append(r.Bundles, MirrorBundle{File: name, Size: size, SHA256: sum, OS: bundle.Platform, Arch: bundle.Arch,
				NodeMajor: bundle.NodeMajor, NodeABI: bundle.NodeABI, NodeVersion: bundle.NodeVersion})
			continue
		}
		for _, a := range r.Artifacts {
			if a.Platform == plat {
				return nil, fmt.Errorf("mirror build: %s and %s are both the %s artifact of %s: keep one", a.File, name, plat, v)
			}
		}
		r.Artifacts = append(r.Artifacts, MirrorArtifact{Platform: plat, File: name, Size: size, SHA256: sum})
	}
	if len(versions) == 0 && len(meta.Tools) == 0 {
		return nil, fmt.Errorf("mirror build: no artifacts in %s (expected ad-ldap-connector-vX.Y.Z.tar.gz, ad-ldap-connector-vX.Y.Z-linux-ARCH-nodeN.tar.gz, adldap-vX.Y.Z.msi or adldapctl-OS-ARCH)", dir)
	}
	for _, tool := range meta.Tools {
		for _, other := range meta.Tools {
			if tool.File != other.File && tool.Platform == other.Platform {
				return nil, fmt.Errorf("mirror build: %s and %s are both adldapctl for %s: keep one", tool.File, other.File, tool.Platform)
			}
		}
	}

	vs := make([]*mirrorVersion, 0, len(versions))
	for _, mv := range versions {
		vs = append(vs, mv)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].v.GreaterThan(vs[j].v) })
	for _, mv := range vs {
		sort.Slice(mv.r.Artifacts, func(i, j int) bool { return mv.r.Artifacts[i].Platform < mv.r.Artifacts[j].Platform })
		sort.Slice(mv.r.Bundles, func(i, j int) bool { return mv.r.Bundles[i].File < mv.r.Bundles[j].File })
		meta.Releases = append(meta.Releases, *mv.r)
	}
	sort.Slice(meta.Tools, func(i, j int) bool { return meta.Tools[i].Platform < meta.Tools[j].Platform })

	data, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	if err := meta.validate(); err != nil { // what a client will check
		return nil, fmt.Errorf("mirror build: %w", err)
	}
	rd := minisign.NewReader(bytes.NewReader(data))
	if _, err := io.Copy(io.Discard, rd); err != nil {
		return nil, err
	}
	metaSig := rd.SignWithComments(key, mirrorTrustedComment(t, MirrorMetaFile), mirrorUntrustedComment(key))

	for _, s := range sigs {
		if err := platform.WriteFileAtomic(filepath.Join(dir, s.name), []byte(s.sig), 0o644); err != nil {
			return nil, fmt.Errorf("mirror build: %w", err)
		}
	}
	// A client that reads between these two writes finds a signature that
	// does not match and fails; it never accepts a mix.
	if err := platform.WriteFileAtomic(filepath.Join(dir, MirrorMetaFile), data, 0o644); err != nil {
		return nil, fmt.Errorf("mirror build: %w", err)
	}
	if err := platform.WriteFileAtomic(filepath.Join(dir, MirrorSigFile), metaSig, 0o644); err != nil {
		return nil, fmt.Errorf("mirror build: %w", err)
	}
	logf("%s: counter %d, expires %s, %d releases, %d tools, signed by key %s",
		MirrorMetaFile, meta.Counter, meta.Expires.Format(time.RFC3339), len(meta.Releases), len(meta.Tools), keyIDHex(key.ID()))
	return meta, nil
}

type mirrorVersion struct {
	v *version.Version
	r *MirrorRelease
}

// nextCounter returns the counter to publish: explicit, or one more than
// the folder's current releases.json. An explicit counter lower than the
// current one of the same key is refused: clients would reject it.
func nextCounter(dir string, keyID uint64, explicit uint64) (uint64, error) {
	data, err := readCapped(filepath.Join(dir, MirrorMetaFile), maxMirrorMeta)
	if errors.Is(err, fs.ErrNotExist) {
		if explicit == 0 {
			return 1, nil
		}
		return explicit, nil
	}
	var prev struct {
		Counter uint64 `json:"counter"`
	}
	if err == nil {
		err = json.Unmarshal(data, &prev)
	}
	if err != nil {
		if explicit != 0 {
			return explicit, nil
		}
		return 0, fmt.Errorf("mirror build: cannot read the counter of the existing %s (%v): give the counter explicitly", MirrorMetaFile, err)
	}
	if explicit == 0 {
		return prev.Counter + 1, nil
	}
	if explicit < prev.Counter {
		sameKey := true
		var s minisign.Signature
		if b, err := readCapped(filepath.Join(dir, MirrorSigFile), maxMinisig); err == nil && s.UnmarshalText(b) == nil {
			sameKey = s.KeyID == keyID
		}
		if sameKey {
			return 0, fmt.Errorf("mirror build: counter %d is lower than the mirror's current %d: clients that have seen %d would refuse it", explicit, prev.Counter, prev.Counter)
		}
	}
	return explicit, nil
}

// hashMirrorFile streams a file once, returning its size and sha256 and,
// when sign is set, its minisign signature (prehashed, as minisign does).
func hashMirrorFile(name string, key minisign.PrivateKey, sign bool, t time.Time) (int64, string, string, error) {
	fh, err := os.Open(name)
	if err != nil {
		return 0, "", "", err
	}
	defer fh.Close()
	h := sha256.New()
	rd := minisign.NewReader(io.TeeReader(fh, h))
	n, err := io.Copy(io.Discard, rd)
	if err != nil {
		return 0, "", "", fmt.Errorf("read %s: %w", name, err)
	}
	if n == 0 {
		return 0, "", "", fmt.Errorf("%s is empty", name)
	}
	sig := ""
	if sign {
		base := filepath.Base(name)
		sig = string(rd.SignWithComments(key, mirrorTrustedComment(t, base), mirrorUntrustedComment(key)))
	}
	return n, hex.EncodeToString(h.Sum(nil)), sig, nil
}

// mirrorTrustedComment is the signed comment, in minisign's own format.
func mirrorTrustedComment(t time.Time, file string) string {
	return "timestamp:" + strconv.FormatInt(t.Unix(), 10) + "\tfile:" + file + "\thashed"
}

func mirrorUntrustedComment(key minisign.PrivateKey) string {
	return "signature from adldapctl mirror build, key " + keyIDHex(key.ID())
}

// LoadPrivateKey reads a minisign secret key file, decrypting it with
// password when it is encrypted (minisign's default) and ignoring password
// when it is not (minisign -W).
func LoadPrivateKey(path string, password string) (minisign.PrivateKey, error) {
	var key minisign.PrivateKey
	data, err := readCapped(path, maxMinisig)
	if err != nil {
		return key, fmt.Errorf("signing key: %w", err)
	}
	data = trimSpaceLines(data)
	if minisign.IsEncrypted(data) {
		if password == "" {
			return key, fmt.Errorf("signing key %s is encrypted: give its password", path)
		}
		key, err = minisign.DecryptKey(password, data)
		if err != nil {
			return key, fmt.Errorf("signing key %s: wrong password or damaged key file", path)
		}
		return key, nil
	}
	if err := key.UnmarshalText(data); err != nil {
		return key, fmt.Errorf("signing key %s is not a minisign secret key: %v", path, err)
	}
	return key, nil
}

// GenerateKeyPair creates a minisign key pair and writes the public key to
// pubPath and the secret key to keyPath (mode 0600; encrypted with
// password unless it is empty). It never overwrites an existing key file.
func GenerateKeyPair(pubPath, keyPath, password string) (minisign.PublicKey, error) {
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		return pub, err
	}
	var keyText []byte
	if password == "" {
		keyText, err = priv.MarshalText()
	} else {
		keyText, err = minisign.EncryptKey(password, priv)
	}
	if err != nil {
		return pub, err
	}
	pubText, _ := pub.MarshalText()
	for _, p := range []string{pubPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return pub, fmt.Errorf("%s already exists: refusing to overwrite a key", p)
		}
	}
	fh, err := os.OpenFile(keyPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return pub, err
	}
	_, err = fh.Write(append(keyText, '\n'))
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(keyPath) // a half-written key is worse than none; err says why
		return pub, err
	}
	if err := platform.WriteFileAtomic(pubPath, append(pubText, '\n'), 0o644); err != nil {
		return pub, err
	}
	return pub, nil
}
