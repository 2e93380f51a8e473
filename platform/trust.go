package platform

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/internal/certs"
)

// TrustLayout is where a distro family keeps the OS trust store: the folder
// an admin drops anchors into, the command that rebuilds the store from it,
// and the generated files a program reads (for `certs list --all`).
type TrustLayout struct {
	Family    string
	AnchorDir string   // unrooted, e.g. /usr/local/share/ca-certificates
	Ext       string   // anchor file extension the update command picks up
	Update    []string // e.g. update-ca-certificates
	// Bundles are the generated stores, first existing one read by list --all.
	Bundles []string
	// CertsDir is <openssl version -d>/certs, what the connector reads.
	CertsDir string
}

// trustLayouts is the per-family table. Debian's update-ca-certificates
// reads only *.crt; the others accept .crt too, so one extension serves all.
var trustLayouts = map[string]TrustLayout{
	"debian": {Family: "debian", AnchorDir: "/usr/local/share/ca-certificates", Ext: ".crt",
		Update: []string{"update-ca-certificates"}, Bundles: []string{"/etc/ssl/certs/ca-certificates.crt"}, CertsDir: "/usr/lib/ssl/certs"},
	"rhel": {Family: "rhel", AnchorDir: "/etc/pki/ca-trust/source/anchors", Ext: ".crt",
		Update: []string{"update-ca-trust", "extract"}, Bundles: []string{"/etc/pki/tls/certs/ca-bundle.crt", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"}, CertsDir: "/etc/pki/tls/certs"},
	"suse": {Family: "suse", AnchorDir: "/etc/pki/trust/anchors", Ext: ".crt",
		Update: []string{"update-ca-certificates"}, Bundles: []string{"/var/lib/ca-certificates/ca-bundle.pem", "/etc/ssl/ca-bundle.pem"}, CertsDir: "/etc/ssl/certs"},
	"alpine": {Family: "alpine", AnchorDir: "/usr/local/share/ca-certificates", Ext: ".crt",
		Update: []string{"update-ca-certificates"}, Bundles: []string{"/etc/ssl/certs/ca-certificates.crt"}, CertsDir: "/etc/ssl/certs"},
}

// TrustLayoutFor returns the layout of a distro family; an unknown family
// gets Debian's, the most common (update-ca-certificates).
func TrustLayoutFor(family string) TrustLayout {
	if l, ok := trustLayouts[family]; ok {
		return l
	}
	l := trustLayouts["debian"]
	l.Family = family
	return l
}

// TrustStore is the OS trust store of p on Linux: the anchor folder (under
// --root) and its update command. It is p's CertStore there.
type TrustStore struct {
	TrustLayout
	p *Platform
}

var _ CertStore = (*TrustStore)(nil)

// TrustStore returns p's anchor-folder store, or ErrNotSupported on Windows (see CertStore).
func (p *Platform) TrustStore() (*TrustStore, error) {
	if p.OS == "windows" {
		return nil, fmt.Errorf("%w: Windows keeps certificates in the LocalMachine Root and CA stores (Platform.CertStore), not an anchor folder", ErrNotSupported)
	}
	return &TrustStore{TrustLayout: TrustLayoutFor(p.Family), p: p}, nil
}

// Dir is the anchor folder on this host (under --root when given).
func (s *TrustStore) Dir() string { return join(s.p.Root, s.AnchorDir) }

// HostPath is an unrooted system path as adldapctl reaches it.
func (s *TrustStore) HostPath(p string) string { return join(s.p.Root, p) }

func (s *TrustStore) anchors() FolderStore { return FolderStore{Dir: s.Dir(), Ext: s.Ext} }

// Describe names the store by its anchor folder.
func (s *TrustStore) Describe() string { return s.Dir() }

// Add writes the certificate into the anchor folder (roots and
// intermediates alike); where is its file.
func (s *TrustStore) Add(der []byte, root bool) (bool, string, error) {
	changed, path, err := s.anchors().Add(der)
	if err != nil {
		return false, path, fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return changed, path, nil
}

// Imported returns the first certificate of each file adldapctl wrote
// into the anchor folder.
func (s *TrustStore) Imported() ([]StoredCert, error) { return s.anchors().Imported() }

// Remove deletes adldapctl's anchor files holding this certificate.
func (s *TrustStore) Remove(sha256 string) ([]string, error) { return s.anchors().Remove(sha256) }

// All returns every certificate of the anchor folder's files and of the
// first generated bundle that exists.
func (s *TrustStore) All() ([]StoredCert, error) {
	files, err := ReadDirFiles(s.Dir(), "")
	if err != nil {
		return nil, err
	}
	for _, b := range s.Bundles {
		bf, err := ReadDirFiles(filepath.Dir(s.HostPath(b)), filepath.Base(b))
		if err != nil {
			return nil, err
		}
		if len(bf) > 0 {
			files = append(files, bf...)
			break
		}
	}
	return storedCerts(files, false), nil
}

// UpdateCommand is the distro's command that rebuilds the store from the
// anchor folder, run once after a change (RunUpdate).
func (s *TrustStore) UpdateCommand() []string { return s.Update }

// FolderStore is a folder of certificate files adldapctl writes, one PEM
// certificate a file named certs.FileStem + Ext: the anchor folder of a
// TrustStore, and the connector's SSL_CA_PATH folder on every OS.
type FolderStore struct {
	Dir string
	Ext string
}

// Add writes the DER certificate as PEM into the folder unless an
// identical file is there (PutFile); path is its file, also on error.
func (f FolderStore) Add(der []byte) (changed bool, path string, err error) {
	x, err := x509.ParseCertificate(der)
	if err != nil {
		return false, f.Dir, fmt.Errorf("parse the certificate: %w", err)
	}
	c := certs.Classify([]*x509.Certificate{x})[0]
	name := certs.FileStem(c) + f.Ext
	changed, err = PutFile(f.Dir, name, c.PEM())
	return changed, filepath.Join(f.Dir, name), err
}

// Imported returns the first certificate of each file adldapctl wrote
// there, with the file as its Store; unreadable files are skipped.
func (f FolderStore) Imported() ([]StoredCert, error) {
	files, err := ReadDirFiles(f.Dir, certs.StemPrefix, f.Ext)
	if err != nil {
		return nil, err
	}
	return storedCerts(files, true), nil
}

// Remove deletes the files of Imported holding the certificate with this
// SHA-256 and returns them.
func (f FolderStore) Remove(sha256 string) ([]string, error) {
	in, err := f.Imported()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, c := range in {
		if c.SHA256 != sha256 {
			continue
		}
		if _, err := RemoveFile(filepath.Dir(c.Store), filepath.Base(c.Store)); err != nil {
			return removed, fmt.Errorf("remove %s: %w", c.Store, err)
		}
		removed = append(removed, c.Store)
	}
	return removed, nil
}

// storedCerts parses files (only the first certificate of each when
// firstOnly) in the order certs.Classify gives; unreadable files are
// skipped.
func storedCerts(files []StoreFile, firstOnly bool) []StoredCert {
	var out []StoredCert
	for _, f := range files {
		parsed, err := certs.Parse(f.Data)
		if err != nil {
			continue
		}
		if firstOnly {
			parsed = parsed[:1]
		}
		for _, c := range certs.Classify(parsed) {
			out = append(out, StoredCert{DER: c.X509.Raw, Store: f.Path, SHA256: c.SHA256})
		}
	}
	return out
}

// PutFile writes data as dir/name with mode 0644, atomically, unless an
// identical regular file is already there. It never writes through a
// symbolic link or into a non-regular file at that name. It reports
// whether the file changed.
func PutFile(dir, name string, data []byte) (bool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	if fi, err := os.Lstat(dir); err == nil && !fi.IsDir() {
		return false, fmt.Errorf("%w: %s is a %s, not a folder", ErrPlantedLink, dir, kindOf(fi.Mode()))
	}
	path := filepath.Join(dir, name)
	fi, err := os.Lstat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return false, fmt.Errorf("%w: %s is a %s; remove it and run again", ErrPlantedLink, path, kindOf(fi.Mode()))
	case err == nil:
		old, rerr := os.ReadFile(path)
		if rerr == nil && bytes.Equal(old, data) {
			if fi.Mode().Perm() != 0o644 {
				return true, os.Chmod(path, 0o644)
			}
			return false, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	return true, WriteFileAtomicMode(path, data, 0o644)
}

// RemoveFile removes dir/name (a link there is removed, never followed)
// and reports whether it existed.
func RemoveFile(dir, name string) (bool, error) {
	err := os.Remove(filepath.Join(dir, name))
	switch {
	case err == nil:
		return true, SyncDir(dir)
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// StoreFile is a file found in a store folder.
type StoreFile struct {
	Path string
	Data []byte
}

// ReadDirFiles returns the regular files of dir whose names start with
// prefix (any when "") and end in one of exts (any when none), sorted by
// name. Links are followed here (a read-only listing: /etc/ssl/certs is a
// folder of links). A missing dir is empty.
func ReadDirFiles(dir, prefix string, exts ...string) ([]StoreFile, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []StoreFile
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, prefix) || (len(exts) > 0 && !hasExt(n, exts)) {
			continue
		}
		p := filepath.Join(dir, n)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, StoreFile{Path: p, Data: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func hasExt(name string, exts []string) bool {
	for _, e := range exts {
		if strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

// ErrTrustUpdate is wrapped when the store's update command fails.
var ErrTrustUpdate = errors.New("trust store update failed")

// UpdateTimeout bounds the store's update command.
const UpdateTimeout = 2 * time.Minute

// RunUpdate runs the update command on the host. Under --root it runs
// nothing and returns ran false: the caller reports the command instead.
func (s *TrustStore) RunUpdate(ctx context.Context) (ran bool, err error) {
	if s.p.Sandboxed() {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, UpdateTimeout)
	defer cancel()
	name, err := exec.LookPath(s.Update[0])
	if err != nil {
		return false, fmt.Errorf("%w: %s not found: install the ca-certificates package and run it: %w", ErrTrustUpdate, s.Update[0], err)
	}
	cmd := exec.CommandContext(ctx, name, s.Update[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", UpdateTimeout)
		}
		return true, fmt.Errorf("%w: %s: %v\n%s", ErrTrustUpdate, strings.Join(s.Update, " "), err, tail(out, 2000))
	}
	return true, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
