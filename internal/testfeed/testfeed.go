// Package testfeed is a test stand-in for the Auth0 AD/LDAP Connector's
// GitHub releases: a sample connector (a Node server with the real
// connector's layout, without dependencies or with one local npm
// dependency), GitHub-style source tarballs of it, and an HTTP server with
// the GitHub REST shape of auth0/ad-ldap-connector's releases (assets
// included).
//
// For Windows it builds sample connector MSIs with wixl (BuildMSI, MSIAsset)
// shaped like the official one, with Go stand-ins for node.exe (winnode)
// and nssm.exe (winnssm), and the probe the Wine tests assert with
// (internal/testbed/winprobe); BuildWindowsPrograms builds those once.
//
// It is used by tests and by the testfeed command only; it knows nothing of
// how adldapctl installs, verifies or runs the connector.
package testfeed

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	version "github.com/hashicorp/go-version"
)

// Owner and Repo name the GitHub repository the server stands in for.
const (
	Owner = "auth0"
	Repo  = "ad-ldap-connector"
)

//go:embed sample
var sampleFS embed.FS

// SampleOptions select a variant of the sample connector.
type SampleOptions struct {
	// CrashOnStart makes server.js print an error and exit 1 at once.
	CrashOnStart bool
	// NoLockfile leaves package-lock.json out of the tarball.
	NoLockfile bool
	// Dependency gives the sample a real npm dependency: DepName, a local
	// file: tarball at deps/ in the release (DepTarball), listed in
	// package.json and the lockfile. server.js then requires it at start
	// and answers with its greeting. npm installs it with no network.
	Dependency bool
}

// The sample's npm dependency (SampleOptions.Dependency).
const (
	DepName     = "adldap-sample-dep"
	DepVersion  = "1.0.0"
	DepGreeting = "hello from adldap-sample-dep 1.0.0"
	// DepFile is the dependency's tarball in the release tree.
	DepFile = "deps/" + DepName + "-" + DepVersion + ".tgz"
)

// DepTarball is the sample dependency as npm packs it: a gzip'd tar of
// package/package.json and package/index.js. It is deterministic.
func DepTarball() ([]byte, error) {
	files := []struct{ name, data string }{
		{"package/package.json", `{"name":"` + DepName + `","version":"` + DepVersion + `","main":"index.js","license":"MIT"}` + "\n"},
		{"package/index.js", "'use strict';\nmodule.exports = { greet: () => '" + DepGreeting + "' };\n"},
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.data)),
			ModTime: time.Unix(499162500, 0), Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.data)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// addDependency adds the sample dependency to files: its tarball, the
// package.json entry and a lockfile that pins it by integrity.
func addDependency(files map[string][]byte) error {
	tgz, err := DepTarball()
	if err != nil {
		return err
	}
	files[DepFile] = tgz
	pj := string(files["package.json"])
	const tail = "  \"license\": \"MIT\"\n}"
	if !strings.Contains(pj, tail) {
		return fmt.Errorf("testfeed: sample/package.json lost its license line")
	}
	spec := "file:" + DepFile
	pj = strings.Replace(pj, tail, "  \"license\": \"MIT\",\n  \"dependencies\": {\n    \""+DepName+"\": \""+spec+"\"\n  }\n}", 1)
	files["package.json"] = []byte(pj)
	sum := sha512.Sum512(tgz)
	lock := map[string]any{
		"name": "ad-ldap-connector", "version": "0.0.0", "lockfileVersion": 3, "requires": true,
		"packages": map[string]any{
			"": map[string]any{
				"name": "ad-ldap-connector", "version": "0.0.0", "license": "MIT",
				"dependencies": map[string]string{DepName: spec},
				"engines":      map[string]string{"node": ">=18"},
			},
			"node_modules/" + DepName: map[string]any{
				"version": DepVersion, "resolved": spec, "license": "MIT",
				"integrity": "sha512-" + base64.StdEncoding.EncodeToString(sum[:]),
			},
		},
	}
	b, err := json.MarshalIndent(lock, "", "  ")
	if err != nil {
		return err
	}
	files["package-lock.json"] = append(b, '\n')
	return nil
}

// ReleaseSpec describes one release the Server publishes.
type ReleaseSpec struct {
	Version    string // "6.4.1" or "v6.4.1"
	Prerelease bool
	Draft      bool
	Sample     SampleOptions
	// Tarball, when set, is served as the release's source tarball instead
	// of SourceTarball(Version, Sample).
	Tarball []byte
	// PublishedAt defaults to a fixed time derived from Version, increasing
	// with it.
	PublishedAt time.Time
	// Assets are files attached to the release (the Windows MSI: see
	// MSIAsset), served with GitHub's asset JSON and a download URL.
	Assets []AssetSpec
}

// AssetSpec is a file attached to a release.
type AssetSpec struct {
	Name string // "adldap-v6.4.1.msi"; no slashes or control characters
	Data []byte
	// ContentType defaults to application/x-msi for .msi, else
	// application/octet-stream.
	ContentType string
}

// Lines of sample/server.js that SourceTarball stamps.
const (
	versionLine = "const VERSION = '0.0.0-unstamped';"
	crashLine   = "const CRASH_ON_START = false;"
)

// CommitID is the fake 40-hex commit a release's tarball is "archived" from,
// derived from the version alone (so it is stable across runs).
func CommitID(v string) string {
	sum := sha1.Sum([]byte("adldapctl-testfeed:" + normalize(v)))
	return hex.EncodeToString(sum[:])
}

// TopFolder is the single top folder of the release's source tarball, like
// GitHub's "auth0-ad-ldap-connector-<7 hex>".
func TopFolder(v string) string {
	return Owner + "-" + Repo + "-" + CommitID(v)[:7]
}

// CommitTime is the fixed time stamped on the tarball entries and used as
// the default published_at: 2023-01-01 plus one hour per patch, one day per
// minor and sixty days per major, so later versions are newer.
func CommitTime(v string) time.Time {
	base := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	pv, err := version.NewVersion(normalize(v))
	if err != nil {
		return base
	}
	seg := pv.Segments64()
	for len(seg) < 3 {
		seg = append(seg, 0)
	}
	t := base.Add(time.Duration(seg[0])*60*24*time.Hour +
		time.Duration(seg[1])*24*time.Hour +
		time.Duration(seg[2])*time.Hour)
	if pv.Prerelease() != "" {
		t = t.Add(-time.Minute)
	}
	return t
}

// SampleFiles returns the sample connector's files as they appear in the
// tarball of the given version (relative slash paths, without top folder).
func SampleFiles(v string, o SampleOptions) (map[string][]byte, error) {
	v = normalize(v)
	if _, err := version.NewVersion(v); err != nil {
		return nil, fmt.Errorf("testfeed: version %q: %w", v, err)
	}
	files := map[string][]byte{}
	err := fs.WalkDir(sampleFS, "sample", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := sampleFS.ReadFile(p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, "sample/")] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("testfeed: read embedded sample: %w", err)
	}
	js := string(files["server.js"])
	if !strings.Contains(js, versionLine) || !strings.Contains(js, crashLine) {
		return nil, fmt.Errorf("testfeed: sample/server.js lost its stamp lines")
	}
	js = strings.Replace(js, versionLine, "const VERSION = '"+v+"';", 1)
	if o.CrashOnStart {
		js = strings.Replace(js, crashLine, "const CRASH_ON_START = true;", 1)
	}
	files["server.js"] = []byte(js)
	if o.Dependency {
		if err := addDependency(files); err != nil {
			return nil, err
		}
	}
	if o.NoLockfile {
		delete(files, "package-lock.json")
	}
	return files, nil
}

// SourceTarball builds a GitHub-style source tarball of the sample connector
// at version v: gzip'd tar with a leading pax_global_header (comment = the
// commit id, as `git archive` writes it), then one top folder
// TopFolder(v)+"/" holding every file. The output is deterministic.
func SourceTarball(v string, o SampleOptions) ([]byte, error) {
	files, err := SampleFiles(v, o)
	if err != nil {
		return nil, err
	}
	mtime := CommitTime(v)
	top := TopFolder(v) + "/"

	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag:   tar.TypeXGlobalHeader,
		Name:       "pax_global_header",
		PAXRecords: map[string]string{"comment": CommitID(v)},
		Format:     tar.FormatPAX,
	}); err != nil {
		return nil, fmt.Errorf("testfeed: global header: %w", err)
	}

	// git archive writes each directory before its contents, in path order.
	dirs := map[string]bool{top: true}
	for name := range files {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[top+d+"/"] = true
		}
	}
	names := make([]string, 0, len(dirs)+len(files))
	for d := range dirs {
		names = append(names, d)
	}
	for f := range files {
		names = append(names, top+f)
	}
	sortGitOrder(names)

	for _, name := range names {
		hdr := &tar.Header{
			Name:    name,
			ModTime: mtime,
			Uname:   "root",
			Gname:   "root",
			Format:  tar.FormatUSTAR,
		}
		var data []byte
		if strings.HasSuffix(name, "/") {
			hdr.Typeflag = tar.TypeDir
			hdr.Mode = 0o775
		} else {
			data = files[strings.TrimPrefix(name, top)]
			hdr.Typeflag = tar.TypeReg
			hdr.Mode = 0o664
			hdr.Size = int64(len(data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("testfeed: tar %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("testfeed: tar %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sortGitOrder sorts paths so that a directory comes right before its
// contents (plain byte order on the names without the trailing slash, which
// puts "lib" before "lib/x" and before "package.json").
func sortGitOrder(names []string) {
	key := func(s string) string { return strings.TrimSuffix(s, "/") }
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && key(names[j]) < key(names[j-1]); j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
}

// normalize strips a leading "v".
func normalize(v string) string {
	return strings.TrimPrefix(strings.TrimSpace(v), "v")
}

// ParseReleases parses the testfeed command's -releases flag:
// comma-separated versions, each optionally followed by ":"-separated
// modifiers: pre (prerelease), draft, crash (CrashOnStart), nolock
// (NoLockfile), dep (Dependency). Example: "6.4.1,6.5.0,6.6.0:crash,6.7.0-rc.1:pre".
func ParseReleases(s string) ([]ReleaseSpec, error) {
	var out []ReleaseSpec
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		spec := ReleaseSpec{Version: normalize(parts[0])}
		if _, err := version.NewVersion(spec.Version); err != nil {
			return nil, fmt.Errorf("release %q: bad version: %w", item, err)
		}
		for _, m := range parts[1:] {
			switch strings.ToLower(strings.TrimSpace(m)) {
			case "pre", "prerelease":
				spec.Prerelease = true
			case "draft":
				spec.Draft = true
			case "crash":
				spec.Sample.CrashOnStart = true
			case "nolock", "nolockfile":
				spec.Sample.NoLockfile = true
			case "dep", "dependency":
				spec.Sample.Dependency = true
			default:
				return nil, fmt.Errorf("release %q: unknown modifier %q (want pre, draft, crash, nolock or dep)", item, m)
			}
		}
		out = append(out, spec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no releases in %q", s)
	}
	return out, nil
}
