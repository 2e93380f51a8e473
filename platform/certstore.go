package platform

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// CertStore is the OS trust store certs imports into: Windows' LocalMachine
// Root and CA stores, which hold the certificates themselves, or on Linux
// a TrustStore, the distro's anchor folder rebuilt into the store by its
// update command. Changes take effect after RunUpdate (Windows: at once).
type CertStore interface {
	// Describe names the store for messages.
	Describe() string
	// Add puts the DER certificate into the root store (root) or the
	// intermediate store (one folder holds both on Linux); added is false
	// when it was there already (nothing is added twice). where names the
	// store or the file.
	Add(der []byte, root bool) (added bool, where string, err error)
	// Imported returns the certificates adldapctl added that are still
	// in the stores.
	Imported() ([]StoredCert, error)
	// All returns every certificate of the stores (on Linux the anchor
	// folder and the bundle its update command generates).
	All() ([]StoredCert, error)
	// Remove deletes every copy of the certificate with this SHA-256 (hex)
	// adldapctl added, and returns the stores or files it was in.
	Remove(sha256 string) (where []string, err error)
	// UpdateCommand is the command that makes changes effective, to run
	// once after them; nil when there is none (Windows).
	UpdateCommand() []string
	// RunUpdate runs it on the host; ran is false when there is none and
	// under --root, where the caller reports it instead.
	RunUpdate(ctx context.Context) (ran bool, err error)
}

// StoredCert is a certificate found in a CertStore.
type StoredCert struct {
	DER    []byte
	Store  string // e.g. LocalMachine\Root, or the file that holds it
	SHA256 string // lower-case hex
}

// CertStore returns the host's trust store: Windows' LocalMachine Root
// and CA, elsewhere the TrustStore (anchor folder, under --root). Under
// --root on Windows it returns ErrNotSupported: the stores are not files a
// folder can hold, and adldapctl never touches the host's stores for a
// --root run.
func (p *Platform) CertStore() (CertStore, error) {
	if p.OS != "windows" {
		return p.TrustStore()
	}
	if p.Sandboxed() {
		return nil, fmt.Errorf("%w: --root on Windows: the LocalMachine certificate stores are not files, and a --root run never changes the host's stores; run without --root on the Windows host", ErrNotSupported)
	}
	return p.windowsCertStore()
}

// CertSHA256 is the lower-case hex SHA-256 of a DER certificate.
func CertSHA256(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// importRecord is the list of SHA-256 fingerprints adldapctl added to a
// CertStore (one a line, sorted), so `certs list` and `certs remove` touch
// only what adldapctl put there.
type importRecord struct{ path string }

const maxRecord = 1 << 20

func (r importRecord) read() (map[string]bool, error) {
	data, err := os.ReadFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	if len(data) > maxRecord {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a record adldapctl wrote; remove it", r.path, maxRecord)
	}
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.ToLower(strings.TrimSpace(sc.Text()))
		if len(line) == 64 {
			if _, err := hex.DecodeString(line); err == nil {
				out[line] = true
			}
		}
	}
	return out, nil
}

func (r importRecord) write(set map[string]bool) error {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\n")
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		return err
	}
	return WriteFileAtomicMode(r.path, []byte(b.String()), 0o644)
}

func (r importRecord) update(f func(map[string]bool)) error {
	set, err := r.read()
	if err != nil {
		return err
	}
	f(set)
	return r.write(set)
}
