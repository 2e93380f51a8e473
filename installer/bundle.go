package installer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// nodeHostScript prints what a bundle must match, in the form
// updater.ParseNodeHost reads.
const nodeHostScript = `process.version+" "+process.versions.modules+" "+process.arch+" "+process.platform`

// nodeHost asks the node that will run the service for its version, ABI,
// architecture and platform.
func (in *Installer) nodeHost(ctx context.Context) (updater.NodeHost, error) {
	node := in.p.NodePath
	if node == "" {
		return updater.NodeHost{}, fmt.Errorf("%w on PATH: install Node.js and run again; under sudo, PATH is trimmed: pass --node PATH", ErrNoNode)
	}
	return queryNodeHost(ctx, in.run, node)
}

func queryNodeHost(ctx context.Context, run Runner, node string) (updater.NodeHost, error) {
	var out bytes.Buffer
	if err := run.Run(ctx, &Command{Path: node, Args: []string{"-p", nodeHostScript}, Stdout: &out}); err != nil {
		return updater.NodeHost{}, fmt.Errorf("%w: %s -p process.versions.modules: %v", ErrNoNode, node, err)
	}
	text := out.String()
	if len(text) > 4096 {
		text = text[:4096]
	}
	h, err := updater.ParseNodeHost(text)
	if err != nil {
		return updater.NodeHost{}, fmt.Errorf("%w: %s: %v", ErrNoNode, node, err)
	}
	return h, nil
}

// artifact picks what to download for rel: a bundle of the feed that fits
// the host's node when there is one, else the source release (npm installs
// its dependencies). With bundles on offer and none fitting, the source is
// used when the feed has it; otherwise the refusal names both sides.
func (in *Installer) artifact(ctx context.Context, src updater.Source, rel *updater.Release) (updater.Artifact, *updater.Bundle, error) {
	bs, ok := src.(updater.BundleSource)
	if in.p.OS == "windows" || len(rel.Bundles) == 0 || !ok {
		a, err := src.Artifact(rel, in.p.OS)
		return a, nil, err
	}
	host, err := in.nodeHost(ctx)
	if err != nil {
		in.logf("cannot tell which bundle fits this host (%v): using the source release", err)
		a, aerr := src.Artifact(rel, in.p.OS)
		if aerr != nil {
			return updater.Artifact{}, nil, errors.Join(err, aerr)
		}
		return a, nil, nil
	}
	b, selErr := updater.SelectBundle(rel.Bundles, host)
	if selErr == nil {
		in.logf("using the bundle %s (built for %s; this host runs %s): npm will not run", b.Artifact.Name, b.Target(), host)
		a, err := bs.BundleArtifact(rel, b)
		return a, &b, err
	}
	a, err := src.Artifact(rel, in.p.OS)
	if err != nil {
		return updater.Artifact{}, nil, fmt.Errorf("%w; the feed has no source release of %s to install with npm instead", selErr, rel.Version)
	}
	in.logf("no bundle of %s fits this host: %v; installing from the source release with npm instead", rel.Version, selErr)
	return a, nil, nil
}

// checkBundle reads the manifest of a downloaded artifact. A source release
// has none (nil). A bundle's manifest must be of rel's version and fit the
// host's node; a refusal changes nothing. It returns the manifest's text,
// which Stage compares with the one it extracts.
func (in *Installer) checkBundle(ctx context.Context, artifact string, rel *updater.Release) (*updater.BundleManifest, []byte, error) {
	if in.p.OS == "windows" {
		// The artifact is the release's MSI (the Windows step checks it);
		// bundles are Linux trees.
		return nil, nil, nil
	}
	m, raw, found, err := updater.ReadBundleManifest(artifact)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrUnsafeArchive, err)
	}
	if !found {
		return nil, nil, nil
	}
	if c, err := updater.CompareVersions(m.ConnectorVersion, rel.Version.String()); err != nil || c != 0 {
		return nil, nil, fmt.Errorf("%w: the bundle holds connector %s, not %s: nothing was changed", ErrBundleVersion, m.ConnectorVersion, rel.Version)
	}
	host, err := in.nodeHost(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := m.Fits(host); err != nil {
		return nil, nil, fmt.Errorf("%w: nothing was changed", err)
	}
	in.logf("bundle manifest: connector %s built for %s with %s; this host runs %s", m.ConnectorVersion, m.Target(), m.NodeVersion, host)
	return m, raw, nil
}

// ErrBundleVersion is a bundle whose manifest names another connector
// version than the release it was offered as.
var ErrBundleVersion = errors.New("bundle is of another version")

// stageBundle checks a bundle's extracted tree: the manifest extracted is
// the one checked before, and a release with dependencies has its
// node_modules.
func stageBundle(st string, want []byte, pkg *connector.Package) error {
	got, err := os.ReadFile(filepath.Join(st, updater.BundleManifestFile))
	if err != nil || !bytes.Equal(got, want) {
		return fmt.Errorf("%w: the bundle's %s changed between the check and the extraction (two entries of that name?)", ErrUnsafeArchive, updater.BundleManifestFile)
	}
	if len(pkg.Dependencies) > 0 {
		if fi, err := os.Lstat(filepath.Join(st, "node_modules")); err != nil || !fi.IsDir() {
			return fmt.Errorf("%w: the bundle has dependencies but no node_modules folder: rebuild it with adldapctl mirror build --bundle", ErrUnsafeArchive)
		}
	}
	return nil
}

// BundleOptions configure BuildBundle.
type BundleOptions struct {
	// Source is the connector's source tarball (one top folder, as GitHub
	// and mirrors publish it) and Version its version.
	Source  string
	Version string
	// OutDir receives the bundle; WorkDir holds the staging tree while it
	// is built ("" means OutDir).
	OutDir  string
	WorkDir string
	// Node is the node npm runs under and the bundle is built for; "" means
	// node on PATH.
	Node    string
	Runner  Runner // nil means the real processes
	Proxy   string // for npm
	CAFiles []string
	Limits  ArchiveLimits
	BuiltBy string // "adldapctl 0.3.0"
	Logf    func(format string, args ...any)
}

// BundleResult is a bundle BuildBundle wrote.
type BundleResult struct {
	Path     string
	Manifest *updater.BundleManifest
}

// bundleMTime is every entry's modification time in a bundle: npm's own
// choice for files it unpacks (1985-10-26T08:15:00Z), so that the same
// release built with the same node and lockfile gives the same archive.
var bundleMTime = time.Unix(499162500, 0).UTC()

// BuildBundle makes a connector bundle: it extracts the source release
// (with the install's archive checks), checks engines.node against the
// node it builds for, runs `npm ci --omit=dev` there once (npm install
// without a lockfile), and writes
// OutDir/ad-ldap-connector-vX.Y.Z-linux-ARCH-nodeN.tar.gz: one top folder,
// the manifest first, then the tree in path order with fixed times and
// owners. It never overwrites a bundle with other content.
func BuildBundle(ctx context.Context, o BundleOptions) (*BundleResult, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Runner == nil {
		o.Runner = execRunner{}
	}
	if o.WorkDir == "" {
		o.WorkDir = o.OutDir
	}
	v, err := updater.ParseVersion(o.Version)
	if err != nil {
		return nil, err
	}
	node := o.Node
	if node == "" {
		if node, err = o.Runner.LookPath("node"); err != nil {
			return nil, fmt.Errorf("%w on PATH: a bundle is built for the node that runs npm: install Node.js (the major version the servers run) or pass --node PATH", ErrNoNode)
		}
	}
	host, err := queryNodeHost(ctx, o.Runner, node)
	if err != nil {
		return nil, err
	}
	if host.OS != updater.PlatformLinux {
		return nil, fmt.Errorf("bundles are built on Linux (this node runs on %s): native modules must be built for the servers' platform", host.OS)
	}
	if _, _, found, err := updater.ReadBundleManifest(o.Source); err != nil || found {
		return nil, fmt.Errorf("%s is already a bundle: build from the connector's source release", o.Source)
	}

	work, err := os.MkdirTemp(o.WorkDir, ".adldapctl-bundle-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := os.RemoveAll(work); rerr != nil {
			o.Logf("warning: could not remove %s: %v", work, rerr)
		}
	}()
	tree := filepath.Join(work, "tree")
	o.Logf("extracting %s", filepath.Base(o.Source))
	if err := ExtractTarGzLimited(o.Source, tree, 1, o.Limits); err != nil {
		return nil, err
	}
	for _, f := range []string{"server.js", "package.json"} {
		if !exists(filepath.Join(tree, f)) {
			return nil, fmt.Errorf("%w: %s has no %s at its top level: this is not an AD/LDAP Connector release", ErrUnsafeArchive, o.Source, f)
		}
	}
	if exists(filepath.Join(tree, updater.BundleManifestFile)) {
		return nil, fmt.Errorf("%s already holds a %s: build from the connector's source release", o.Source, updater.BundleManifestFile)
	}
	if exists(filepath.Join(tree, "node_modules")) {
		return nil, fmt.Errorf("%s already holds node_modules: build from the connector's source release", o.Source)
	}
	pkg, err := connector.ReadPackage(filepath.Join(tree, "package.json"))
	if err != nil {
		return nil, fmt.Errorf("release package.json: %w", err)
	}
	if err := CheckNodeEngine(host.Version, pkg.EnginesNode); err != nil {
		return nil, err
	}
	m := &updater.BundleManifest{
		Format: updater.BundleFormat, ConnectorVersion: v.String(), Platform: host.OS, Arch: host.Arch,
		NodeVersion: host.Version, NodeMajor: host.Major, NodeABI: host.ABI, BuiltBy: o.BuiltBy, Note: updater.BundleABINote,
	}
	for _, lock := range []string{"npm-shrinkwrap.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(tree, lock))
		if err == nil {
			sum := sha256.Sum256(b)
			m.Lockfile, m.LockfileSHA256 = lock, hex.EncodeToString(sum[:])
			break
		}
	}
	if npm, err := o.Runner.LookPath("npm"); err == nil {
		var out bytes.Buffer
		if o.Runner.Run(ctx, &Command{Path: npm, Args: []string{"--version"}, Stdout: &out}) == nil {
			if s := strings.TrimSpace(out.String()); len(s) < 40 {
				m.NPMVersion = s
			}
		}
	}
	n := npmRun{run: o.Runner, logf: o.Logf, proxy: o.Proxy, caFiles: o.CAFiles, caBundle: filepath.Join(work, "npm-ca.pem"),
		untouched: "No bundle was written."}
	if err := n.install(ctx, tree, pkg, filepath.Join(work, "npm.log")); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	manifest = append(manifest, '\n')

	name := updater.BundleName(v.String(), m.Arch, m.NodeMajor)
	dst := filepath.Join(o.OutDir, name)
	tmp := filepath.Join(work, name)
	if err := writeBundleTar(tmp, tree, "ad-ldap-connector-"+"v"+v.String(), manifest); err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, err
	}
	if err := platform.SyncDir(o.OutDir); err != nil {
		return nil, err
	}
	o.Logf("%s: connector %s for %s", name, m.ConnectorVersion, m.Target())
	return &BundleResult{Path: dst, Manifest: m}, nil
}

// writeBundleTar writes tree as a gzip'd tar under the folder top: the
// folder, the manifest, then every entry in path order. Modes are 0755 for
// folders and executables, 0644 for other files; links stay links (they
// must stay inside the tree: the install refuses any other).
func writeBundleTar(dst, tree, top string, manifest []byte) (err error) {
	fh, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
	}()
	zw := gzip.NewWriter(fh)
	tw := tar.NewWriter(zw)
	hdr := func(name string, typ byte, mode int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: mode, ModTime: bundleMTime, Format: tar.FormatPAX}
	}
	if err := tw.WriteHeader(hdr(top+"/", tar.TypeDir, 0o755)); err != nil {
		return err
	}
	h := hdr(top+"/"+updater.BundleManifestFile, tar.TypeReg, 0o644)
	h.Size = int64(len(manifest))
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if _, err := tw.Write(manifest); err != nil {
		return err
	}
	err = filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(tree, p)
		if err != nil || rel == "." {
			return err
		}
		name := top + "/" + filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			return tw.WriteHeader(hdr(name+"/", tar.TypeDir, 0o755))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			resolved := path.Clean(path.Join(path.Dir(filepath.ToSlash(rel)), filepath.ToSlash(target)))
			if filepath.IsAbs(target) || resolved == ".." || strings.HasPrefix(resolved, "../") {
				return fmt.Errorf("%s links to %s, outside the release: the install would refuse it", rel, target)
			}
			h := hdr(name, tar.TypeSymlink, 0o777)
			h.Linkname = target
			return tw.WriteHeader(h)
		case fi.Mode().IsRegular():
			mode := int64(0o644)
			if fi.Mode().Perm()&0o111 != 0 {
				mode = 0o755
			}
			h := hdr(name, tar.TypeReg, mode)
			h.Size = fi.Size()
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, cerr := io.Copy(tw, io.LimitReader(f, fi.Size()))
			return errors.Join(cerr, f.Close())
		}
		return fmt.Errorf("%s is neither a file, a folder nor a link (%s)", rel, fi.Mode().Type())
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return fh.Sync()
}
