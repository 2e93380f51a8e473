package platform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
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

// TrustStore is the OS trust store of p: the anchor folder (under --root)
// and its update command. Windows stores come with the Windows issue.
type TrustStore struct {
	TrustLayout
	p *Platform
}

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
