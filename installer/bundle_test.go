package installer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"aead.dev/minisign"

	"github.com/adldapctl/adldapctl/internal/testfeed"
	"github.com/adldapctl/adldapctl/updater"
)

// nodeRunner is a host with one node (host: what `node -p` prints for
// nodeHostScript) and npm, which "installs" the sample dependency.
type nodeRunner struct {
	host string
	mu   sync.Mutex
	npm  int // npm install/ci runs
}

func (r *nodeRunner) LookPath(name string) (string, error) { return "/fake/bin/" + name, nil }
func (r *nodeRunner) Run(ctx context.Context, c *Command) error {
	switch {
	case strings.HasSuffix(c.Path, "/node") && len(c.Args) == 1 && c.Args[0] == "--version":
		fmt.Fprintln(c.Stdout, strings.Fields(r.host)[0])
	case strings.HasSuffix(c.Path, "/node") && len(c.Args) == 2 && c.Args[0] == "-p" && c.Args[1] == nodeHostScript:
		fmt.Fprintln(c.Stdout, r.host)
	case strings.HasSuffix(c.Path, "/npm") && len(c.Args) == 1 && c.Args[0] == "--version":
		fmt.Fprintln(c.Stdout, "10.9.0")
	case strings.HasSuffix(c.Path, "/npm"):
		r.mu.Lock()
		r.npm++
		r.mu.Unlock()
		d := filepath.Join(c.Dir, "node_modules", testfeed.DepName)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Symlink("../"+testfeed.DepName+"/index.js", filepath.Join(c.Dir, "node_modules", ".bin-link")); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(d, "index.js"), []byte("module.exports = {};\n"), 0o644)
	default:
		return fmt.Errorf("unexpected command %s %q", c.Path, c.Args)
	}
	return nil
}

func (r *nodeRunner) npmRuns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.npm
}

const (
	host22 = "v22.11.0 127 x64 linux"
	host20 = "v20.18.0 115 x64 linux"
)

// sourceRelease writes the sample release with a dependency into dir.
func sourceRelease(t *testing.T, dir, v string) string {
	t.Helper()
	tb, err := testfeed.SourceTarball(v, testfeed.SampleOptions{Dependency: true})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "ad-ldap-connector-v"+v+".tar.gz")
	if err := os.WriteFile(p, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func buildTestBundle(t *testing.T, r *nodeRunner, src, out string) *BundleResult {
	t.Helper()
	return buildTestBundleVersion(t, r, src, out, "6.4.1")
}

func buildTestBundleVersion(t *testing.T, r *nodeRunner, src, out, v string) *BundleResult {
	t.Helper()
	res, err := BuildBundle(context.Background(), BundleOptions{Source: src, Version: v, OutDir: out, Runner: r, BuiltBy: "adldapctl test"})
	if err != nil {
		t.Fatalf("BuildBundle: %v", err)
	}
	return res
}

func TestBuildBundle(t *testing.T) {
	r := &nodeRunner{host: host22}
	src := sourceRelease(t, t.TempDir(), "6.4.1")
	out1, out2 := t.TempDir(), t.TempDir()
	res := buildTestBundle(t, r, src, out1)
	if r.npmRuns() != 1 {
		t.Errorf("npm ran %d times, want once", r.npmRuns())
	}
	if filepath.Base(res.Path) != "ad-ldap-connector-v6.4.1-linux-amd64-node22.tar.gz" {
		t.Errorf("bundle name %s", res.Path)
	}
	m := res.Manifest
	files, err := testfeed.SampleFiles("6.4.1", testfeed.SampleOptions{Dependency: true})
	if err != nil {
		t.Fatal(err)
	}
	lockSum := sha256.Sum256(files["package-lock.json"])
	if m.NodeMajor != 22 || m.NodeABI != 127 || m.Arch != "amd64" || m.Platform != "linux" || m.NodeVersion != "v22.11.0" ||
		m.Lockfile != "package-lock.json" || m.LockfileSHA256 != hex.EncodeToString(lockSum[:]) || m.NPMVersion != "10.9.0" ||
		!strings.Contains(m.Note, "ABI") || !strings.Contains(m.Note, "native modules") && !strings.Contains(m.Note, "Native modules") {
		t.Errorf("manifest %+v", m)
	}

	// The archive: one top folder, the manifest right after it, then the
	// tree in path order with fixed times and owners; links kept.
	entries := readTar(t, res.Path)
	if entries[0].Name != "ad-ldap-connector-v6.4.1/" || entries[1].Name != "ad-ldap-connector-v6.4.1/"+updater.BundleManifestFile {
		t.Errorf("first entries %q, %q", entries[0].Name, entries[1].Name)
	}
	seen := map[string]bool{}
	for i, e := range entries {
		if !strings.HasPrefix(e.Name, "ad-ldap-connector-v6.4.1/") {
			t.Errorf("entry %s outside the top folder", e.Name)
		}
		if !e.ModTime.Equal(bundleMTime) || e.Uid != 0 || e.Gid != 0 {
			t.Errorf("entry %s: mtime %v owner %d:%d", e.Name, e.ModTime, e.Uid, e.Gid)
		}
		if i > 2 && strings.TrimSuffix(entries[i-1].Name, "/") > strings.TrimSuffix(e.Name, "/") {
			t.Errorf("%s after %s: not in path order", e.Name, entries[i-1].Name)
		}
		seen[e.Name] = true
	}
	for _, want := range []string{"server.js", "package-lock.json", testfeed.DepFile, "node_modules/" + testfeed.DepName + "/index.js", "node_modules/.bin-link"} {
		if !seen["ad-ldap-connector-v6.4.1/"+want] {
			t.Errorf("bundle lacks %s", want)
		}
	}

	// Deterministic: the same release, node and lockfile give the same bytes.
	res2 := buildTestBundle(t, r, src, out2)
	a, _ := os.ReadFile(res.Path)
	b, _ := os.ReadFile(res2.Path)
	if !bytes.Equal(a, b) {
		t.Error("two builds of the same bundle differ")
	}
	// Nothing but the bundle is left in the output folder.
	if ents, _ := os.ReadDir(out1); len(ents) != 1 {
		t.Errorf("output folder holds %d entries, want the bundle only", len(ents))
	}

	// A bundle is not a source release to build from.
	if _, err := BuildBundle(context.Background(), BundleOptions{Source: res.Path, Version: "6.4.1", OutDir: t.TempDir(), Runner: r}); err == nil {
		t.Error("built a bundle from a bundle")
	}
	// A node the release's engines.node refuses builds nothing.
	old := &nodeRunner{host: "v16.20.0 93 x64 linux"}
	if _, err := BuildBundle(context.Background(), BundleOptions{Source: src, Version: "6.4.1", OutDir: t.TempDir(), Runner: old}); err == nil || old.npmRuns() != 0 {
		t.Errorf("node 16 against engines >=18: %v, npm runs %d", err, old.npmRuns())
	}
}

func readTar(t *testing.T, p string) []*tar.Header {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
}

// treeState lists every path under dir with its content digest.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		sum := ""
		if d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			h := sha256.Sum256(data)
			sum = hex.EncodeToString(h[:8])
		}
		fmt.Fprintf(&b, "%s %s %s\n", rel, d.Type(), sum)
		return nil
	})
	return b.String()
}

func bundleInstaller(b *bed, r *nodeRunner, logs *[]string) *Installer {
	return New(Options{Platform: b.plat, Services: b.svc, Runner: r, Stable: time.Millisecond,
		Probe: func(context.Context) error { return nil },
		Logf:  func(f string, a ...any) { *logs = append(*logs, fmt.Sprintf(f, a...)) }})
}

func TestInstallFromBundleFile(t *testing.T) {
	build := &nodeRunner{host: host22}
	bundle := buildTestBundle(t, build, sourceRelease(t, t.TempDir(), "6.4.1"), t.TempDir())

	t.Run("fits", func(t *testing.T) {
		b := newBed(t)
		b.writeCustomer()
		r := &nodeRunner{host: host22}
		var logs []string
		src, err := updater.NewFileSource(bundle.Path, "6.4.1")
		if err != nil {
			t.Fatal(err)
		}
		res, err := bundleInstaller(b, r, &logs).Run(context.Background(), Plan{Op: OpInstall, Source: src})
		if err != nil {
			t.Fatalf("install: %v\n%s", err, strings.Join(logs, "\n"))
		}
		if r.npmRuns() != 0 {
			t.Errorf("npm ran %d times for a bundle", r.npmRuns())
		}
		if !exists(filepath.Join(b.plat.Paths.InstallDir, "node_modules", testfeed.DepName, "index.js")) {
			t.Error("the bundle's node_modules were not installed")
		}
		if !strings.Contains(strings.Join(res.Notes, "\n"), "npm was not run") {
			t.Errorf("notes %q", res.Notes)
		}
		b.check("6.4.1")
	})

	t.Run("another node major is refused before any change", func(t *testing.T) {
		b := newBed(t)
		b.writeCustomer()
		before := treeState(t, filepath.Dir(b.plat.Paths.InstallDir))
		r := &nodeRunner{host: host20}
		var logs []string
		src, _ := updater.NewFileSource(bundle.Path, "6.4.1")
		_, err := bundleInstaller(b, r, &logs).Run(context.Background(), Plan{Op: OpInstall, Source: src})
		if !errors.Is(err, updater.ErrBundleMismatch) {
			t.Fatalf("err = %v, want ErrBundleMismatch", err)
		}
		for _, want := range []string{"bundle built for node 22 (ABI 127) on linux-amd64", "this host runs node 20.18.0 (ABI 115)", "rebuild the bundle with node 20", "install from source"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("refusal %q lacks %q", err, want)
			}
		}
		if r.npmRuns() != 0 {
			t.Error("npm ran")
		}
		if after := treeState(t, filepath.Dir(b.plat.Paths.InstallDir)); after != before {
			t.Errorf("the refusal changed files:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if Pending(b.plat) {
			t.Error("the refusal left a journal")
		}
	})

	t.Run("a bundle of another version is refused", func(t *testing.T) {
		b := newBed(t)
		before := treeState(t, filepath.Dir(b.plat.Paths.InstallDir))
		src, _ := updater.NewFileSource(bundle.Path, "6.5.0")
		var logs []string
		_, err := bundleInstaller(b, &nodeRunner{host: host22}, &logs).Run(context.Background(), Plan{Op: OpInstall, Source: src})
		if !errors.Is(err, ErrBundleVersion) {
			t.Fatalf("err = %v", err)
		}
		if after := treeState(t, filepath.Dir(b.plat.Paths.InstallDir)); after != before {
			t.Error("the refusal changed files")
		}
	})

	t.Run("a manifest changed between the check and the extraction", func(t *testing.T) {
		st := t.TempDir()
		os.WriteFile(filepath.Join(st, updater.BundleManifestFile), []byte("other"), 0o644)
		if err := stageBundle(st, []byte("checked"), nil); !errors.Is(err, ErrUnsafeArchive) {
			t.Errorf("err = %v", err)
		}
	})
}

// TestInstallPrefersFittingBundle runs installs from a signed mirror
// holding the source release and a bundle for node 22.
func TestInstallPrefersFittingBundle(t *testing.T) {
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	mirror := func(t *testing.T, withSource bool) string {
		dir := t.TempDir()
		src := sourceRelease(t, t.TempDir(), "6.4.1")
		buildTestBundle(t, &nodeRunner{host: host22}, src, dir)
		if withSource {
			data, _ := os.ReadFile(src)
			os.WriteFile(filepath.Join(dir, filepath.Base(src)), data, 0o644)
		}
		if _, err := updater.BuildMirror(dir, priv, updater.BuildOptions{}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	install := func(t *testing.T, dir, host string) (*Result, *nodeRunner, []string, *bed, error) {
		b := newBed(t)
		b.writeCustomer()
		r := &nodeRunner{host: host}
		var logs []string
		res, err := bundleInstaller(b, r, &logs).Run(context.Background(),
			Plan{Op: OpInstall, Source: &updater.MirrorFeed{Base: dir, PublicKey: pub}})
		return res, r, logs, b, err
	}

	t.Run("fits: bundle, no npm", func(t *testing.T) {
		res, r, logs, b, err := install(t, mirror(t, true), host22)
		if err != nil {
			t.Fatal(err)
		}
		if r.npmRuns() != 0 || !strings.HasSuffix(res.Artifact, "-linux-amd64-node22.tar.gz") || res.Verified != string(updater.TrustSignature) {
			t.Errorf("npm runs %d, artifact %s (%s)\n%s", r.npmRuns(), res.Artifact, res.Verified, strings.Join(logs, "\n"))
		}
		b.check("6.4.1")
	})
	t.Run("no fit: source and npm, said so", func(t *testing.T) {
		res, r, logs, b, err := install(t, mirror(t, true), host20)
		if err != nil {
			t.Fatal(err)
		}
		if r.npmRuns() != 1 || !strings.HasSuffix(res.Artifact, "ad-ldap-connector-v6.4.1.tar.gz") {
			t.Errorf("npm runs %d, artifact %s", r.npmRuns(), res.Artifact)
		}
		if !strings.Contains(strings.Join(logs, "\n"), "no bundle of 6.4.1 fits this host") {
			t.Errorf("fallback not logged:\n%s", strings.Join(logs, "\n"))
		}
		b.check("6.4.1")
	})
	t.Run("update prefers the bundle too", func(t *testing.T) {
		b := newBed(t)
		b.writeCustomer()
		var logs []string
		if _, err := bundleInstaller(b, &nodeRunner{host: host22}, &logs).Run(context.Background(), b.plan(OpInstall, "6.4.1")); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		buildTestBundleVersion(t, &nodeRunner{host: host22}, sourceRelease(t, t.TempDir(), "6.5.0"), dir, "6.5.0")
		sourceRelease(t, dir, "6.5.0")
		if _, err := updater.BuildMirror(dir, priv, updater.BuildOptions{}); err != nil {
			t.Fatal(err)
		}
		r := &nodeRunner{host: host22}
		res, err := bundleInstaller(b, r, &logs).Run(context.Background(), Plan{Op: OpUpdate, Source: &updater.MirrorFeed{Base: dir, PublicKey: pub}})
		if err != nil {
			t.Fatal(err)
		}
		if r.npmRuns() != 0 || res.Version != "6.5.0" || !strings.HasSuffix(res.Artifact, "-node22.tar.gz") {
			t.Errorf("update: npm runs %d, %s from %s", r.npmRuns(), res.Version, res.Artifact)
		}
		b.check("6.5.0")
	})
	t.Run("no fit and no source: refused, naming both", func(t *testing.T) {
		dir := mirror(t, false)
		b := newBed(t)
		b.writeCustomer()
		before := treeState(t, filepath.Dir(b.plat.Paths.InstallDir))
		var logs []string
		_, err := bundleInstaller(b, &nodeRunner{host: host20}, &logs).Run(context.Background(),
			Plan{Op: OpInstall, Source: &updater.MirrorFeed{Base: dir, PublicKey: pub}})
		if !errors.Is(err, updater.ErrBundleMismatch) || !strings.Contains(err.Error(), "node 22 (ABI 127)") || !strings.Contains(err.Error(), "node 20.18.0 (ABI 115)") {
			t.Fatalf("err = %v", err)
		}
		if after := treeState(t, filepath.Dir(b.plat.Paths.InstallDir)); after != before {
			t.Error("the refusal changed files")
		}
	})
}
