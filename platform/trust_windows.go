//go:build windows

package platform

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// windowsStores is the LocalMachine Root (trust anchors) and CA
// (intermediates) system stores, as every program on the machine (the
// connector's node, through its Windows store reading) sees them.
type windowsStores struct {
	root, ca string
	record   importRecord
	location uint32 // CERT_SYSTEM_STORE_LOCAL_MACHINE
}

func (p *Platform) windowsCertStore() (CertStore, error) {
	return &windowsStores{root: "Root", ca: "CA", location: windows.CERT_SYSTEM_STORE_LOCAL_MACHINE,
		record: importRecord{path: filepath.Join(p.Paths.StateDir, "trusted-cas.txt")}}, nil
}

func (w *windowsStores) Describe() string { return `the LocalMachine Root and CA certificate stores` }

// UpdateCommand is nil: the stores take a change at once.
func (w *windowsStores) UpdateCommand() []string { return nil }

// RunUpdate has nothing to run.
func (w *windowsStores) RunUpdate(context.Context) (bool, error) { return false, nil }

func (w *windowsStores) label(name string) string { return `LocalMachine\` + name }

const certEncoding = windows.X509_ASN_ENCODING | windows.PKCS_7_ASN_ENCODING

func (w *windowsStores) open(name string, readOnly bool) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return 0, err
	}
	flags := w.location
	if readOnly {
		flags |= windows.CERT_STORE_READONLY_FLAG | windows.CERT_STORE_OPEN_EXISTING_FLAG
	}
	h, err := windows.CertOpenStore(windows.CERT_STORE_PROV_SYSTEM, 0, 0, flags, uintptr(unsafe.Pointer(p)))
	if err != nil {
		return 0, fmt.Errorf("open the %s certificate store: %w", w.label(name), err)
	}
	return h, nil
}

// each calls f for every certificate of store name; f returning true
// stops. The context passed is valid during the call only.
func (w *windowsStores) each(h windows.Handle, f func(ctx *windows.CertContext, der []byte) (stop bool, err error)) error {
	var ctx *windows.CertContext
	for {
		next, err := windows.CertEnumCertificatesInStore(h, ctx)
		if next == nil {
			if err != nil && !errors.Is(err, windows.Errno(windows.CRYPT_E_NOT_FOUND)) && !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
				return err
			}
			return nil
		}
		ctx = next
		der := append([]byte(nil), unsafe.Slice(ctx.EncodedCert, ctx.Length)...)
		stop, ferr := f(ctx, der)
		if stop || ferr != nil {
			_ = windows.CertFreeCertificateContext(ctx)
			return ferr
		}
	}
}

func (w *windowsStores) list(name string) ([]StoredCert, error) {
	h, err := w.open(name, true)
	if err != nil {
		return nil, err
	}
	defer windows.CertCloseStore(h, 0)
	var out []StoredCert
	err = w.each(h, func(_ *windows.CertContext, der []byte) (bool, error) {
		out = append(out, StoredCert{DER: der, Store: w.label(name), SHA256: CertSHA256(der)})
		return false, nil
	})
	return out, err
}

func (w *windowsStores) All() ([]StoredCert, error) {
	var out []StoredCert
	for _, n := range []string{w.root, w.ca} {
		l, err := w.list(n)
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	return out, nil
}

func (w *windowsStores) Imported() ([]StoredCert, error) {
	ours, err := w.record.read()
	if err != nil {
		return nil, err
	}
	if len(ours) == 0 {
		return nil, nil
	}
	all, err := w.All()
	if err != nil {
		return nil, err
	}
	var out []StoredCert
	for _, c := range all {
		if ours[c.SHA256] {
			out = append(out, c)
		}
	}
	return out, nil
}

func (w *windowsStores) Add(der []byte, root bool) (bool, string, error) {
	name := w.ca
	if root {
		name = w.root
	}
	fp := CertSHA256(der)
	h, err := w.open(name, false)
	if err != nil {
		return false, w.label(name), err
	}
	defer windows.CertCloseStore(h, 0)
	present := false
	if err := w.each(h, func(_ *windows.CertContext, d []byte) (bool, error) {
		present = CertSHA256(d) == fp
		return present, nil
	}); err != nil {
		return false, w.label(name), err
	}
	if !present {
		ctx, err := windows.CertCreateCertificateContext(certEncoding, &der[0], uint32(len(der)))
		if err != nil {
			return false, w.label(name), fmt.Errorf("parse the certificate for %s: %w", w.label(name), err)
		}
		// USE_EXISTING: a copy another process added meanwhile is kept,
		// never duplicated.
		err = windows.CertAddCertificateContextToStore(h, ctx, windows.CERT_STORE_ADD_USE_EXISTING, nil)
		_ = windows.CertFreeCertificateContext(ctx)
		if err == nil {
			_ = commitStore(h)
		}
		if err != nil {
			return false, w.label(name), fmt.Errorf("add the certificate to %s: %w", w.label(name), err)
		}
		if err := w.record.update(func(m map[string]bool) { m[fp] = true }); err != nil {
			return true, w.label(name), fmt.Errorf("added to %s, but recording it in %s failed: %w", w.label(name), w.record.path, err)
		}
	}
	return !present, w.label(name), nil
}

func (w *windowsStores) Remove(fp string) ([]string, error) {
	var where []string
	for _, name := range []string{w.root, w.ca} {
		h, err := w.open(name, false)
		if err != nil {
			return where, err
		}
		// Count the copies by SHA-256, then delete each through
		// CertFindCertificateInStore by its SHA-1 (a context found that
		// way deletes from the system store; deleting while enumerating
		// loops forever under Wine).
		var sha1sum []byte
		copies := 0
		err = w.each(h, func(_ *windows.CertContext, der []byte) (bool, error) {
			if CertSHA256(der) == fp {
				s := sha1.Sum(der)
				sha1sum = s[:]
				copies++
			}
			return false, nil
		})
		for i := 0; err == nil && i < copies; i++ {
			blob := windows.CryptHashBlob{Size: uint32(len(sha1sum)), Data: &sha1sum[0]}
			ctx, ferr := windows.CertFindCertificateInStore(h, certEncoding, 0, windows.CERT_FIND_SHA1_HASH, unsafe.Pointer(&blob), nil)
			if ctx == nil {
				if ferr != nil && !errors.Is(ferr, windows.Errno(windows.CRYPT_E_NOT_FOUND)) {
					err = fmt.Errorf("find %s in %s: %w", fp, w.label(name), ferr)
				}
				break
			}
			// Delete frees the context it is given, even on failure.
			if derr := windows.CertDeleteCertificateFromStore(ctx); derr != nil {
				err = fmt.Errorf("remove %s from %s: %w", fp, w.label(name), derr)
				break
			}
			if i == 0 {
				where = append(where, w.label(name))
			}
		}
		if copies > 0 {
			// Wine's registry store writes deletions only on a commit
			// (or a close it may never reach); Windows writes at once
			// and answers the commit too.
			_ = commitStore(h)
		}
		windows.CertCloseStore(h, 0)
		if err != nil {
			return where, err
		}
	}
	// Check through fresh handles, as the connector will see the stores.
	all, err := w.All()
	if err != nil {
		return where, err
	}
	for _, c := range all {
		if c.SHA256 == fp {
			return where, fmt.Errorf("%s is still in %s after its removal", fp, c.Store)
		}
	}
	if err := w.record.update(func(m map[string]bool) { delete(m, fp) }); err != nil {
		return where, err
	}
	return where, nil
}

var procCertControlStore = windows.NewLazySystemDLL("crypt32.dll").NewProc("CertControlStore")

const certStoreCtrlCommit = 3 // CERT_STORE_CTRL_COMMIT

// commitStore asks the store to write its changes now.
func commitStore(h windows.Handle) error {
	r, _, err := procCertControlStore.Call(uintptr(h), 0, certStoreCtrlCommit, 0)
	if r == 0 {
		return err
	}
	return nil
}

var _ CertStore = (*windowsStores)(nil)
