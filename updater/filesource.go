package updater

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/hashicorp/go-version"
)

// FileSource is a release the admin brought as a file (--from): one
// release, whose version comes from the caller or the file's name.
type FileSource struct {
	Path    string // absolute path of the artifact
	Version *version.Version
}

var _ Source = (*FileSource)(nil)

var fileVersionRe = regexp.MustCompile(`v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\.(?:tar\.gz|tgz|msi)$`)

// NewFileSource returns the source for the local artifact path. ver, when
// not empty, is its version; otherwise the version is read from the file's
// name (ad-ldap-connector-v6.4.1.tar.gz, adldap-v6.4.1.msi, or a bundle's
// ad-ldap-connector-v6.4.1-linux-amd64-node22.tar.gz). The file must
// exist and be a regular file.
func NewFileSource(path, ver string) (*FileSource, error) {
	if bver, _, _, _, ok := ParseBundleName(filepath.Base(path)); ok && ver == "" {
		ver = bver // not the prerelease "6.4.1-linux-amd64-node22"
	}
	if ver == "" {
		m := fileVersionRe.FindStringSubmatch(filepath.Base(path))
		if m == nil {
			return nil, fmt.Errorf("cannot tell the version of %s from its name: pass --version X.Y.Z", path)
		}
		ver = m[1]
	}
	v, err := ParseVersion(ver)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", abs)
	}
	return &FileSource{Path: abs, Version: v}, nil
}

// Location is the file's path.
func (s *FileSource) Location() string { return s.Path }

// Releases returns the file's one release.
func (s *FileSource) Releases(context.Context) ([]*Release, error) {
	return []*Release{{Version: s.Version, Tag: tagFor(s.Version), TarballURL: s.Path}}, nil
}

// Release returns the file's release when v is its version.
func (s *FileSource) Release(ctx context.Context, v string) (*Release, error) {
	rels, _ := s.Releases(ctx)
	return findRelease(rels, v, s.Path)
}

// Artifact returns the file itself. Nothing vouches for it but the
// admin's --sha256, when given.
func (s *FileSource) Artifact(rel *Release, goos string) (Artifact, error) {
	ext := ".tar.gz"
	name := "ad-ldap-connector-" + tagFor(rel.Version) + ext
	if goos == "windows" {
		name = "adldap-" + tagFor(rel.Version) + ".msi"
	} else if _, _, _, _, ok := ParseBundleName(filepath.Base(s.Path)); ok {
		name = filepath.Base(s.Path)
	}
	return originChecked(s.Path, Artifact{Name: name, URL: s.Path})
}
