package updater

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func validManifest() map[string]any {
	return map[string]any{
		"format": BundleFormat, "connector_version": "6.4.1", "platform": "linux", "arch": "amd64",
		"node_version": "v22.11.0", "node_major": 22, "node_abi": 127,
		"lockfile": "package-lock.json", "lockfile_sha256": strings.Repeat("ab", 32),
		"npm_version": "10.9.0", "built_by": "adldapctl 0.3.0", "note": BundleABINote,
	}
}

func manifestJSON(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseBundleManifest(t *testing.T) {
	m, err := ParseBundleManifest(manifestJSON(t, validManifest()))
	if err != nil {
		t.Fatalf("valid manifest refused: %v", err)
	}
	if m.NodeMajor != 22 || m.NodeABI != 127 || m.Arch != "amd64" || m.ConnectorVersion != "6.4.1" {
		t.Fatalf("parsed %+v", m)
	}
	withExtra := validManifest()
	withExtra["future_field"] = []int{1, 2}
	if _, err := ParseBundleManifest(manifestJSON(t, withExtra)); err != nil {
		t.Errorf("unknown field refused: %v", err)
	}
	noLock := validManifest()
	delete(noLock, "lockfile")
	delete(noLock, "lockfile_sha256")
	if _, err := ParseBundleManifest(manifestJSON(t, noLock)); err != nil {
		t.Errorf("a release without a lockfile refused: %v", err)
	}

	huge := validManifest()
	huge["note"] = strings.Repeat("x", 70<<10)
	cases := map[string][]byte{
		"huge":          manifestJSON(t, huge),
		"not json":      []byte("{"),
		"array":         []byte("[]"),
		"null":          []byte("null"),
		"major string":  manifestJSON(t, with(validManifest(), "node_major", "22")),
		"abi float":     manifestJSON(t, with(validManifest(), "node_abi", 127.5)),
		"abi negative":  manifestJSON(t, with(validManifest(), "node_abi", -1)),
		"abi huge":      manifestJSON(t, with(validManifest(), "node_abi", 1e12)),
		"arch object":   manifestJSON(t, with(validManifest(), "arch", map[string]any{})),
		"arch slash":    manifestJSON(t, with(validManifest(), "arch", "../x")),
		"format":        manifestJSON(t, with(validManifest(), "format", "tarball")),
		"newer format":  manifestJSON(t, with(validManifest(), "format", "adldapctl-connector-bundle/2")),
		"windows":       manifestJSON(t, with(validManifest(), "platform", "windows")),
		"major vs ver":  manifestJSON(t, with(validManifest(), "node_major", 20)),
		"node version":  manifestJSON(t, with(validManifest(), "node_version", "22")),
		"connector ver": manifestJSON(t, with(validManifest(), "connector_version", "latest")),
		"lock path":     manifestJSON(t, with(validManifest(), "lockfile", "../../etc/passwd")),
		"lock sum":      manifestJSON(t, with(validManifest(), "lockfile_sha256", "ABC")),
		"lock half":     manifestJSON(t, with(validManifest(), "lockfile_sha256", "")),
		"control chars": manifestJSON(t, with(validManifest(), "built_by", "x\x1b[2Jy")),
	}
	for _, field := range []string{"format", "connector_version", "platform", "arch", "node_version", "node_major", "node_abi"} {
		m := validManifest()
		delete(m, field)
		cases["missing "+field] = manifestJSON(t, m)
	}
	for name, data := range cases {
		if _, err := ParseBundleManifest(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_, err = ParseBundleManifest(manifestJSON(t, with(validManifest(), "format", "adldapctl-connector-bundle/2")))
	if err == nil || !strings.Contains(err.Error(), "update adldapctl") {
		t.Errorf("newer format: %v, want a hint to update adldapctl", err)
	}
}

func with(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	return m
}

func TestParseNodeHost(t *testing.T) {
	h, err := ParseNodeHost("v22.11.0 127 x64 linux\n")
	if err != nil || h != (NodeHost{OS: "linux", Arch: "amd64", Version: "v22.11.0", Major: 22, ABI: 127}) {
		t.Fatalf("%+v %v", h, err)
	}
	for _, bad := range []string{"", "v22.11.0 127 x64", "22 127 x64 linux", "v22.11.0 abc x64 linux", "v22.11.0 127 x64 linux extra"} {
		if _, err := ParseNodeHost(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSelectBundle(t *testing.T) {
	b := func(arch string, major, abi int) Bundle {
		return Bundle{Artifact: Artifact{Name: BundleName("6.4.1", arch, major)}, OS: "linux", Arch: arch, NodeMajor: major, NodeABI: abi}
	}
	bundles := []Bundle{b("arm64", 22, 127), b("amd64", 20, 115), b("amd64", 22, 127)}
	host := NodeHost{OS: "linux", Arch: "amd64", Version: "v22.11.0", Major: 22, ABI: 127}
	got, err := SelectBundle(bundles, host)
	if err != nil || got.Arch != "amd64" || got.NodeMajor != 22 {
		t.Fatalf("selected %+v, %v", got, err)
	}
	got, err = SelectBundle(bundles, NodeHost{OS: "linux", Arch: "arm64", Version: "v22.1.0", Major: 22, ABI: 127})
	if err != nil || got.Arch != "arm64" {
		t.Fatalf("arm64: %+v, %v", got, err)
	}
	// Same major, another ABI (a node build with its own ABI): no fit.
	if _, err := SelectBundle([]Bundle{b("amd64", 22, 127)}, NodeHost{OS: "linux", Arch: "amd64", Version: "v22.0.0", Major: 22, ABI: 126}); !errors.Is(err, ErrBundleMismatch) {
		t.Errorf("ABI mismatch: %v", err)
	}
	_, err = SelectBundle([]Bundle{b("arm64", 22, 127), b("amd64", 20, 115)}, host)
	var me *BundleMismatchError
	if !errors.As(err, &me) {
		t.Fatalf("none fits: %v", err)
	}
	// The explanation is about the bundle for this host's arch.
	msg := err.Error()
	for _, want := range []string{"bundle built for node 20 (ABI 115) on linux-amd64", "this host runs node 22.11.0 (ABI 127) on linux-amd64", "rebuild the bundle with node 22", "install from source"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if _, err := SelectBundle(nil, host); err == nil {
		t.Error("no bundles: selected one")
	}
	if _, err := SelectBundle([]Bundle{b("amd64", 22, 127)}, NodeHost{OS: "darwin", Arch: "amd64", Major: 22, ABI: 127, Version: "v22.1.0"}); !errors.Is(err, ErrBundleMismatch) {
		t.Errorf("other OS: %v", err)
	}
}

// writeTarGz writes entries (name → content; a trailing "/" is a folder)
// in the given order.
func writeTarGz(t *testing.T, p string, names []string, content map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, n := range names {
		h := &tar.Header{Name: n, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(content[n]))}
		if strings.HasSuffix(n, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(content[n])
	}
	tw.Close()
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadBundleManifest(t *testing.T) {
	dir := t.TempDir()
	good := manifestJSON(t, validManifest())
	p := filepath.Join(dir, "b.tar.gz")

	writeTarGz(t, p, []string{"top/", "top/" + BundleManifestFile, "top/server.js"}, map[string][]byte{"top/" + BundleManifestFile: good})
	m, raw, found, err := ReadBundleManifest(p)
	if err != nil || !found || m.NodeMajor != 22 || !bytes.Equal(raw, good) {
		t.Fatalf("bundle: %+v %v %v", m, found, err)
	}

	writeTarGz(t, p, []string{"top/", "top/server.js", "top/package.json"}, nil)
	if _, _, found, err := ReadBundleManifest(p); err != nil || found {
		t.Errorf("source tarball: found %v, %v", found, err)
	}

	// Deeper than the top folder is not the manifest.
	writeTarGz(t, p, []string{"top/", "top/lib/" + BundleManifestFile}, map[string][]byte{"top/lib/" + BundleManifestFile: good})
	if _, _, found, _ := ReadBundleManifest(p); found {
		t.Error("a manifest below the top folder counted")
	}

	bad := manifestJSON(t, with(validManifest(), "node_abi", "127"))
	writeTarGz(t, p, []string{"top/", "top/" + BundleManifestFile}, map[string][]byte{"top/" + BundleManifestFile: bad})
	if _, _, found, err := ReadBundleManifest(p); !found || !errors.Is(err, ErrVerification) {
		t.Errorf("invalid manifest: found %v, %v", found, err)
	}

	big := bytes.Repeat([]byte(" "), maxBundleManifest+1)
	writeTarGz(t, p, []string{"top/", "top/" + BundleManifestFile}, map[string][]byte{"top/" + BundleManifestFile: big})
	if _, _, _, err := ReadBundleManifest(p); !errors.Is(err, ErrVerification) {
		t.Errorf("huge manifest: %v", err)
	}

	os.WriteFile(p, []byte("not gzip"), 0o644)
	if _, _, _, err := ReadBundleManifest(p); !errors.Is(err, ErrVerification) {
		t.Errorf("not gzip: %v", err)
	}
}

func TestBundleName(t *testing.T) {
	n := BundleName("6.4.1", "amd64", 22)
	if n != "ad-ldap-connector-v6.4.1-linux-amd64-node22.tar.gz" {
		t.Fatal(n)
	}
	v, goos, arch, major, ok := ParseBundleName(n)
	if !ok || v != "6.4.1" || goos != "linux" || arch != "amd64" || major != 22 {
		t.Fatalf("%v %v %v %v %v", v, goos, arch, major, ok)
	}
	for _, bad := range []string{"ad-ldap-connector-v6.4.1.tar.gz", "ad-ldap-connector-v6.4.1-linux-amd64.tar.gz", "ad-ldap-connector-v6.4.1-windows-amd64-node22.tar.gz"} {
		if _, _, _, _, ok := ParseBundleName(bad); ok {
			t.Errorf("%s parsed as a bundle", bad)
		}
	}
}

// writeBundle writes a bundle archive for m into dir under name.
func writeBundle(t *testing.T, dir, name string, m map[string]any) {
	t.Helper()
	mf := "ad-ldap-connector-v6.4.1/" + BundleManifestFile
	writeTarGz(t, filepath.Join(dir, name), []string{"ad-ldap-connector-v6.4.1/", mf, "ad-ldap-connector-v6.4.1/server.js"},
		map[string][]byte{mf: manifestJSON(t, m), "ad-ldap-connector-v6.4.1/server.js": []byte("// server\n")})
}

func TestBuildMirrorBundles(t *testing.T) {
	pub, priv := mtKeys(t)
	dir := t.TempDir()
	mtWrite(t, filepath.Join(dir, "ad-ldap-connector-v6.4.1.tar.gz"), "linux 6.4.1")
	writeBundle(t, dir, BundleName("6.4.1", "amd64", 22), validManifest())
	node20 := validManifest()
	node20["node_version"], node20["node_major"], node20["node_abi"] = "v20.18.0", 20, 115
	writeBundle(t, dir, BundleName("6.4.1", "amd64", 20), node20)
	meta, err := BuildMirror(dir, priv, BuildOptions{Now: mtClock})
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Releases) != 1 {
		t.Fatalf("releases: %+v", meta.Releases)
	}
	r := meta.Releases[0]
	// The bundles are not artifacts: an older adldapctl, which reads only
	// "artifacts" (and refuses two of one platform), sees the mirror as before.
	if len(r.Artifacts) != 1 || r.Artifacts[0].Platform != "linux" || r.Artifacts[0].File != "ad-ldap-connector-v6.4.1.tar.gz" {
		t.Errorf("artifacts: %+v", r.Artifacts)
	}
	if len(r.Bundles) != 2 {
		t.Fatalf("bundles: %+v", r.Bundles)
	}
	b := r.Bundles[0] // sorted by file: node20 first
	if b.File != BundleName("6.4.1", "amd64", 20) || b.OS != "linux" || b.Arch != "amd64" || b.NodeMajor != 20 || b.NodeABI != 115 ||
		b.NodeVersion != "v20.18.0" || b.Size <= 0 || len(b.SHA256) != 64 {
		t.Errorf("bundle entry: %+v", b)
	}
	data, _ := os.ReadFile(filepath.Join(dir, MirrorMetaFile))
	var raw struct {
		Releases []struct {
			Bundles []map[string]any `json:"bundles"`
		} `json:"releases"`
	}
	if err := json.Unmarshal(data, &raw); err != nil || len(raw.Releases[0].Bundles) != 2 {
		t.Fatalf("releases.json: %v\n%s", err, data)
	}
	for _, k := range []string{"file", "size", "sha256", "os", "arch", "node_major", "node_abi"} {
		if _, ok := raw.Releases[0].Bundles[0][k]; !ok {
			t.Errorf("bundle entry lacks %q:\n%s", k, data)
		}
	}

	// A client reads them as the release's bundles, with signed digests.
	f := &MirrorFeed{Base: dir, PublicKey: pub, Now: mtClock}
	rels, err := f.Releases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rels[0].Bundles) != 2 || len(rels[0].Assets) != 1 {
		t.Fatalf("client view: %+v", rels[0])
	}
	got, err := SelectBundle(rels[0].Bundles, NodeHost{OS: "linux", Arch: "amd64", Version: "v22.11.0", Major: 22, ABI: 127})
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.BundleArtifact(rels[0], got)
	if err != nil || a.Trust != TrustSignature || a.SHA256 != r.Bundles[1].SHA256 || a.Name != BundleName("6.4.1", "amd64", 22) {
		t.Errorf("bundle artifact: %+v %v", a, err)
	}
}

func TestBuildMirrorWithoutBundlesUnchanged(t *testing.T) {
	_, priv := mtKeys(t)
	dir := t.TempDir()
	mtWrite(t, filepath.Join(dir, "ad-ldap-connector-v6.4.1.tar.gz"), "linux 6.4.1")
	if _, err := BuildMirror(dir, priv, BuildOptions{Now: mtClock}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, MirrorMetaFile))
	if bytes.Contains(data, []byte("bundles")) {
		t.Errorf("a mirror without bundles names them:\n%s", data)
	}
}

func TestBuildMirrorBundleRefusals(t *testing.T) {
	_, priv := mtKeys(t)
	cases := map[string]func(dir string){
		"name and manifest disagree": func(dir string) {
			writeBundle(t, dir, BundleName("6.4.1", "amd64", 20), validManifest()) // manifest says node 22
		},
		"version disagrees": func(dir string) {
			writeBundle(t, dir, BundleName("6.5.0", "amd64", 22), validManifest())
		},
		"no manifest": func(dir string) {
			writeTarGz(t, filepath.Join(dir, BundleName("6.4.1", "amd64", 22)), []string{"top/", "top/server.js"}, nil)
		},
		"bad manifest": func(dir string) {
			writeBundle(t, dir, BundleName("6.4.1", "amd64", 22), with(validManifest(), "node_abi", 0))
		},
	}
	for name, setup := range cases {
		dir := t.TempDir()
		setup(dir)
		if _, err := BuildMirror(dir, priv, BuildOptions{Now: mtClock}); err == nil {
			t.Errorf("%s: built", name)
		}
		if _, err := os.Stat(filepath.Join(dir, MirrorMetaFile)); err == nil {
			t.Errorf("%s: releases.json written", name)
		}
	}
}

func TestMirrorMetaBundleValidation(t *testing.T) {
	sum := strings.Repeat("a", 64)
	ok := MirrorBundle{File: "b.tar.gz", Size: 1, SHA256: sum, OS: "linux", Arch: "amd64", NodeMajor: 22, NodeABI: 127}
	for name, b := range map[string][]MirrorBundle{
		"path":      {with2(ok, func(b *MirrorBundle) { b.File = "../b.tar.gz" })},
		"os":        {with2(ok, func(b *MirrorBundle) { b.OS = "windows" })},
		"abi":       {with2(ok, func(b *MirrorBundle) { b.NodeABI = 0 })},
		"arch":      {with2(ok, func(b *MirrorBundle) { b.Arch = "AMD 64" })},
		"sha":       {with2(ok, func(b *MirrorBundle) { b.SHA256 = "x" })},
		"duplicate": {ok, with2(ok, func(b *MirrorBundle) { b.File = "c.tar.gz" })},
	} {
		m := &MirrorMeta{Releases: []MirrorRelease{{Version: "6.4.1", Bundles: b}}}
		if err := m.validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
	m := &MirrorMeta{Releases: []MirrorRelease{{Version: "6.4.1", Bundles: []MirrorBundle{ok}}}}
	if err := m.validate(); err != nil {
		t.Error(err)
	}
}

func with2(b MirrorBundle, f func(*MirrorBundle)) MirrorBundle {
	f(&b)
	return b
}

func TestFileSourceBundleVersion(t *testing.T) {
	p := filepath.Join(t.TempDir(), BundleName("6.4.1", "amd64", 22))
	os.WriteFile(p, []byte("x"), 0o644)
	s, err := NewFileSource(p, "")
	if err != nil || s.Version.String() != "6.4.1" {
		t.Fatalf("%v %v", s, err)
	}
}

// FuzzBundleManifest: whatever a bundle's manifest holds, parsing never
// panics, and an accepted one names a target that validates again.
func FuzzBundleManifest(f *testing.F) {
	good, _ := json.Marshal(validManifest())
	f.Add(good)
	f.Add([]byte(`{"format":"adldapctl-connector-bundle/1","node_major":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseBundleManifest(data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted manifest fails Validate: %v", err)
		}
		if m.NodeMajor < 1 || m.NodeABI < 1 || !bundleArchRe.MatchString(m.Arch) || m.Platform != PlatformLinux {
			t.Fatalf("accepted %+v", m)
		}
		_ = m.Fits(NodeHost{OS: "linux", Arch: m.Arch, Major: m.NodeMajor, ABI: m.NodeABI, Version: m.NodeVersion})
	})
}
